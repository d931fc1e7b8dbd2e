"""FIXTURE run folder for the report and export tests (not a product of `nas search`).

It follows the run-folder contract (see nas/report/run.py) with a REAL Optuna study in SQLite whose
trials sample the real default space and whose params/MACs are real counts of the built networks
(at 64 x 64 to stay fast). What is FAKE, and marked so in run.json: the latency (a deterministic
function of MACs, not a latency table) and the accuracy (a deterministic function of the params,
not a proxy). Used until a small real search is fast enough to run in the tests.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

FIXTURE_RESOLUTION = 64
PRESETS = ("mobilevit-xxs", "deit-tiny", "efficientformer-l1")


def fake_latency_ms(macs: int) -> float:
    """FAKE latency: 1 ms per 20 M MACs at 64 x 64 plus 0.5 ms."""
    return round(0.5 + macs / 20e6, 4)


def fake_accuracy(params: int, trial: int) -> float:
    """FAKE accuracy: grows with log(params), a deterministic wobble per trial."""
    return round(0.2 + 0.08 * math.log10(params) + 0.01 * ((trial * 7919) % 5), 4)


def _stats(cfg: Any) -> tuple[int, int]:
    from nas.models.builder import build_model
    from nas.models.stats import count_macs, count_params

    model = build_model(cfg, resolution=FIXTURE_RESOLUTION)
    return count_params(model), count_macs(model, (1, 3, FIXTURE_RESOLUTION, FIXTURE_RESOLUTION))


def summary(cfg: Any) -> str:
    return " > ".join(f"{s.depth}x{s.mixer.kind}{s.channels}" for s in cfg.stages)


_CACHE: dict[str, Path] = {}


def cached_fixture_run(tmp_path_factory: Any) -> Path:
    """One FIXTURE run per test session (shared by the report and export test modules)."""
    if "run" not in _CACHE:
        _CACHE["run"] = make_fixture_run(tmp_path_factory.mktemp("fixture-run"))
    return _CACHE["run"]


def make_fixture_run(path: Path, *, n_trials: int = 8, budget_ms: float = 6.0, seed: int = 0) -> Path:
    """Write a FIXTURE run folder at ``path`` and return it."""
    import optuna

    from nas.space import load_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path.mkdir(parents=True, exist_ok=True)
    (path / "configs").mkdir(exist_ok=True)
    space = load_space("hybrid-vit")
    storage = f"sqlite:///{path / 'study.db'}"
    study = optuna.create_study(study_name="fixture", storage=storage, directions=["maximize", "minimize"],
                                sampler=optuna.samplers.RandomSampler(seed=seed))
    preset_of = {json.dumps(space.preset_params(p), sort_keys=True): p for p in PRESETS}
    study.enqueue_trial(space.preset_params("mobilevit-xxs"))
    rows: list[dict[str, Any]] = []
    records: dict[int, dict[str, Any]] = {}

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        cfg = space.sample(trial)
        params, macs = _stats(cfg)
        latency_ms, accuracy = fake_latency_ms(macs), fake_accuracy(params, trial.number)
        trial.set_user_attr("feasible", latency_ms <= budget_ms)
        (path / "configs" / f"{trial.number}.json").write_text(cfg.to_json(indent=2))
        records[trial.number] = {"cfg": cfg, "params": params, "macs": macs, "latency_ms": latency_ms,
                                 "accuracy": accuracy,
                                 "preset": preset_of.get(json.dumps(trial.params, sort_keys=True), "")}
        return accuracy, latency_ms

    study.optimize(objective, n_trials=n_trials)
    for t in study.trials:
        r = records[t.number]
        rows.append({"trial": t.number, "state": t.state.name, "feasible": r["latency_ms"] <= budget_ms,
                     "accuracy": r["accuracy"], "latency_ms": r["latency_ms"], "params": r["params"],
                     "macs": r["macs"], "preset": r["preset"], "reason": "", "seconds": 0.1})
    with (path / "trials.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    front = pareto_front([r for r in rows if r["feasible"]])
    points = [{"trial": r["trial"], "accuracy": r["accuracy"], "latency_ms": r["latency_ms"],
               "params": r["params"], "macs": r["macs"], "preset": r["preset"] or None,
               "summary": summary(records[r["trial"]]["cfg"]),
               "optuna_params": study.trials[r["trial"]].params,
               "config": records[r["trial"]]["cfg"].to_dict()} for r in front]
    table = {"device": "fixture-device", "runtime": "fake", "method": "estimated", "hash": "fixture000000"}
    (path / "pareto.json").write_text(json.dumps(
        {"device": "fixture-device", "budget_ms": budget_ms, "method": "estimated", "table_hash": table["hash"],
         "proxy": "fake", "points": points}, indent=2))
    presets = []
    for name in PRESETS:
        from nas.models.presets import get_preset

        params, macs = _stats(get_preset(name))
        trial = next((r["trial"] for r in rows if r["preset"] == name), None)
        presets.append({"name": name, "latency_ms": fake_latency_ms(macs), "params": params, "macs": macs,
                        "accuracy": None if trial is None else records[trial]["accuracy"], "trial": trial})
    (path / "presets.json").write_text(json.dumps(presets, indent=2))
    (path / "run.json").write_text(json.dumps({
        "argv": ["FIXTURE: tests/report_fixture.py"], "versions": {"optuna": optuna.__version__}, "seed": seed,
        "device": "fixture-device", "budget_ms": budget_ms, "space": "hybrid-vit",
        "proxy": "FAKE accuracy = f(params)", "data": None, "sampler": "random", "storage": storage,
        "study": "fixture", "table": table, "created": "2025-01-01T00:00:00", "fixture": True,
    }, indent=2))
    return path


def pareto_front(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows no other row beats on both accuracy (up) and latency (down), fastest first."""
    front = [r for r in rows if not any(
        o["accuracy"] >= r["accuracy"] and o["latency_ms"] <= r["latency_ms"]
        and (o["accuracy"], o["latency_ms"]) != (r["accuracy"], r["latency_ms"]) for o in rows)]
    return sorted(front, key=lambda r: r["latency_ms"])
