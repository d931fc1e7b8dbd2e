"""Latency table files: round trip, validation errors (one line naming the file), search order."""

from __future__ import annotations

import json
import os

import pytest

from nas.errors import UnknownNameError
from nas.latency.table import (
    LatencyTable,
    MissingKeysError,
    TableError,
    find_tables,
    load_table,
    read_table,
    save_table,
)


def make_table(device: str = "dev", **entries: float) -> LatencyTable:
    return LatencyTable(device=device, runtime="onnxruntime", method="measured", resolution=64, threads=1,
                        provenance={"date": "2025-01-01", "statistic": "median"},
                        entries={k: {"ms": v} for k, v in (entries or {"a|1": 1.5}).items()})


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("NAS_TABLES_DIR", raising=False)


def test_round_trip_keeps_content_and_hash(tmp_path):
    table = make_table(**{"mhsa|197x192|x": 0.25, "head|192|y": 0.01})
    path = save_table(table, tmp_path / "dev.json")
    back = read_table(path)
    assert back.to_dict() == table.to_dict()
    assert back.hash == table.hash and len(back.hash) == 12
    assert back.ms("head|192|y") == pytest.approx(0.01)
    assert not list(tmp_path.glob(".*tmp"))  # atomic write leaves no temp file
    assert os.stat(path).st_mode & 0o044  # readable by others, like any data file


def test_hash_changes_with_an_entry(tmp_path):
    a, b = make_table(**{"k": 1.0}), make_table(**{"k": 1.001})
    assert a.hash != b.hash


def _doc() -> dict:
    return make_table().to_dict()


BAD_FILES = {
    "truncated": (lambda p: p.write_text(json.dumps(_doc())[:40]), "not valid JSON"),
    "empty": (lambda p: p.write_text(""), "empty file"),
    "schema": (lambda p: p.write_text(json.dumps({**_doc(), "schema": 2})), "schema version 2"),
    "nan": (lambda p: p.write_text(json.dumps(_doc()).replace("1.5", "NaN")), "invalid ms"),
    "negative": (lambda p: p.write_text(json.dumps({**_doc(), "entries": {"a|1": {"ms": -0.2}}})), "invalid ms"),
    "missing": (lambda p: p.write_text(json.dumps({k: v for k, v in _doc().items() if k != "entries"})),
                "missing field(s): entries"),
    "method": (lambda p: p.write_text(json.dumps({**_doc(), "method": "guessed"})), "method 'guessed'"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_invalid_files_name_file_and_problem(tmp_path, case):
    write, problem = BAD_FILES[case]
    path = tmp_path / "dev.json"
    write(path)
    with pytest.raises(TableError) as err:
        load_table("dev", tmp_path)
    msg = str(err.value)
    assert str(path) in msg and problem in msg and "\n" not in msg


def test_unknown_device_lists_tables_found(tmp_path):
    save_table(make_table("alpha"), tmp_path / "alpha.json")
    save_table(make_table("beta"), tmp_path / "beta.json")
    with pytest.raises(UnknownNameError) as err:
        load_table("gamma", tmp_path)
    assert "gamma" in str(err.value) and "alpha" in str(err.value) and "beta" in str(err.value)


def test_search_order_tables_dir_then_env_then_user_dir(tmp_path, monkeypatch):
    first, env, user = tmp_path / "first", tmp_path / "env", tmp_path / "config" / "nas" / "latency_tables"
    save_table(make_table("dev", k=1.0), first / "dev.json")
    save_table(make_table("dev", k=2.0), env / "dev.json")
    save_table(make_table("dev", k=3.0), user / "dev.json")
    save_table(make_table("mine", k=4.0), user / "mine.json")
    monkeypatch.setenv("NAS_TABLES_DIR", str(env))
    assert load_table("dev", first).ms("k") == 1.0
    assert load_table("dev").ms("k") == 2.0
    assert load_table("mine").ms("k") == 4.0
    found = find_tables(first)
    assert found["dev"] == first / "dev.json" and found["mine"] == user / "mine.json"
    assert load_table(str(user / "dev.json")).ms("k") == 3.0  # a path works as a device too


def test_file_named_for_another_device_is_rejected(tmp_path):
    save_table(make_table("other"), tmp_path / "dev.json")
    with pytest.raises(TableError, match="says device 'other'"):
        load_table("dev", tmp_path)


def test_missing_key_names_key_and_command():
    table = make_table()
    with pytest.raises(MissingKeysError) as err:
        table.ms("mhsa|197x192|nope")
    msg = str(err.value)
    assert "1 block key" in msg and "mhsa|197x192|nope" in msg
    assert "nas profile --device dev --runtime onnxruntime --threads 1" in msg
