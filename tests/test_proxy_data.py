"""Dataset loaders on small data written in the real formats, transforms, and the bad inputs."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from nas.errors import UnknownNameError, UsageError
from nas.proxy import DataError, load_dataset
from nas.proxy.transforms import random_crop, random_hflip


def write_cifar(root, *, n_per_batch=40, batches=2, with_test=True, seed=0):
    """A CIFAR-10 python folder: data_batch_i / test_batch ({b"data", b"labels"}) and batches.meta."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i + 1}" for i in range(batches)] + (["test_batch"] if with_test else [])
    for name in names:
        labels = [int(v) for v in rng.integers(0, 10, n_per_batch)]
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        data[:, :1024] = np.asarray(labels, dtype=np.uint8)[:, None] * 20  # red channel encodes the class
        with open(root / name, "wb") as fh:
            pickle.dump({b"batch_label": name.encode(), b"labels": labels, b"data": data,
                         b"filenames": [b"x.png"] * n_per_batch}, fh, protocol=2)
    with open(root / "batches.meta", "wb") as fh:
        pickle.dump({b"label_names": [f"c{i}".encode() for i in range(10)], b"num_cases_per_batch": n_per_batch,
                     b"num_vis": 3072}, fh, protocol=2)
    return root


def write_tree(root, classes=("cat", "dog"), per_class=5, size=(20, 14)):
    for k, cls in enumerate(classes):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            arr = np.full((size[1], size[0], 3), 40 + 100 * k + i, dtype=np.uint8)
            Image.fromarray(arr).save(root / cls / f"{i}.{'png' if i % 2 else 'jpg'}")
    return root


def test_digits_default_is_real_upsampled_and_split_by_seed():
    d = load_dataset()
    assert d.name == "digits" and d.num_classes == 10 and d.classes[3] == "3"
    assert d.train_x.shape[1:] == (3, 32, 32) and d.train_x.dtype == torch.uint8
    assert len(d.train_y) + len(d.val_y) == 1797 and len(d.val_y) == pytest.approx(1797 * 0.2, abs=10)
    assert set(d.val_y.tolist()) == set(range(10))  # stratified
    assert not d.hflip
    again, other = load_dataset("digits", seed=0), load_dataset("digits", seed=1)
    assert torch.equal(d.val_x, again.val_x) and not torch.equal(d.val_x, other.val_x)
    x = d.normalize(d.train_x).transpose(0, 1).reshape(3, -1)
    assert x.mean(1).abs().max() < 1e-3 and (x.std(1) - 1).abs().max() < 1e-3  # stats from the train split


def test_cifar10_folder_reads_pickles_names_and_test_split(tmp_path):
    root = write_cifar(tmp_path / "cifar-10-batches-py")
    d = load_dataset(f"cifar10:{root}", seed=0, val_fraction=0.25)
    assert d.classes == tuple(f"c{i}" for i in range(10))
    assert len(d.train_y) + len(d.val_y) == 80 and d.test_x.shape == (40, 3, 32, 32)
    # CHW order kept: the red plane carries label * 20
    assert torch.equal(d.train_x[:, 0, 0, 0].long(), d.train_y * 20)
    assert torch.equal(load_dataset(f"cifar10:{tmp_path}", val_fraction=0.25).train_x, d.train_x)  # parent dir


def test_image_folder_tree_reads_pillow_images(tmp_path):
    root = write_tree(tmp_path / "tree", per_class=5)
    d = load_dataset(f"folder:{root}", image_size=16)
    assert d.classes == ("cat", "dog") and d.train_x.shape[1:] == (3, 16, 16)
    assert len(d.train_y) + len(d.val_y) == 10 and set(d.val_y.tolist()) == {0, 1}
    dog = d.train_x[d.train_y == 1][:, 0, 0, 0]
    assert (dog >= 140).all()  # pixel values come from the files


@pytest.mark.parametrize("case", ["missing", "empty", "file", "no_batches", "bad_keys", "not_pickle",
                                  "bad_shape"])
def test_bad_cifar_inputs_name_the_path(tmp_path, case):
    root = tmp_path / "c"
    if case == "empty":
        root.mkdir()
    elif case == "file":
        root.write_text("x")
    elif case == "no_batches":
        root.mkdir()
        (root / "readme.txt").write_text("hello")
    elif case != "missing":
        write_cifar(root)
        target = root / "data_batch_1"
        if case == "bad_keys":
            target.write_bytes(pickle.dumps({b"images": [], b"labels": []}))
        elif case == "not_pickle":
            target.write_text("this is not a pickle")
        else:
            target.write_bytes(pickle.dumps({b"data": np.zeros((4, 100), np.uint8), b"labels": [0, 1, 2, 3]}))
    with pytest.raises(DataError) as err:
        load_dataset(f"cifar10:{root}")
    assert str(root) in str(err.value) and "\n" not in str(err.value)
    assert isinstance(err.value, UsageError)


def test_folder_with_one_class_or_no_images_or_unreadable_image(tmp_path):
    one = write_tree(tmp_path / "one", classes=("only",))
    with pytest.raises(DataError, match="at least two"):
        load_dataset(f"folder:{one}")
    (tmp_path / "noimg" / "a").mkdir(parents=True)
    (tmp_path / "noimg" / "a" / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="no images"):
        load_dataset(f"folder:{tmp_path / 'noimg'}")
    bad = write_tree(tmp_path / "bad")
    (bad / "dog" / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError, match="broken.png: unreadable image"):
        load_dataset(f"folder:{bad}")


def test_cifar_with_a_single_class_is_refused(tmp_path):
    root = tmp_path / "c"
    root.mkdir()
    with open(root / "data_batch_1", "wb") as fh:
        pickle.dump({b"data": np.zeros((6, 3072), np.uint8), b"labels": [4] * 6}, fh)
    with pytest.raises(DataError, match="at least two"):
        load_dataset(f"cifar10:{root}")


def test_unknown_kind_and_missing_dir():
    with pytest.raises(UnknownNameError, match="imagenet"):
        load_dataset("imagenet:/x")
    with pytest.raises(DataError, match="cifar10:DIR"):
        load_dataset("cifar10")


def test_subset_is_stratified_and_seeded():
    d = load_dataset()
    s = d.subset(max_train=200, max_val=50, seed=3)
    assert len(s.train_y) == 200 and len(s.val_y) == 50 and set(s.train_y.tolist()) == set(range(10))
    assert torch.equal(s.train_x, d.subset(max_train=200, max_val=50, seed=3).train_x)


def test_crop_and_flip_keep_shapes_and_move_pixels():
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    g = torch.Generator().manual_seed(0)
    crops = [random_crop(x, padding=2, generator=g) for _ in range(8)]
    assert all(c.shape == x.shape for c in crops)
    assert any(not torch.equal(c, x) for c in crops)
    # every crop is a window of the zero-padded image: its non-zero values appear in the original in order
    c = crops[0][0, 0]
    assert torch.isin(c[c != 0], x[0, 0]).all()
    flips = random_hflip(x, generator=torch.Generator().manual_seed(1), p=1.0)
    assert torch.equal(flips, x.flip(-1))
    assert torch.equal(random_hflip(x, generator=g, p=0.0), x)
