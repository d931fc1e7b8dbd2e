"""The report of a run folder: report.md, pareto.png, pareto.html (and rows for a terminal table)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.config import summarize
from nas.files import write_atomic
from nas.run import Run, TrialRecord, load_run

MD_NAME, PNG_NAME, HTML_NAME = "report.md", "pareto.png", "pareto.html"
PERCENT_PROXY = "top1"  # its score is a predicted top-1 in percent: the front says what each step in size buys


@dataclass
class ReportResult:
    """What ``write_report`` wrote and the rows it showed."""

    run_dir: Path
    markdown: Path
    png: Path
    html: Path
    front: list[dict[str, Any]]  # pareto.json points: trial, score, metric, rung, latency_ms, ..., summary
    presets: list[dict[str, Any]]
    n_trials: int
    n_feasible: int
    budget_ms: float
    device: str
    method: str
    table_hash: str
    metric: dict[str, str]
    rungs: list[int]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir), "markdown": str(self.markdown), "png": str(self.png),
            "html": str(self.html), "device": self.device, "method": self.method, "table_hash": self.table_hash,
            "budget_ms": self.budget_ms, "metric": self.metric, "rungs": self.rungs, "n_trials": self.n_trials,
            "n_feasible": self.n_feasible, "front": self.front, "presets": self.presets, "notes": self.notes,
            "dashboard": dashboard_command_for(self.run_dir),
        }


def dashboard_command_for(run_dir: Path) -> str | None:
    """The optuna-dashboard command that opens the run's study (SQLite storage only)."""
    try:
        url = load_run(run_dir).storage_url()
    except Exception:  # noqa: BLE001 - only a hint
        return None
    return None if url is None else f"optuna-dashboard {url}"


def write_report(run_dir: str | Path) -> ReportResult:
    """Write report.md, pareto.png and pareto.html into ``run_dir`` and return what was shown.

    Raises:
        NotARunError: ``run_dir`` is not a run folder.
        RunFolderError: one of its files cannot be read.
    """
    from nas.report.plots import PlotData, render_html, render_png

    run = load_run(run_dir)
    notes: list[str] = []
    metric = run.meta.metric
    completed = [r for r in run.records if r.state in ("COMPLETE", "FAIL") and r.latency_ms is not None]
    front = [_point(run, r) for r in run.front()]
    if run.meta.proxy == PERCENT_PROXY:
        for point, step in zip(front, size_steps(front), strict=True):
            point["step"] = step
    presets = [p.to_dict(is_accuracy=metric.is_accuracy) for p in run.presets]
    counts = run.counts()
    result = ReportResult(
        run_dir=run.path, markdown=run.path / MD_NAME, png=run.path / PNG_NAME, html=run.path / HTML_NAME,
        front=front, presets=presets, n_trials=counts.trials, n_feasible=counts.feasible, budget_ms=run.budget_ms,
        device=run.device, method=run.method, table_hash=run.table_hash,
        metric={"name": metric.name, "kind": metric.kind}, rungs=list(run.meta.rungs), notes=notes,
    )
    if not front:
        notes.append(f"no trial within {run.budget_ms:g} ms: search again with a larger --budget or more trials")
    notes += _latency_notes(run, front)
    notes += _saturation_notes(front)
    notes += _alike_notes(run)
    plot = PlotData(
        trials=completed, feasible=[run.feasible(r) for r in completed], front=front, presets=presets,
        budget_ms=run.budget_ms, method=run.method, title=f"{run.path.name}: {run.device}, budget {_ms(run.budget_ms)}",
        score_label=metric.label, rungs=list(run.meta.rungs) or [max((r.steps or 0 for r in completed), default=0)])
    write_atomic(result.png, render_png(plot))
    write_atomic(result.html, render_html(plot))
    write_atomic(result.markdown, _markdown(run, result))
    return result


def _latency_notes(run: Run, front: list[dict[str, Any]]) -> list[str]:
    """What the reader of the front must know about its latencies: points outside the table's evidence, points
    measured over the budget."""
    notes = []
    outside = [p for p in front if p.get("latency_outside")]
    if outside:
        axes = sorted({a.split(":")[0] for p in outside for a in p["latency_outside"]})
        notes.append(f"{len(outside)} of {len(front)} front points lie outside the range the '{run.device}' table was "
                     f"fitted or calibrated on ({', '.join(axes)}): their intervals are widened; measure them before "
                     "you ship one")
    over = [p for p in front if p.get("measured_ms") is not None and p["measured_ms"] > run.budget_ms]
    if over:
        notes.append(f"{len(over)} front point(s) measured over the budget: trial(s) "
                     f"{', '.join(str(p['trial']) for p in over)} (marked ✗ in the table)")
    return notes


def _saturation_notes(front: list[dict[str, Any]]) -> list[str]:
    """For a front in predicted top-1 (points carrying ``step``): what the whole front and its last step buy."""
    if len(front) < 2 or "step" not in front[-1]:
        return []
    first, last, step = front[0], front[-1], front[-1]["step"]
    params = ("" if None in (first["params"], last["params"])
              else f" for {(last['params'] - first['params']) / 1e6:+.1f} M params")
    last_params = "" if step["params_m"] is None else f" for {step['params_m']:+.2f} M params"
    return [f"predicted top-1 rises {last['score'] - first['score']:+.2f} pt from the fastest to the slowest front "
            f"point{params}, {last['latency_ms'] - first['latency_ms']:+.3g} ms; the last step buys "
            f"{step['gain']:+.2f} pt{last_params}, {step['ms']:+.3g} ms (each row's last columns: its step over the "
            "previous point)"]


def _alike_notes(run: Run) -> list[str]:
    """Scored networks the table and the counts cannot tell apart: the same predicted latency, parameters and
    MACs (e.g. networks that differ only in an activation the table prices alike), grouped in one line."""
    groups: dict[tuple, list[int]] = {}
    for r in run.records:
        if r.scored and r.latency_ms is not None:
            groups.setdefault((round(r.latency_ms, 6), r.params, r.macs), []).append(r.trial)
    alike = [trials for trials in groups.values() if len(trials) > 1]
    if not alike:
        return []
    shown = "; ".join(", ".join(map(str, t)) for t in alike[:5]) + ("; ..." if len(alike) > 5 else "")
    return [f"{sum(map(len, alike))} scored networks fall in {len(alike)} group(s) with the same predicted latency, "
            f"parameters and MACs (trials {shown}): the table cannot tell them apart (e.g. activations it prices "
            "alike), so between members of a group only the score decides"]


def size_steps(front: list[dict[str, Any]]) -> list[dict[str, float] | None]:
    """What each front point (fastest first) gains over the previous one: ``gain`` (score points),
    ``params_m`` (extra millions of parameters), ``ms`` (extra latency), and the gain per extra million
    parameters (``per_m_params``, None unless the step adds parameters) and per extra ms (``per_ms``, None
    unless it adds latency). The first point has no previous one: None."""
    steps: list[dict[str, float] | None] = [None] * min(1, len(front))
    for prev, point in zip(front, front[1:]):
        gain = point["score"] - prev["score"]
        extra_m = (point["params"] - prev["params"]) / 1e6 if None not in (point["params"], prev["params"]) else None
        extra_ms = point["latency_ms"] - prev["latency_ms"]
        steps.append({"gain": gain, "params_m": extra_m, "ms": extra_ms,
                      "per_m_params": gain / extra_m if extra_m is not None and extra_m > 0 else None,
                      "per_ms": gain / extra_ms if extra_ms > 0 else None})
    return steps


def _step_cells(step: dict[str, float] | None) -> str:
    """The front table's three step columns: the gain and what it cost, per extra M parameters, per extra ms."""
    if step is None:
        return " - (fastest) | - | - |"
    params = "" if step["params_m"] is None else f" for {step['params_m']:+.2f} M params"
    per_m = "-" if step["per_m_params"] is None else f"{step['per_m_params']:+.3f}"
    per_ms = "-" if step["per_ms"] is None else f"{step['per_ms']:+.2f}"
    return f" {step['gain']:+.2f} pt{params}, {step['ms']:+.3f} ms | {per_m} | {per_ms} |"


def _point(run: Run, record: TrialRecord) -> dict[str, Any]:
    """A front row: the record's pareto.json point and its one-line architecture."""
    metric = run.meta.metric
    try:
        summary = summarize(run.config(record.trial))
    except Exception:  # noqa: BLE001 - a missing config only loses the summary
        summary = ""
    return {**record.to_point(metric=metric.name, is_accuracy=metric.is_accuracy), "summary": summary}


# ----------------------------------------------------------------------------- markdown
def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g} ms"


def _num(value: float | None, scale: float, digits: int = 2) -> str:
    return "-" if value is None else f"{value / scale:.{digits}f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}" if value < 0.995 else ">99%"


def _acc(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _code(text: str) -> str:
    """A table cell in code font: a '|' would end the cell, so it is escaped (GFM keeps it in code spans)."""
    return f"`{text}`".replace("|", "\\|") if text else "-"


def _deployed(run: Run) -> str:
    """" at 224 px" (or " at 224, 256 px, searched over") from the run's space, "" if it cannot be read."""
    try:
        resolutions = run.space().resolutions
    except Exception:  # noqa: BLE001 - a space that cannot be read only loses this detail
        return ""
    return f" at {', '.join(map(str, resolutions))} px" + (", searched over" if len(resolutions) > 1 else "")


def _added(meta: Any) -> str:
    """The entries an estimated table's cost model priced beyond its file (nas.latency.extend), if any."""
    from nas.latency.extend import added_note

    note = added_note(meta.table.device, meta.table.path, meta.table.hash)
    return f"; {note}" if note else ""


def _own_resolutions() -> dict[str, int]:
    """Each preset's published resolution."""
    from nas.models.presets import PRESETS

    return {name: preset.config.resolution for name, preset in PRESETS.items()}


def _markdown(run: Run, res: ReportResult) -> str:
    meta = run.meta
    method = res.method or "?"
    counts = run.counts()
    lines = [
        f"# Search run `{run.path.name}`",
        "",
        f"- device: **{res.device}**, latency table `{res.table_hash or '?'}` ({method}){_added(meta)}",
        f"- budget: **{_ms(res.budget_ms)}**; trials: {res.n_trials} ({counts.scored} scored, {res.n_feasible} within "
        f"budget, {counts.failed} failed, {counts.interrupted} interrupted and continued)"
        + (f"; {counts.duplicate} proposed by two workers at once, scored once" if counts.duplicate else ""),
        f"- space: {meta.space}{_deployed(run)}; proxy: {meta.proxy} (score: {meta.metric.name}, "
        f"{meta.metric.kind}); sampler: {meta.sampler or '?'}; seed: {meta.seed}",
    ]
    if len(meta.rungs) > 1:
        lines.append(f"- multi-fidelity: rungs of {', '.join(str(r) for r in meta.rungs)} training steps; each "
                     "candidate is shown at the highest rung it reached (the best of each latency band go on)")
    if meta.created:
        lines.append(f"- created: {meta.created}")
    lines += ["", f"![Pareto front]({PNG_NAME})", "", f"Interactive plot: [{HTML_NAME}]({HTML_NAME})", ""]
    for note in res.notes:
        lines.append(f"> {note}")
    if res.notes:
        lines.append("")
    lat_col = f"latency (ms, {method})"
    score_col = meta.metric.label
    rungs = len(meta.rungs) > 1
    level = next((p["latency_interval"]["level"] for p in res.front if p.get("latency_interval")), None)
    interval = level is not None
    measured = any(p.get("measured_ms") is not None for p in res.front)
    devices = [d.device for d in meta.limits.devices]
    size_cols = any("step" in p for p in res.front)
    limits = meta.limits.describe()
    if limits:
        lines += ["## Limits besides the budget", "", *[f"- {line}" for line in limits], ""]
    lines += [
        "## Pareto front within the budget", "",
        f"| trial | {score_col} |{' steps (rung) |' if rungs else ''} {lat_col} |"
        + (f" {level:.0%} interval (ms) | chance within budget |" if interval else "")
        + (" measured (ms) |" if measured else "") + "".join(f" {d} (ms) |" for d in devices)
        + " deploy px | params (M) | MACs (M) | architecture |"
        + (" last step: predicted top-1 gained | pt per extra M params | pt per extra ms |" if size_cols else ""),
        "|---:|---:|" + ("---:|" if rungs else "") + "---:|" + ("---:|---:|" if interval else "")
        + ("---:|" if measured else "") + "---:|" * len(devices) + "---:|---:|---:|---|"
        + ("---:|---:|---:|" if size_cols else ""),
    ]
    for p in res.front:
        name = f" ({p['preset']})" if p.get("preset") else ""
        steps = f" {p['steps']} ({p['rung'] + 1}/{len(meta.rungs)}) |" if rungs else ""
        cells = ""
        if interval:
            iv = p.get("latency_interval") or {}
            far = " (outside the fitted range)" if p.get("latency_outside") else ""
            cells += (f" {_num(iv.get('low_ms'), 1, 3)}-{_num(iv.get('high_ms'), 1, 3)}{far} | "
                      f"{_pct(p.get('budget_chance'))} |")
        if measured:
            m = p.get("measured_ms")
            cells += " - |" if m is None else f" {m:.3f}{' ✗ over budget' if m > res.budget_ms else ''} |"
        cells += "".join(f" {_num((p.get('device_latencies') or {}).get(d), 1, 3)} |" for d in devices)
        lines.append(f"| {p['trial']} | {_acc(p['score'])} |{steps} {_num(p['latency_ms'], 1, 3)} |{cells} "
                     f"{p.get('resolution') or '-'} | {_num(p['params'], 1e6)} | {_num(p['macs'], 1e6, 1)} | "
                     f"{_code(p['summary'])}{name} |{_step_cells(p['step']) if size_cols else ''}")
    if res.presets:
        lines += [
            "", "## Reference presets (same table, same proxy, at the space's resolution)", "",
            f"| preset | {score_col} | {lat_col} | deploy px | params (M) | MACs (M) | trial |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        own = _own_resolutions()
        for p in res.presets:
            trial = "-" if p.get("trial") is None else str(p["trial"])
            px = str(p.get("resolution") or "-")
            if p.get("resolution") and own.get(p["name"]) not in (None, p["resolution"]):
                px += f" (published at {own[p['name']]})"
            lines.append(f"| {p['name']} | {_acc(p.get('score'))} | {_num(p.get('latency_ms'), 1, 3)} | {px} | "
                         f"{_num(p.get('params'), 1e6)} | {_num(p.get('macs'), 1e6, 1)} | {trial} |")
    dash = dashboard_command_for(run.path)
    lines += ["", "## Next", "", "```"]
    if res.front:
        lines.append(f"nas export {run.path} --pick best --format onnx --out model.onnx")
        lines.append(f"nas export {run.path} --trial {res.front[0]['trial']} --format json --out arch.json")
    if dash:
        lines.append(dash + "   # browse every trial in Optuna's dashboard")
    lines += ["```", ""]
    return "\n".join(lines)
