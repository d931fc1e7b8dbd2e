"""Pick the architecture to export: a trial of a run folder, a config JSON, or a preset name."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.config import ArchConfig
from nas.errors import UsageError
from nas.report.run import NoFeasibleTrialError, Run, UnknownTrialError, load_run

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

    In a run folder, ``trial`` picks a completed trial by number, ``pick`` a point of the Pareto front
    within the budget (``best``: highest proxy accuracy, ``fastest``: lowest predicted latency);
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
        points = run.feasible_points()
        if not points:
            budget = f"{run.budget_ms:g} ms" if run.budget_ms is not None else "its budget"
            raise NoFeasibleTrialError(
                f"run '{run.path}' has no trial within {budget} on {run.device}; search again with a larger "
                f"--budget or more trials"
            )
        if pick == "best":
            point = max(points, key=lambda p: (p.get("accuracy") or float("-inf"), -p["latency_ms"]))
        else:
            point = min(points, key=lambda p: (p["latency_ms"], -(p.get("accuracy") or 0.0)))
        trial = int(point["trial"])
    elif run.row(trial) is None and run.point(trial) is None:
        known = sorted(r.trial for r in run.trials)
        span = f"{known[0]}..{known[-1]}" if known else "(none)"
        raise UnknownTrialError(f"run '{run.path}' has no trial {trial}; its trials are {span}")
    run_cfg = run.config(trial)
    cfg = _at(run_cfg, resolution)
    sel = Selection(cfg=cfg, source="run", ref=str(run.path), trial=trial)
    point, row = run.point(trial), run.row(trial)
    sel.info["source"] = {"run": str(run.path), "trial": trial, "space": run.meta.get("space"),
                          "study": run.meta.get("study"), "pareto": point is not None}
    accuracy = (point or {}).get("accuracy", row.accuracy if row else None)
    if accuracy is not None:
        sel.info["accuracy"] = {"value": accuracy, "proxy": run.meta.get("proxy")}
    latency_ms = (point or {}).get("latency_ms", row.latency_ms if row else None)
    if device is not None and (device != run.device or cfg != run_cfg):
        sel.info.update(predict_info(cfg, device))
    elif cfg != run_cfg:
        sel.info["latency_note"] = (f"the run priced trial {trial} at resolution {run_cfg.resolution}, "
                                    f"not {cfg.resolution}; give --device to predict it")
    elif latency_ms is not None:
        sel.info["latency"] = {"ms": latency_ms, "device": run.device, "method": run.method,
                               "table_hash": run.table_hash, "budget_ms": run.budget_ms}
    else:
        sel.info["latency_note"] = f"the run recorded no latency for trial {trial}"
    params = run.optuna_params(trial)
    sel.info["optuna_params"] = params
    if params and run.meta.get("space"):
        sel.info["replay_check"] = _replay_check(run, params, run_cfg)
    return sel


def _replay_check(run: Run, params: dict[str, Any], cfg: ArchConfig) -> str:
    """Say whether the stored Optuna params rebuild ``cfg`` in the run's space."""
    from nas.errors import NasError
    from nas.space import load_space

    name = run.meta["space"]
    refs = [run.path / "space.yaml", run.meta.get("space_path"), name]  # a copy, the file, the shipped name
    ref = next((r for r in refs if r and (not isinstance(r, Path) or r.is_file())), name)
    try:
        replayed = load_space(ref).config_from_params(params)
    except NasError as exc:
        return f"Optuna params not replayed: {exc}"
    same = replayed.replace(resolution=cfg.resolution) == cfg
    verdict = "rebuild the identical ArchConfig" if same else "rebuild a DIFFERENT ArchConfig (space edited?)"
    return f"Optuna params replayed through space '{name}' {verdict}"


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
