"""Host fingerprints: a measured table says when this machine is not the one it was timed on."""

from __future__ import annotations

import json

import pytest

from nas.latency.host import HostFingerprint, host_fingerprint, host_notice, host_status, table_fingerprint
from nas.latency.table import LatencyTable, save_table
from nas.testing.cli import run_cli


def measured(device: str = "box", **provenance) -> LatencyTable:
    return LatencyTable(device=device, runtime="onnxruntime", method="measured", resolution=64, threads=1,
                        runtime_version="1.0", provenance={"statistic": "median", **provenance},
                        entries={"a|1": {"ms": 1.0}})


def test_a_table_timed_here_matches_this_host():
    table = measured(fingerprint=host_fingerprint("onnxruntime", threads=1).to_dict())
    assert host_status(table) == "same" and host_notice(table) is None


def test_another_cpu_is_named_with_the_commands_that_check_and_adapt():
    theirs = {**host_fingerprint("onnxruntime", threads=1).to_dict(), "cpu_model": "Some Other CPU @ 2.1GHz"}
    table = measured(fingerprint=theirs)
    notice = host_notice(table)
    assert host_status(table) == "differs"
    assert "was measured on another machine" in notice and "CPU Some Other CPU @ 2.1GHz there" in notice
    assert "nas latency check --device box" in notice
    assert "nas latency calibrate --device box --as NAME" in notice
    assert "\n" not in notice


def test_a_table_from_before_fingerprints_says_what_it_does_not_know():
    here = host_fingerprint("onnxruntime", threads=1)
    table = measured(machine=f"{here.machine} something")  # what old profiles recorded
    table.runtime_version = here.runtime_version
    fp = table_fingerprint(table)
    assert fp.cpu_model is None and fp.machine == here.machine and fp.runtime == "onnxruntime"
    assert host_status(table) == "unknown"
    assert "may have been measured on another machine" in host_notice(table)
    assert "its CPU, cores and OS were not recorded" in host_notice(table)
    table.runtime_version = "0.0.1"  # a known field that differs makes it another machine
    assert host_status(table) == "differs" and "onnxruntime 0.0.1 there" in host_notice(table)


@pytest.mark.parametrize("kind", ["estimated", "phone", "csv-calibrated"])
def test_tables_of_remote_devices_have_no_host_to_compare(kind):
    table = measured()
    if kind == "estimated":
        table.method, table.runtime = "estimated", "coreml"
    elif kind == "phone":
        table.runtime, table.provenance["source"] = "coreml", "user-provided"
    else:
        table.method = "calibrated"
    assert host_status(table) == "n/a" and host_notice(table) is None


def test_devices_json_reports_the_host_status_and_notice(tmp_path):
    other = {**host_fingerprint("onnxruntime", threads=1).to_dict(), "cores": 4096}
    save_table(measured("far", fingerprint=other), tmp_path / "far.json")
    save_table(measured("near", fingerprint=host_fingerprint("onnxruntime", threads=1).to_dict()),
               tmp_path / "near.json")
    result = run_cli(["devices", "--tables", str(tmp_path), "--json"])
    rows = {r["device"]: r for r in json.loads(result.stdout)["devices"]}
    assert rows["far"]["host_status"] == "differs" and "cores 4096 there" in rows["far"]["host_notice"]
    assert "--tables" in rows["far"]["host_notice"]  # the commands find the table where it is
    assert rows["near"]["host_status"] == "same" and rows["near"]["host_notice"] is None
    text = run_cli(["devices", "--tables", str(tmp_path)]).stdout
    assert "other host" in text and "note: latency table 'far' was measured on another machine" in text


def test_a_fingerprint_is_stored_as_before_and_reads_back_the_same():
    here = host_fingerprint("onnxruntime", threads=1)
    record = here.to_dict()
    # the keys, in their order, of the records in tables written before this type existed: old and new files agree
    assert list(record) == ["cpu_model", "cores", "machine", "system", "runtime", "runtime_version", "threads"]
    assert HostFingerprint.from_dict(record) == here
    assert json.dumps(HostFingerprint.from_dict(json.loads(json.dumps(record))).to_dict()) == json.dumps(record)
    partial = HostFingerprint.from_dict({"machine": here.machine, "later_field": 1})
    assert partial.machine == here.machine and partial.cpu_model is None and "later_field" not in partial.to_dict()
