"""Profiling a tiny space with the real onnxruntime backend, resume after interruption, Core ML export,
CSV import, and the backend contract."""

from __future__ import annotations

import csv
import json

import pytest

from nas import testing
from nas.convert import INPUT_NAME
from nas.latency.backends import TimingPolicy, get_backend
from nas.latency.host import host_fingerprint
from nas.latency.predict import predict_latency
from nas.latency.profile import ProfileError, export_blocks, import_csv, profile_space
from nas.latency.table import read_table
from nas.space_members import block_specs

FAST = TimingPolicy(warmup_runs=1, warmup_s=0.0, min_runs=3, max_runs=20, budget_s=0.005)


@pytest.fixture(scope="module")
def tiny_space(tmp_path_factory):
    return testing.tiny_space(tmp_path_factory.mktemp("space"))


@pytest.fixture(scope="module")
def tiny_table(tiny_space, tmp_path_factory):
    path = tmp_path_factory.mktemp("tables") / "tiny-ort.json"
    return profile_space(tiny_space, device="tiny-ort", path=path, policy=FAST, calibration_networks=2)


def test_profile_measures_every_key_of_the_space(tiny_space, tiny_table):
    keys = block_specs(tiny_space)
    assert set(tiny_table.entries) == set(keys) and len(keys) == 18
    assert all(e["raw_ms"] > 0 and e["runs"] >= 3 and e["ms"] >= 0 for e in tiny_table.entries.values())
    prov = tiny_table.provenance
    assert prov["complete"] and prov["statistic"] == "median" and prov["keys_total"] == 18
    assert prov["call_overhead_ms"] > 0 and len(prov["calibration"]["measured_ms"]) == 2
    assert prov["fingerprint"] == host_fingerprint("onnxruntime", threads=1).to_dict()
    assert tiny_table.network_overhead_ms >= prov["call_overhead_ms"]
    back = read_table(tiny_table.path)  # what was saved is what was returned
    assert back.hash == tiny_table.hash and back.runtime_version == get_backend("onnxruntime").runtime_version()
    for params in tiny_space.enumerate():
        assert predict_latency(tiny_space.config_from_params(params), back).total_ms > 0


def test_interrupted_profile_keeps_partial_table_and_resumes(tiny_space, tmp_path):
    path = tmp_path / "resume.json"
    seen: list[str] = []

    def interrupt_after_five(done: int, total: int, key: str) -> None:
        seen.append(key)
        if len(seen) == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        profile_space(tiny_space, device="resume", path=path, policy=FAST, save_every=100,
                      progress=interrupt_after_five)
    partial = read_table(path)
    assert set(partial.entries) == set(seen) and not partial.provenance["complete"]
    first = {k: dict(v) for k, v in partial.entries.items()}
    resumed: list[str] = []
    table = profile_space(tiny_space, device="resume", path=path, policy=FAST, calibration_networks=1,
                          progress=lambda done, total, key: resumed.append(key))
    assert len(resumed) == 18 - 5 and not set(resumed) & set(seen)
    assert len(table.entries) == 18 and table.provenance["complete"]
    assert all(table.entries[k]["raw_ms"] == first[k]["raw_ms"] for k in first)


def test_resume_refuses_a_table_made_with_other_settings(tiny_space, tiny_table):
    with pytest.raises(ProfileError, match="threads=1"):
        profile_space(tiny_space, device="tiny-ort", path=tiny_table.path, threads=2, policy=FAST)


def test_coreml_export_of_a_few_blocks_and_csv_import(tiny_space, tmp_path):
    pytest.importorskip("coremltools")
    out = tmp_path / "export"
    manifest = export_blocks(tiny_space, runtime="coreml", out_dir=out, device="myphone", limit=2)
    assert len(manifest["blocks"]) == 2
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk["runtime"] == "coreml" and on_disk["blocks"][0]["input_shape"][0] == 1
    for block in on_disk["blocks"]:
        assert (out / block["file"]).is_dir() and block["file"].endswith(".mlpackage")
        assert (out / block["file"] / "Manifest.json").exists()
        import coremltools as ct

        spec = ct.utils.load_spec(str(out / block["file"]))
        assert spec.description.input[0].name == INPUT_NAME == on_disk["blocks"][0]["input_name"]
    csv_path = tmp_path / "timings.csv"
    with csv_path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["key", "ms"])
        for i, block in enumerate(on_disk["blocks"]):
            writer.writerow([block["key"], 0.5 + i])
    table = import_csv(csv_path, device="myphone", runtime="coreml", space=tiny_space,
                       path=tmp_path / "myphone.json", manifest=out / "manifest.json")
    back = read_table(tmp_path / "myphone.json")
    assert back.method == "measured" and back.provenance["source"] == "user-provided"
    assert back.ms(on_disk["blocks"][1]["key"]) == 1.5 and back.provenance["keys_missing"] == 16
    assert table.runtime_version == on_disk["runtime_version"]


def test_csv_import_rejects_bad_rows(tiny_space, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("key,ms\nstem_conv|3x64x64|x,-1\n")
    with pytest.raises(ProfileError, match=r"bad.csv:2: ms '-1'"):
        import_csv(bad, device="d", runtime="coreml", space=tiny_space, path=tmp_path / "d.json")



def test_kind_scale_fit_recovers_known_scales():
    import numpy as np

    from nas.latency.profile import fit_kind_scales

    rng = np.random.default_rng(0)
    x = rng.uniform(1, 50, size=(20, 3))
    y = x @ np.array([0.9, 1.1, 1.0]) + 0.8
    fit = fit_kind_scales(x.tolist(), y.tolist(), ["conv", "attn", "pool"])
    assert fit["scales"]["conv"] == pytest.approx(0.9, abs=0.01)
    assert fit["scales"]["attn"] == pytest.approx(1.1, abs=0.01)
    assert fit["c0_ms"] == pytest.approx(0.8, abs=0.1)
    assert fit["mape_loo"] < 1.0 < fit["mape_before"]
