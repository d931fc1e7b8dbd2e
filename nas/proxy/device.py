"""Where the training proxy runs: ``auto`` (CUDA, then MPS, then CPU), ``cpu``, ``cuda[:N]`` or ``mps``."""

from __future__ import annotations

import torch

from nas.errors import UsageError

TRAIN_DEVICES = ("auto", "cpu", "cuda", "mps")


class DeviceError(UsageError):
    """A train device that is unknown or not present on this machine."""


def available_train_devices() -> list[str]:
    """The devices present here, in the order ``auto`` prefers them (CPU always last)."""
    found = [f"cuda:{i}" if torch.cuda.device_count() > 1 else "cuda"
             for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if _mps_available():
        found.append("mps")
    return [*found, "cpu"]


def resolve_train_device(name: str | None = "auto") -> torch.device:
    """The torch device for ``name`` (None means ``auto``).

    Raises:
        DeviceError: an unknown name, or a device this machine does not have; names what is available.
    """
    name = (name or "auto").strip().lower()
    kind, _, index = name.partition(":")
    if kind not in TRAIN_DEVICES or (index and (kind != "cuda" or not index.isdigit())):
        raise DeviceError(f"unknown train device '{name}'; known: {', '.join(TRAIN_DEVICES)}, cuda:N "
                          f"(available here: {', '.join(available_train_devices())})")
    if kind == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu")
    if kind == "cuda" and (not torch.cuda.is_available() or int(index or 0) >= torch.cuda.device_count()):
        raise DeviceError(f"train device '{name}' is not available here; available: "
                          f"{', '.join(available_train_devices())}")
    if kind == "mps" and not _mps_available():
        raise DeviceError(f"train device 'mps' is not available here; available: "
                          f"{', '.join(available_train_devices())}")
    return torch.device(name)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())
