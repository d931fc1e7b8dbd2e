"""Image datasets for the accuracy proxies: an embedded default, CIFAR-10 python folders, image trees.

A dataset spec is ``KIND`` or ``KIND:PATH``:

- ``digits`` (default): scikit-learn's bundled handwritten digits (1,797 real 8x8 grey images, 10 classes),
  upsampled to 3 x 32 x 32. Shipped with scikit-learn, so it works offline; a demo signal, far easier than
  the images a mobile network is deployed on.
- ``cifar10:DIR``: the standard CIFAR-10 "python version" folder (``data_batch_*``, ``test_batch``,
  ``batches.meta``), or a folder that holds ``cifar-10-batches-py/``.
- ``folder:DIR``: an ImageFolder-style tree, one sub-folder per class, images read with Pillow.

Images are kept as uint8 (N, C, H, W); the train/validation split is stratified and fixed by the seed, and
the normalisation statistics come from the training split only.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nas.errors import UsageError
from nas.registry import Registry

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm")


class DataError(UsageError):
    """A dataset cannot be read: the message names the path and the problem."""


@dataclass(frozen=True)
class Dataset:
    """A labelled image dataset split into train / validation (and the source's own test split if any).

    Attributes:
        name: the spec it was loaded from (``digits``, ``cifar10:/path``...).
        classes: class names, index = label.
        train_x, val_x, test_x: uint8 images (N, C, H, W); ``test_x`` None if the source has no test split.
        train_y, val_y, test_y: int64 labels (N,).
        mean, std: per-channel statistics of the training split, on the [0, 1] scale.
        hflip: whether horizontal flips are a label-preserving augmentation (False for digits).
    """

    name: str
    classes: tuple[str, ...]
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]
    hflip: bool = True
    test_x: torch.Tensor | None = None
    test_y: torch.Tensor | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_size(self) -> int:
        return int(self.train_x.shape[-1])

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (B, C, H, W) -> float32 normalised with the training split's statistics (on x's device)."""
        mean = torch.tensor(self.mean, dtype=torch.float32, device=x.device)[:, None, None]
        std = torch.tensor(self.std, dtype=torch.float32, device=x.device)[:, None, None]
        return (x.float() / 255.0 - mean) / std

    def subset(self, *, max_train: int | None = None, max_val: int | None = None, seed: int = 0) -> Dataset:
        """The same dataset with at most ``max_train`` / ``max_val`` images (stratified, fixed by seed)."""
        tx, ty = _take(self.train_x, self.train_y, max_train, seed)
        vx, vy = _take(self.val_x, self.val_y, max_val, seed + 1)
        return Dataset(self.name, self.classes, tx, ty, vx, vy, self.mean, self.std, self.hflip,
                       self.test_x, self.test_y)


# ----------------------------------------------------------------------------- loaders
# kind -> fn(path, image_size) -> (x uint8 (N, C, S, S), y int64 (N,), class names, (test_x, test_y) or None)
LOADERS: Registry[Callable[[str, int], tuple]] = Registry("dataset kind")


def load_dataset(spec: str = "digits", *, seed: int = 0, val_fraction: float = 0.2,
                 image_size: int = 32) -> Dataset:
    """Load the dataset named by ``spec`` (``digits``, ``cifar10:DIR``, ``folder:DIR``).

    Args:
        spec: dataset spec; see the module docstring.
        seed: fixes the stratified train/validation split.
        val_fraction: share of each class held out for validation.
        image_size: side of the square images the folder loader resizes to (digits are upsampled to it;
            CIFAR-10 stays 32).

    Raises:
        DataError: the data is missing, empty, malformed, unreadable or has fewer than two classes.
        UnknownNameError: the spec's kind is not a known loader.
    """
    kind, _, path = spec.partition(":")
    loader = LOADERS[kind]  # an unknown kind raises UnknownNameError, listing the known ones
    if kind != "digits" and not path:
        raise DataError(f"dataset '{kind}' needs a folder: --data {kind}:DIR")
    x, y, classes, test = loader(path, image_size)
    if len(classes) < 2 or len(np.unique(y)) < 2:
        raise DataError(f"{path or spec}: found {len(np.unique(y))} class(es); "
                        "a classifier needs at least two")
    train_idx, val_idx = _stratified_split(y, val_fraction, seed)
    train_x = torch.from_numpy(np.ascontiguousarray(x[train_idx]))
    flat = train_x.float().div(255.0).transpose(0, 1).reshape(train_x.shape[1], -1)  # (C, N*H*W)
    mean = tuple(float(v) for v in flat.mean(1))
    std = tuple(max(float(v), 1e-3) for v in flat.std(1))
    test_x = test_y = None
    if test is not None:
        test_x, test_y = torch.from_numpy(test[0]), torch.from_numpy(test[1].astype(np.int64))
    return Dataset(
        name=spec, classes=tuple(classes),
        train_x=train_x, train_y=torch.from_numpy(y[train_idx].astype(np.int64)),
        val_x=torch.from_numpy(np.ascontiguousarray(x[val_idx])),
        val_y=torch.from_numpy(y[val_idx].astype(np.int64)),
        mean=mean, std=std, hflip=kind != "digits", test_x=test_x, test_y=test_y,
    )


@LOADERS.register("digits")
def _load_digits(path: str, image_size: int) -> tuple:
    """scikit-learn's bundled 8x8 digits (values 0..16), upsampled bilinearly to image_size, grey -> RGB."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    img = torch.from_numpy(bunch.images.astype(np.float32) / 16.0)[:, None]  # (N, 1, 8, 8)
    img = torch.nn.functional.interpolate(img, size=(image_size, image_size), mode="bilinear",
                                          align_corners=False)
    img = (img.clamp(0, 1) * 255).round().to(torch.uint8).expand(-1, 3, -1, -1)  # (N, 3, S, S)
    classes = tuple(str(int(c)) for c in bunch.target_names)
    return img.contiguous().numpy(), bunch.target.astype(np.int64), classes, None


@LOADERS.register("cifar10")
def _load_cifar10(path: str, image_size: int) -> tuple:
    root = _existing_dir(path)
    if not list(root.glob("data_batch_*")) and (root / "cifar-10-batches-py").is_dir():
        root = root / "cifar-10-batches-py"
    batches = sorted(root.glob("data_batch_*"))
    if not batches:
        raise DataError(f"{root}: no data_batch_* files; not a CIFAR-10 python folder")
    xs, ys = zip(*(_read_cifar_batch(b) for b in batches), strict=True)
    classes: tuple[str, ...] = tuple(str(i) for i in range(10))
    meta = root / "batches.meta"
    if meta.exists():
        names = _unpickle(meta).get(b"label_names")
        if names is None:
            raise DataError(f"{meta}: no b'label_names' key; not a CIFAR-10 batches.meta")
        classes = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    test = _read_cifar_batch(root / "test_batch") if (root / "test_batch").exists() else None
    return np.concatenate(xs), np.concatenate(ys), classes, test


@LOADERS.register("folder")
def _load_folder(path: str, image_size: int) -> tuple:
    from PIL import Image, UnidentifiedImageError

    root = _existing_dir(path)
    class_dirs = sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    files = {d.name: sorted(f for f in d.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
             for d in class_dirs}
    files = {k: v for k, v in files.items() if v}
    if not files:
        raise DataError(f"{root}: no images found (expected one sub-folder of images per class)")
    if len(files) < 2:
        raise DataError(f"{root}: images for {len(files)} class ('{next(iter(files))}') only; "
                        "a classifier needs at least two class sub-folders")
    xs, ys = [], []
    for label, paths in enumerate(files.values()):
        for f in paths:
            try:
                with Image.open(f) as im:
                    im = im.convert("RGB").resize((image_size, image_size), Image.BILINEAR)
                    xs.append(np.asarray(im, dtype=np.uint8).transpose(2, 0, 1))  # (3, S, S)
            except (UnidentifiedImageError, OSError, ValueError) as exc:
                raise DataError(f"{f}: unreadable image ({type(exc).__name__})") from None
            ys.append(label)
    return np.stack(xs), np.asarray(ys, dtype=np.int64), tuple(files), None


# ----------------------------------------------------------------------------- helpers
def _existing_dir(path: str) -> Path:
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"{root}: no such folder")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder")
    if not any(root.iterdir()):
        raise DataError(f"{root}: the folder is empty")
    return root


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as fh:
            obj = pickle.load(fh, encoding="bytes")
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not this format"
        raise DataError(f"{path}: not a CIFAR-10 pickle ({type(exc).__name__})") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: not a CIFAR-10 pickle (holds a {type(obj).__name__}, expected a dict)")
    return obj


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    d = _unpickle(path)
    if b"data" not in d or b"labels" not in d:
        raise DataError(f"{path}: missing key b'data' or b'labels'; not a CIFAR-10 batch")
    data = np.asarray(d[b"data"], dtype=np.uint8)
    labels = np.asarray(d[b"labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DataError(f"{path}: data has shape {data.shape} with {len(labels)} labels; "
                        "expected (N, 3072) uint8 and N labels")
    return data.reshape(-1, 3, 32, 32), labels


def _stratified_split(y: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_val = int(round(len(idx) * val_fraction))
        if len(idx) >= 2:
            n_val = min(max(n_val, 1), len(idx) - 1)
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(val))


def _take(x: torch.Tensor, y: torch.Tensor, n: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    if n is None or n >= len(y):
        return x, y
    frac = n / len(y)
    first, rest = _stratified_split(y.numpy(), 1.0 - frac, seed)
    idx = np.concatenate([first, rest])[:n]  # ~n stratified, topped up to exactly n
    return x[idx], y[idx]
