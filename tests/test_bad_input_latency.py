"""Bad input to the latency commands: one line naming the file, row or table, the right exit code, nothing else.

The timings CSVs and tables are written into a temporary folder; ``{dir}`` in a case's argv is that folder.
"""

from __future__ import annotations

import json

import pytest

from nas.resources import data_dir
from nas.testing.cli import assert_one_line_error, run_cli

CSVS = {
    "no-latency.csv": "arch,ms\ndeit-tiny,30\n",
    "unknown-arch.csv": "arch,latency_ms\ndeit-tiny,30\nno-such-net,12\n",
    "negative.csv": "arch,latency_ms\ndeit-tiny,-1\n",
    "zero.csv": "arch,latency_ms\ndeit-tiny,0\n",
    "not-a-number.csv": "arch,latency_ms\ndeit-tiny,30\nmobilevit-xxs,12ms\n",
    "infinite.csv": "arch,latency_ms\ndeit-tiny,inf\n",
    "two-networks.csv": "arch,latency_ms,resolution\ndeit-tiny,30,224\nmobilevit-xxs,12,224\n",
    "at-256.csv": "arch,latency_ms\ndeit-tiny,30\nmobilevit-xxs,12\n",
    "bad-resolution.csv": "arch,latency_ms,resolution\ndeit-tiny,30,225\n",
    "coreml-timings.csv": "arch,latency_ms,runtime\ndeit-tiny,3.1,coreml\n",
    "empty.csv": "arch,latency_ms\n",
    "extra-fields.csv": "arch,latency_ms\ndeit-tiny,100,3,4\n",
    "bom.csv": "\ufeffarch,latency_ms\ndeit-tiny,30\n",
    # 5,120 ViTs of one block each, 5,360 block keys (5,147 that iphone12 lacks): beyond `nas tables fit`'s limit
    # of 5,000 without --force
    "wide.yaml": "name: wide\nresolution: 224\nfamilies:\n  vit:\n    embed_dim: [" + ", ".join(
        str(64 * i) for i in range(1, 17)) + "]\n    head_dim: [32, 64]\n    depth: 1\n    mlp_ratio: [2.0, 3.0, 4.0, "
        "5.0]\n    patch_size: [8, 14, 16, 28, 32]\n    act: [gelu, relu, hardswish, silu]\n    norm: [layernorm, "
        "batchnorm]\n",
}

TIMINGS = ["latency", "calibrate", "--device", "x86-2core-ort", "--as", "t", "--tables", "{dir}", "--timings"]
CASES = [
    # timings CSVs (calibrate reads them; nothing is timed)
    ([*TIMINGS, "{dir}/no-latency.csv"], 2, "no 'latency_ms' column (header: arch,ms)"),
    ([*TIMINGS, "{dir}/unknown-arch.csv"], 2, "row 3 (no-such-net): arch 'no-such-net' is neither a preset"),
    ([*TIMINGS, "{dir}/negative.csv"], 2, "row 2 (deit-tiny): latency_ms -1 must be a finite number of ms"),
    ([*TIMINGS, "{dir}/zero.csv"], 2, "row 2 (deit-tiny): latency_ms 0 must be"),
    ([*TIMINGS, "{dir}/not-a-number.csv"], 2, "row 3 (mobilevit-xxs): latency_ms '12ms' is not a number"),
    ([*TIMINGS, "{dir}/infinite.csv"], 2, "row 2 (deit-tiny): latency_ms inf must be a finite number"),
    ([*TIMINGS, "{dir}/two-networks.csv"], 2, "2 network(s) cannot fit"),
    ([*TIMINGS, "{dir}/at-256.csv"], 2, "row 3 (mobilevit-xxs): table 'x86-2core-ort' lacks 11 of its block keys"),
    ([*TIMINGS, "{dir}/bad-resolution.csv"], 2, "row 2 (deit-tiny): field 'resolution': 225 is not divisible"),
    ([*TIMINGS, "{dir}/coreml-timings.csv"], 2,
     "row 2 (deit-tiny): timed with runtime 'coreml', but base table 'x86-2core-ort' is onnxruntime"),
    ([*TIMINGS, "{dir}/empty.csv"], 2, "no timings"),
    ([*TIMINGS, "{dir}/extra-fields.csv"], 2, "row 2: 4 fields, but the header names 2 (arch,latency_ms)"),
    ([*TIMINGS, "{dir}/bom.csv"], 2, "1 network(s) cannot fit"),  # the BOM is read: the header is found
    ([*TIMINGS, "{dir}/missing.csv"], 2, "cannot read"),
    # calibrate settings
    (["latency", "calibrate", "--device", "iphone12", "--as", "t", "--tables", "{dir}"], 2,
     "base table 'iphone12' is a coreml table, which cannot be timed on this machine"),
    (["latency", "calibrate", "--device", "x86-2core-ort", "--as", "x86-2core-ort", "--tables", "{dir}"], 2,
     "is the base table's name"),
    (["latency", "calibrate", "--device", "x86-2core-ort", "--as", "../x", "--tables", "{dir}"], 2,
     "must be a plain table name"),
    (["latency", "calibrate", "--device", "x86-2core-ort", "--as", "inf", "--tables", "{dir}", "--timings",
      "{dir}/two-networks.csv"], 2, "inf.json exists (an unreadable table): pass --force"),
    (["latency", "calibrate", "--device", "x86-2core-ort", "--as", "t", "--networks", "8", "--timings",
      "{dir}/two-networks.csv"], 2, "--networks sets how many networks to time here"),
    (["latency", "calibrate", "--device", "no-such-table", "--as", "t"], 2, "unknown device"),
    # --export writes only a set --timings accepts (issue 21)
    (["latency", "calibrate", "--device", "iphone12", "--as", "t", "--tables", "{dir}", "--networks", "3",
      "--export", "{dir}/to-time"], 2, "--networks 3 is too few: the networks of space 'hybrid-vit' are dominated by "
                                       "7 block kinds on 'iphone12'"),
    (["latency", "check", "--device", "iphone12"], 2, "cannot be timed on this machine"),
    # tables themselves (issue 12)
    (["latency", "predict", "deit-tiny", "--device", "inf", "--tables", "{dir}"], 1,
     "has invalid ms Infinity (must be a finite number >= 0)"),
    (["latency", "predict", "deit-tiny", "--device", "partial", "--tables", "{dir}"], 1,
     "is incomplete: it lacks 1,135 of the 1,320 block keys of space 'hybrid-vit'"),
    (["latency", "measure", "deit-tiny", "no-such-net"], 2, "unknown preset 'no-such-net'"),
    # measured tables stay strict and name the command that measures only what is missing (issue 14)
    (["latency", "predict", "mobilevit-s", "--device", "x86-2core-ort"], 1,
     "--space hybrid-vit --resolution 256 --only-missing"),
    (["profile", "--device", "iphone12", "--space", "hybrid-vit", "--resolution", "256", "--only-missing"], 1,
     "table 'iphone12' is estimated: its cost model prices missing keys itself"),
    (["tables", "fit", "--device", "x86-2core-ort", "--space", "hybrid-vit", "--resolution", "256"], 2,
     "carries no cost model"),
    (["tables", "fit", "--device", "iphone12", "--resolution", "256", "--out", "x.json"], 2,
     "--out applies to a refit"),
    # nas tables fit --timings and the shipped folder (issues 19, 21)
    (["tables", "fit", "--timings", "{dir}/two-networks.csv"], 2, "--timings FILE.csv and --as NAME go together"),
    (["tables", "fit", "--as", "t"], 2, "--timings FILE.csv and --as NAME go together"),
    (["tables", "fit", "--timings", "{dir}/two-networks.csv", "--as", "t", "--device", "iphone12"], 2,
     "--device and --out apply to a refit"),
    (["tables", "fit", "--timings", "{dir}/two-networks.csv", "--as", "t", "--tables", "{dir}"], 2,
     "2 network(s) cannot fit the cost model's 7 terms"),
    (["tables", "fit", "--timings", "{dir}/unknown-arch.csv", "--as", "t", "--tables", "{dir}"], 2,
     "arch 'no-such-net' is neither a preset"),
    (["tables", "fit", "--timings", "{dir}/two-networks.csv", "--as", "x86-2core-ort"], 2,
     "is a table shipped with nas of that name"),
    (["tables", "fit", "--runtime", "tflite"], 2, "--runtime applies to --timings"),
    (["tables", "fit"], 2, "a table shipped with nas: pass --force to rewrite it, or --out FILE"),
    (["tables", "fit", "--space", "{dir}/wide.yaml"], 2, "block keys to price, more than the limit of 5,000"),
    (["tables", "show", "--device", "x86-2core-ort"], 2, "is measured: `nas tables show` shows estimated tables"),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Timings CSVs, an incomplete table (185 of 1,320 keys) and a table with an Infinity entry."""
    root = tmp_path_factory.mktemp("bad-latency")
    for name, text in CSVS.items():
        (root / name).write_text(text, encoding="utf-8")
    shipped = json.loads((data_dir("latency_tables") / "x86-2core-ort.json").read_text())
    kept = list(shipped["entries"])[:185]
    partial = {**shipped, "device": "partial", "entries": {k: shipped["entries"][k] for k in kept},
               "provenance": {**shipped["provenance"], "complete": False}}
    (root / "partial.json").write_text(json.dumps(partial))
    broken = {**partial, "device": "inf"}
    text = json.dumps(broken).replace(json.dumps(shipped["entries"][kept[0]]), '{"ms": Infinity}', 1)
    (root / "inf.json").write_text(text)
    return root


@pytest.mark.parametrize(("argv", "code", "phrase"), CASES, ids=[" ".join(c[0][:4]) + f" {i}"
                                                                  for i, c in enumerate(CASES)])
def test_bad_input_is_one_line(folder, argv: list[str], code: int, phrase: str) -> None:
    assert_one_line_error(run_cli([a.replace("{dir}", str(folder)) for a in argv]), code, phrase)


def test_devices_marks_an_incomplete_table(folder):
    rows = {r["device"]: r for r in json.loads(run_cli(["devices", "--tables", str(folder), "--json"]).stdout)
            ["devices"]}
    assert rows["partial"]["complete"] is False and rows["partial"]["keys_total"] == 1320
    assert rows["partial"]["entries"] == 185 and rows["x86-2core-ort"]["complete"] is True
    assert "Infinity" in rows["inf"]["error"]
    text = run_cli(["devices", "--tables", str(folder)]).stdout
    assert "185/1,320 incomplete" in text
