"""The one atomic file writer: a crash or a full disk never leaves half a file under the final name."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` through a temporary file and a rename.

    The temporary file sits in the same folder (so the rename is atomic), is flushed to disk before
    the rename, gets the permissions a plain ``open`` would give (``0o666`` less the umask), and is
    removed if anything fails. Missing parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; these are normal, shareable files
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, obj: Any, *, indent: int | None = 2, **dumps_options: Any) -> Path:
    """Atomically write ``obj`` as JSON (with a final newline); ``dumps_options`` go to ``json.dumps``."""
    return write_atomic(path, json.dumps(obj, indent=indent, **dumps_options) + "\n")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
