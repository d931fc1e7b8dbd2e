"""Pick the architecture to export: a trial of a run folder, a config JSON, or a preset name."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.config import ArchConfig
from nas.errors import UsageError
from nas.run import NoFeasibleTrialError, Run, UnknownTrialError, describe_numbers, load_run

PICKS = ("best", "fastest")


@dataclass
class Selection:
    """The chosen architecture and what is known about it (for the JSON export)."""

    cfg: ArchConfig
    source: str  # "run", "config" or "preset"
    ref: str
    trial: int | None = None
    info: dict[str, Any] = field(default_factory=dict)


def select_arch(
    ref: str | Path,
    *,
    trial: int | None = None,
    pick: str | None = None,
    device: str | None = None,
    resolution: int | None = None,
) -> Selection:
    """Resolve ``ref`` (run folder, config JSON path or preset name) to the architecture to export.

    In a run folder, ``trial`` picks a scored trial by number, ``pick`` a point of the Pareto front
    within the budget (``best``: highest proxy score, ``fastest``: lowest predicted latency);
    without either, ``best``. ``device`` prices a config or preset with that device's latency table.
    ``resolution`` changes the input size (a run's recorded latency is then dropped, or re-predicted
    with ``device``).

    Raises:
        NotARunError, UnknownTrialError, NoFeasibleTrialError, UsageError, ConfigError, UnknownNameError.
    """
    if trial is not None and pick is not None:
        raise UsageError("give either --trial or --pick, not both")
    path = Path(ref)
    if path.is_dir():
        return _from_run(load_run(path), trial=trial, pick=pick, device=device, resolution=resolution)
    if trial is not None or pick is not None:
        raise UsageError(f"--trial/--pick choose inside a run folder; '{ref}' is not a folder")
    if path.is_file() or str(ref).endswith(".json"):
        sel = Selection(cfg=_at(ArchConfig.load(path), resolution), source="config", ref=str(ref))
        sel.info["source"] = {"config": str(ref)}
    else:
        from nas.models.presets import get_preset

        sel = Selection(cfg=_at(get_preset(str(ref)), resolution), source="preset", ref=str(ref))
        sel.info["source"] = {"preset": str(ref)}
    sel.info.update(predict_info(sel.cfg, device))
    return sel


def _at(cfg: ArchConfig, resolution: int | None) -> ArchConfig:
    return cfg if resolution is None or resolution == cfg.resolution else cfg.replace(resolution=resolution)


def _from_run(
    run: Run, *, trial: int | None, pick: str | None, device: str | None, resolution: int | None
) -> Selection:
    if trial is None:
        pick = pick or "best"
        if pick not in PICKS:
            raise UsageError(f"unknown --pick '{pick}'; known: {', '.join(PICKS)}")
        front = run.front()
        if not front:
            raise NoFeasibleTrialError(
                f"run '{run.path}' has no trial within {run.budget_ms:g} ms on {run.device}; search again with a "
                "larger --budget or more trials"
            )
        if pick == "best":
            record = max(front, key=lambda r: (r.score, -r.latency_ms))  # type: ignore[operator]
        else:
            record = min(front, key=lambda r: (r.latency_ms, -r.score))  # type: ignore[operator]
    else:
        found = run.record(trial)
        if found is None or not found.scored:
            what = "no trial" if found is None else f"not scored trial ({found.reason or found.state.lower()})"
            raise UnknownTrialError(f"run '{run.path}' has {what} {trial}; its scored trials are "
                                    f"{describe_numbers(run.scored_trials())}")
        record = found
    run_cfg = run.config(record.trial)
    cfg = _at(run_cfg, resolution)
    sel = Selection(cfg=cfg, source="run", ref=str(run.path), trial=record.trial)
    on_front = any(r.trial == record.trial for r in run.front())
    sel.info["source"] = {"run": str(run.path), "trial": record.trial, "space": run.meta.space,
                          "study": run.meta.study, "pareto": on_front}
    metric = run.meta.metric
    sel.info["score"] = {"value": record.score, "metric": metric.name, "kind": metric.kind, "proxy": run.meta.proxy,
                         "rung": record.rung, "steps": record.steps}
    if metric.is_accuracy:
        sel.info["accuracy"] = {"value": record.score, "proxy": run.meta.proxy}
    if device is not None and (device != run.device or cfg != run_cfg):
        sel.info.update(predict_info(cfg, device))
    elif cfg != run_cfg:
        sel.info["latency_note"] = (f"the run priced trial {record.trial} at resolution {run_cfg.resolution}, "
                                    f"not {cfg.resolution}; give --device to predict it")
    elif record.latency_ms is not None:
        sel.info["latency"] = {"ms": record.latency_ms, "device": run.device, "method": run.method,
                               "table_hash": run.table_hash, "budget_ms": run.budget_ms}
    else:
        sel.info["latency_note"] = f"the run recorded no latency for trial {record.trial}"
    params = record.optuna_params or None
    sel.info["optuna_params"] = params
    if params:
        sel.info["replay_check"] = _replay_check(run, params, run_cfg)
    return sel


def _replay_check(run: Run, params: dict[str, Any], cfg: ArchConfig) -> str:
    """Say whether the stored Optuna params rebuild ``cfg`` in the run's space."""
    from nas.errors import NasError

    try:
        replayed = run.space().config_from_params(params)
    except NasError as exc:
        return f"Optuna params not replayed: {exc}"
    same = replayed.replace(resolution=cfg.resolution) == cfg
    verdict = "rebuild the identical ArchConfig" if same else "rebuild a DIFFERENT ArchConfig (space edited?)"
    return f"Optuna params replayed through space '{run.meta.space}' {verdict}"


def predict_info(cfg: ArchConfig, device: str | None) -> dict[str, Any]:
    """Predicted latency fields for the JSON export (a note instead when they cannot be had)."""
    if device is None:
        return {"latency_note": "no --device given"}
    try:
        from nas.latency.predict import predict_latency
        from nas.latency.table import load_table
    except ImportError as exc:
        return {"latency_note": f"latency module not available ({exc})"}
    table = load_table(device)
    pred = predict_latency(cfg, table)
    return {"latency": {"ms": pred.total_ms, "device": table.device, "method": pred.method,
                        "table_hash": table.hash}}
