"""Tables that cannot be corrupted (issue 21): the guarded writer through the real `nas` entry point.

Every refused case hashes every shipped table and an existing user table before and after: nothing changes.
The timings are the shipped x86 table's own predictions times a factor (an honest target a calibration
explains), then spoiled the ways a user's CSV goes wrong.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from nas.latency.predict import predict_latency
from nas.latency.store import MIN_NETWORK_MS, TableWriteError, floor_problems, user_table_path, write_user_table
from nas.latency.table import load_table, read_table, save_table
from nas.models.presets import PRESETS
from nas.resources import data_dir
from nas.testing.cli import assert_one_line_error, run_cli

NETWORKS = ("deit-tiny", "mobilevit-xxs", "mobilevit-xs", "mobilevitv2-0.5", "mobilevitv2-1.0", "efficientformer-l1",
            "litv2-s", "deit-small")
BASE = "x86-2core-ort"


def honest_times(factor: float = 1.3) -> dict[str, float]:
    """What a target ``factor`` times slower than the base table would measure (with a little noise)."""
    base = load_table(BASE)
    return {name: round(factor * predict_latency(PRESETS[name].config.replace(resolution=224), base,
                                                 extend=False).total_ms * (1 + 0.02 * (i % 3 - 1)), 4)
            for i, name in enumerate(NETWORKS)}


def timings_csv(times: dict[str, float] | list[tuple[str, float]]) -> str:
    rows = times.items() if isinstance(times, dict) else times
    return "arch,latency_ms,resolution\n" + "".join(f"{name},{ms!r},224\n" for name, ms in rows)


def spoiled() -> dict[str, str]:
    """The timings CSVs of issue 21's defect 3, each one no honest fit explains."""
    times = honest_times()
    names = list(times)
    return {
        "duplicate.csv": timings_csv([*list(times.items())[1:], ("deit-tiny", 0.5), ("deit-tiny", 7.5)]),
        "huge-half.csv": timings_csv({n: (1e300 if i % 2 else ms) for i, (n, ms) in enumerate(times.items())}),
        "times-1e6.csv": timings_csv({n: ms * 1e6 for n, ms in times.items()}),
        "random.csv": timings_csv(dict(zip(names, (0.001, 20_400.0, 3.0, 0.02, 9_000.0, 0.5, 1_200.0, 0.004)))),
        "tiny.csv": timings_csv(dict.fromkeys(names, 1e-300)),
        "microseconds.csv": timings_csv({n: ms * 1000 for n, ms in times.items()}),
    }


@pytest.fixture()
def folder(tmp_path, monkeypatch):
    """A --tables folder with one user table ('mine', calibrated), the timings CSVs; the user folder isolated."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("NAS_TABLES_DIR", raising=False)
    (tmp_path / "honest.csv").write_text(timings_csv(honest_times()))
    for name, text in spoiled().items():
        (tmp_path / name).write_text(text)
    result = run_cli(["latency", "calibrate", "--device", BASE, "--as", "mine", "--timings",
                      str(tmp_path / "honest.csv"), "--tables", str(tmp_path / "tables")])
    assert result.code == 0, result.stderr
    return tmp_path


def hashes(*folders: Path) -> dict[str, str]:
    """sha256 of every file under ``folders`` (the shipped tables and the user's)."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for f in folders for p in sorted(f.rglob("*"))
            if p.is_file()}


CALIBRATE = ["latency", "calibrate", "--device", BASE, "--tables", "{dir}/tables", "--timings"]
REFUSED = [
    # defect 1: a name that shadows a shipped table
    ([*CALIBRATE, "{dir}/honest.csv", "--as", "iphone12"], "is a table shipped with nas of that name"),
    ([*CALIBRATE, "{dir}/honest.csv", "--as", "iphone12", "--force"], "is a table shipped with nas of that name"),
    # defect 2: an existing user table
    ([*CALIBRATE, "{dir}/honest.csv", "--as", "mine"], "mine.json exists (a calibrated table): pass --force"),
    # defect 3: timings no honest fit explains
    ([*CALIBRATE, "{dir}/duplicate.csv", "--as", "new"], "the same network timed 0.5 and 7.5 ms"),
    ([*CALIBRATE, "{dir}/huge-half.csv", "--as", "new"], "outside the plausible range"),
    ([*CALIBRATE, "{dir}/times-1e6.csv", "--as", "new"], "outside the plausible range 0.01-100x"),
    ([*CALIBRATE, "{dir}/microseconds.csv", "--as", "new"], "times in us instead of ms?"),
    ([*CALIBRATE, "{dir}/random.csv", "--as", "new"], "not written: "),
    ([*CALIBRATE, "{dir}/tiny.csv", "--as", "new"], "not written: "),
]


@pytest.mark.parametrize(("argv", "phrase"), REFUSED, ids=[f"{c[0][-3]}-{c[0][-1]}" if c[0][-1] != "--force"
                                                          else "iphone12-force" for c in REFUSED])
def test_a_refused_table_changes_no_file(folder, argv, phrase):
    shipped = data_dir("latency_tables")
    before = hashes(shipped, folder / "tables", folder / "config")
    result = run_cli([a.replace("{dir}", str(folder)) for a in argv])
    assert_one_line_error(result, 2, phrase)
    assert hashes(shipped, folder / "tables", folder / "config") == before
    assert not (folder / "tables" / "new.json").exists() and not (folder / "config" / "nas").exists()


def test_the_tiny_and_random_timings_fail_on_the_floor_or_the_fit(folder):
    """All times 1e-300 and random times are refused for a stated reason (a scale, the floor or the LOO bound)."""
    for name in ("random.csv", "tiny.csv"):
        result = run_cli([*[a.replace("{dir}", str(folder)) for a in CALIBRATE], str(folder / name), "--as", "new"])
        line = result.stderr.strip().splitlines()[-1]
        assert any(reason in line for reason in ("outside the plausible range", "below the floor",
                                                 "leave-one-out error")), line


def test_force_replaces_a_table_and_writes_a_failing_fit_marked_forced(folder):
    path = folder / "tables" / "mine.json"
    first = read_table(path)
    result = run_cli([*[a.replace("{dir}", str(folder)) for a in CALIBRATE], str(folder / "times-1e6.csv"),
                      "--as", "mine", "--force", "--json"])
    assert result.code == 0, result.stderr
    out = json.loads(result.stdout)
    table = read_table(path)
    assert table.hash == out["hash"] != first.hash
    assert "outside the plausible range" in table.provenance["forced"]["problems"][0]
    assert "written with --force despite" in result.stderr
    rows = {r["device"]: r for r in json.loads(run_cli(["devices", "--tables", str(folder / "tables"),
                                                       "--json"]).stdout)["devices"]}
    assert rows["mine"]["forced"] is True and rows[BASE]["forced"] is False


def test_an_honest_calibration_passes_every_check(folder):
    table = read_table(folder / "tables" / "mine.json")
    assert "forced" not in table.provenance
    assert table.provenance["calibration"]["overall_scale"] == pytest.approx(1.3, rel=0.05)


def test_devices_shows_a_user_copy_of_a_shipped_table(folder):
    user = folder / "config" / "nas" / "latency_tables"
    save_table(load_table(BASE), user / f"{BASE}.json")  # what profile --only-missing leaves there
    result = run_cli(["devices", "--json"])
    rows = {r["device"]: r for r in json.loads(result.stdout)["devices"]}
    assert rows[BASE]["path"] == str(user / f"{BASE}.json")
    assert rows[BASE]["user_copy_of_shipped"] is True and rows[BASE]["hides"] == [
        str(data_dir("latency_tables") / f"{BASE}.json")]
    assert rows["iphone12"]["hides"] == [] and rows["iphone12"]["user_copy_of_shipped"] is False
    text = run_cli(["devices"]).stdout
    assert f"'{BASE}' resolves to" in text and "takes precedence over the table shipped with nas" in text


def test_the_writer_refuses_to_hide_or_be_hidden_by_another_folders_table(folder, monkeypatch):
    env = folder / "env"
    table = load_table(BASE)
    table.device = "shared"
    save_table(table, env / "shared.json")
    monkeypatch.setenv("NAS_TABLES_DIR", str(env))
    with pytest.raises(TableWriteError, match="would be hidden by"):  # user folder comes after $NAS_TABLES_DIR
        write_user_table(table)
    with pytest.raises(TableWriteError, match="would hide"):
        write_user_table(table, tables_dir=folder / "first")
    with pytest.raises(TableWriteError, match="shared.json exists"):  # its own folder: an overwrite
        user_table_path("shared", tables_dir=env)


def test_updating_a_table_may_write_its_copy_over_the_shipped_name(folder):
    table = load_table(BASE)
    path = write_user_table(table, updating=table)
    assert path == folder / "config" / "nas" / "latency_tables" / f"{BASE}.json"
    with pytest.raises(TableWriteError, match="shipped with nas"):
        write_user_table(load_table("iphone12"))


def test_the_floor_names_the_network_priced_near_zero():
    table = load_table(BASE)
    table.entries = {k: {"ms": 0.0} for k in table.entries}
    table.network_overhead_ms = 0.0
    problems = floor_problems(table)
    assert problems and f"below the floor of {MIN_NETWORK_MS} ms" in problems[0]
    assert floor_problems(load_table(BASE)) == []
