"""The one atomic writer: whole files or none, normal permissions, nothing left behind on failure."""

from __future__ import annotations

import json
import os

import pytest

from nas.files import write_atomic, write_json


def test_writes_text_bytes_and_json(tmp_path):
    assert write_atomic(tmp_path / "a" / "t.txt", "héllo").read_text() == "héllo"
    assert write_atomic(tmp_path / "b.bin", b"\x00\x01").read_bytes() == b"\x00\x01"
    path = write_json(tmp_path / "c.json", {"x": [1, 2]})
    assert json.loads(path.read_text()) == {"x": [1, 2]} and path.read_text().endswith("\n")


def test_permissions_follow_the_umask(tmp_path):
    mask = os.umask(0o022)
    try:
        path = write_atomic(tmp_path / "p.txt", "x")
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    path = write_json(tmp_path / "keep.json", {"old": True})
    with pytest.raises(ValueError):
        write_json(path, {"bad": float("nan")}, allow_nan=False)
    with pytest.raises(TypeError):
        write_atomic(path, 12345)  # type: ignore[arg-type]  # fails after the temporary file exists
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["keep.json"]
