"""`nas search` in-process on a tiny real space: what is trained, what is written, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nas.cli import cli
from nas.errors import UnknownNameError, UsageError
from nas.proxy import PROXIES
from nas.proxy.train import TrainProxy
from nas.run import RECORD_ATTR, TrialRecord, load_run
from nas.search import BudgetError, NothingScoredError
from nas.search.storage import NoStudyError, StorageError
from nas.testing.runs import TINY_DEVICE as DEVICE
from nas.testing.runs import write_tiny_setup


class CountingTrain(TrainProxy):
    """The real short-training proxy, remembering every network it starts (or resumes) training."""

    name = "counting-train"
    calls: list[str] = []

    def open(self, cfg, data, **kwargs):
        CountingTrain.calls.append(cfg.to_json())
        return super().open(cfg, data, **kwargs)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_tiny_setup(tmp_path_factory.mktemp("tiny"))


def search(tiny: tuple[Path, Path], out: Path, *args: str):
    space, tables = tiny
    argv = ["search", "--device", DEVICE, "--tables", str(tables), "--space", str(space), "--out", str(out),
            "--json", "--no-report", "--workers", "1", *args]
    result = CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def study_trials(out: Path) -> list:
    import optuna

    meta = json.loads((out / "run.json").read_text())
    return optuna.load_study(study_name=meta["study"], storage=f"sqlite:///{out / 'study.db'}").get_trials()


def test_over_budget_proposals_never_become_trials(tiny, tmp_path: Path, request) -> None:
    from nas.config import ArchConfig
    from nas.latency.predict import predict_latency
    from nas.latency.table import load_table

    PROXIES.register(CountingTrain.name, CountingTrain)
    request.addfinalizer(lambda: PROXIES.unregister(CountingTrain.name))
    CountingTrain.calls.clear()
    out = tmp_path / "run"
    result = search(tiny, out, "--budget", "0.3ms", "--trials", "4", "--proxy", CountingTrain.name,
                    "--proxy-opt", "steps=2", "--proxy-opt", "min_steps=1", "--sampler", "random", "--seed", "1")
    trials = study_trials(out)
    records = [TrialRecord.from_trial(t) for t in trials]
    scored = [r for r in records if r.scored]
    assert result["scored"] == len(scored) == 4 and result["over_budget"] > 0  # rejected by a lookup
    # every network trained is a scored trial's, within the budget; none is trained twice
    table = load_table(DEVICE, tiny[1])
    trained = {ArchConfig.from_json(c).replace(name="").to_json() for c in CountingTrain.calls}
    assert all(predict_latency(ArchConfig.from_json(c), table).total_ms <= 0.3 for c in CountingTrain.calls)
    assert len(trained) == len(scored) == len({r.arch for r in scored}) == len(CountingTrain.calls)
    assert all(r.latency_ms <= 0.3 for r in records) and all(set(t.user_attrs) <= {RECORD_ATTR, "nas_alive"}
                                                            for t in trials)

    # run folder: every file, every point within budget, one csv row and one config per scored trial
    meta = json.loads((out / "run.json").read_text())
    assert meta["budget_ms"] == 0.3 and meta["table"]["device"] == DEVICE and meta["table"]["hash"]
    assert meta["sampler"] == "random" and meta["seed"] == 1 and meta["rungs"] == [1, 2]
    assert meta["metric"] == {"name": "validation top-1", "kind": "accuracy"}
    pareto = json.loads((out / "pareto.json").read_text())
    assert pareto["points"] and all(p["latency_ms"] <= 0.3 for p in pareto["points"])
    assert {p["trial"] for p in pareto["points"]} <= {r.trial for r in scored}
    import optuna

    study = optuna.load_study(study_name=meta["study"], storage=f"sqlite:///{out / 'study.db'}")
    # Optuna's own front of the study has the same points (it keeps every trial of a tied point, we the first)
    assert {tuple(t.values) for t in study.best_trials} == {(p["score"], p["latency_ms"]) for p in pareto["points"]}
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert [int(r["trial"]) for r in rows] == [t.number for t in trials]
    assert load_run(out).records == records  # trials.csv reads back to the study's records
    assert {p.name for p in (out / "configs").iterdir()} == {f"{r.trial}.json" for r in scored}
    assert json.loads((out / "presets.json").read_text()) == []  # the tiny space holds no preset
    assert records[0].origin == "fastest" and records[0].latency_ms == pytest.approx(0.23738)


def test_same_seed_same_trials(tiny, tmp_path: Path) -> None:
    runs = [search(tiny, tmp_path / f"run{i}", "--budget", "0.4ms", "--trials", "3", "--proxy", "train",
                   "--proxy-opt", "steps=2", "--seed", "7") for i in range(2)]
    a, b = (study_trials(tmp_path / f"run{i}") for i in range(2))
    assert [t.params for t in a] == [t.params for t in b]
    assert [t.values for t in a] == [t.values for t in b]  # the train proxy is deterministic for a seed
    fronts = [[{k: v for k, v in p.items() if k not in ("rung_scores",)} for p in run["front"]] for run in runs]
    assert fronts[0] == fronts[1] and fronts[0]


def test_nothing_scored_is_an_error_and_every_failure_is_recorded(tiny, tmp_path: Path) -> None:
    # a huge learning rate makes the real training diverge: every candidate fails with its reason
    space, tables = tiny
    out = tmp_path / "run"
    with pytest.raises(NothingScoredError, match="nothing was scored .*failed candidates"):
        CliRunner().invoke(cli, ["search", "--device", DEVICE, "--tables", str(tables), "--space", str(space),
                                 "--out", str(out), "--no-report", "--workers", "1", "--budget", "0.4ms",
                                 "--trials", "2", "--proxy", "train", "--proxy-opt", "steps=3",
                                 "--proxy-opt", "lr=1e12"], catch_exceptions=False)
    failed = [t for t in study_trials(out) if t.state.name == "FAIL"]
    assert len(failed) >= 10 and all("non-finite" in TrialRecord.from_trial(t).reason for t in failed)
    assert load_run(out).counts().failed == len(failed)


@pytest.mark.parametrize("args, error, text", [
    (["--budget", "5"], BudgetError, "5ms, 5 ms, 500us, 0.005s"),
    (["--budget", "0.1ms"], BudgetError, "0.2374 ms"),
    (["--budget", "1ms", "--sampler", "cmaes"], UnknownNameError, "nsga2, random, tpe"),
    (["--budget", "1ms", "--device", "nosuchdevice"], UnknownNameError, DEVICE),
    (["--budget", "1ms", "--resume"], NoStudyError, "no run to resume"),
    (["--budget", "1ms", "--storage", "postgresql://nas:secret@127.0.0.1:9/nope"], StorageError,
     "postgresql://nas:***@127.0.0.1:9/nope"),
])
def test_bad_input_is_one_line(tiny, tmp_path: Path, args: list[str], error: type, text: str) -> None:
    space, tables = tiny
    argv = ["search", "--device", DEVICE, "--tables", str(tables), "--space", str(space),
            "--out", str(tmp_path / "run"), "--trials", "2", "--workers", "1", *args]
    if "--device" in args:
        argv[1:3] = []
    with pytest.raises(error) as err:
        CliRunner().invoke(cli, argv, catch_exceptions=False)
    assert text in str(err.value) and "\n" not in str(err.value)
    assert issubclass(error, UsageError) or error is StorageError
    assert not (tmp_path / "run").exists()  # a search that cannot start leaves nothing behind


def test_run_folder_keeps_a_copy_of_its_space(tiny, tmp_path: Path) -> None:
    out = tmp_path / "run"
    search(tiny, out, "--budget", "5ms", "--trials", "2", "--proxy", "params", "--sampler", "random")
    meta = json.loads((out / "run.json").read_text())
    assert meta["space_path"] == str(tiny[0])
    assert (out / "space.yaml").read_text() == tiny[0].read_text()
    # the copy, not the original file, replays the trials: export still works once the original is gone
    moved = tiny[0].with_suffix(".moved")
    tiny[0].rename(moved)
    try:
        exported = tmp_path / "best.json"
        result = CliRunner().invoke(cli, ["export", str(out), "--pick", "best", "--format", "json",
                                          "--out", str(exported)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert json.loads(exported.read_text())["optuna_params"]
    finally:
        moved.rename(tiny[0])
