"""The report of a run folder: report.md, pareto.png, pareto.html (and rows for a terminal table)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.report.run import Run, TrialRow, load_run

MD_NAME, PNG_NAME, HTML_NAME = "report.md", "pareto.png", "pareto.html"


@dataclass
class ReportResult:
    """What ``write_report`` wrote and the rows it showed."""

    run_dir: Path
    markdown: Path
    png: Path
    html: Path
    front: list[dict[str, Any]]  # trial, accuracy, latency_ms, params, macs, preset, summary
    presets: list[dict[str, Any]]
    n_trials: int
    n_feasible: int
    budget_ms: float | None
    device: str | None
    method: str | None
    table_hash: str | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir), "markdown": str(self.markdown), "png": str(self.png),
            "html": str(self.html), "device": self.device, "method": self.method, "table_hash": self.table_hash,
            "budget_ms": self.budget_ms, "n_trials": self.n_trials, "n_feasible": self.n_feasible,
            "front": self.front, "presets": self.presets, "notes": self.notes,
            "dashboard": dashboard_command_for(self.run_dir),
        }


def arch_summary(cfg: Any) -> str:
    """One line: stem, then depth x mixer @ channels per stage, e.g. ``conv16 | 2 mbconv@32 > 4 mhsa@96``."""
    stem = f"patch{cfg.stem.patch_size}" if cfg.stem.kind == "patch" else "conv"
    stem += f"@{cfg.stem.channels[-1]}"
    stages = []
    for s in cfg.stages:
        mixer = s.mixer.kind
        if mixer in ("mhsa", "hilo", "mobilevit"):
            mixer += f"/{s.mixer.num_heads}h"
        stages.append(f"{s.depth} {mixer}@{s.channels}")
    return f"{stem} | " + " > ".join(stages)


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
    """
    from nas.report.plots import write_html, write_png

    run = load_run(run_dir)
    notes: list[str] = []
    completed = [r for r in run.trials if r.state.upper() == "COMPLETE" and r.latency_ms is not None]
    front = _front_rows(run, notes)
    presets = [dict(p) for p in run.presets]
    result = ReportResult(
        run_dir=run.path, markdown=run.path / MD_NAME, png=run.path / PNG_NAME, html=run.path / HTML_NAME,
        front=front, presets=presets, n_trials=sum(r.state.upper() != "WAITING" for r in run.trials),
        n_feasible=sum(_feasible(run, r) for r in completed),
        budget_ms=run.budget_ms, device=run.device, method=run.method, table_hash=run.table_hash, notes=notes,
    )
    if not front:
        budget = f"{run.budget_ms:g} ms" if run.budget_ms is not None else "the budget"
        notes.append(f"no trial within {budget}: search again with a larger --budget or more trials")
    plot = {"trials": completed, "feasible": [_feasible(run, r) for r in completed], "front": front,
            "presets": presets, "budget_ms": run.budget_ms, "method": run.method,
            "title": f"{run.path.name}: {run.device or '?'}, budget {_ms(run.budget_ms)}",
            "score_label": score_label(run)}
    _atomic_write(result.png, lambda path: write_png(path, **plot))
    _atomic_write(result.html, lambda path: write_html(path, **plot))
    _atomic_write(result.markdown, lambda p: p.write_text(_markdown(run, result)))
    return result


def score_label(run: Run) -> str:
    """What the y axis holds: validation top-1 for the training proxy, else the named proxy's score."""
    proxy = run.meta.get("proxy") or (run.pareto or {}).get("proxy")
    return "proxy accuracy (short training)" if proxy == "train" else f"proxy score ({proxy or 'unknown'})"


def _feasible(run: Run, row: TrialRow) -> bool:
    budget = run.budget_ms
    if budget is not None and row.latency_ms is not None:
        return row.latency_ms <= budget
    return row.feasible


def _front_rows(run: Run, notes: list[str]) -> list[dict[str, Any]]:
    """The feasible Pareto points (from pareto.json; computed from trials.csv if it is missing)."""
    if run.pareto is not None:
        points = run.feasible_points()
    else:
        notes.append("pareto.json missing: front computed from trials.csv")
        rows = [r for r in run.trials if r.state.upper() == "COMPLETE" and r.accuracy is not None
                and r.latency_ms is not None and _feasible(run, r)]
        best = [r for r in rows if not any(
            o.accuracy >= r.accuracy and o.latency_ms <= r.latency_ms  # type: ignore[operator]
            and (o.accuracy, o.latency_ms) != (r.accuracy, r.latency_ms) for o in rows)]
        points = [{"trial": r.trial, "accuracy": r.accuracy, "latency_ms": r.latency_ms, "params": r.params,
                   "macs": r.macs, "preset": r.preset or None} for r in sorted(best, key=lambda r: r.latency_ms)]
    out = []
    for p in points:
        summary = p.get("summary")
        if not summary:
            try:
                summary = arch_summary(run.config(int(p["trial"])))
            except Exception:  # noqa: BLE001 - a missing config only loses the summary
                summary = ""
        out.append({"trial": int(p["trial"]), "accuracy": p.get("accuracy"), "latency_ms": p.get("latency_ms"),
                    "params": p.get("params"), "macs": p.get("macs"), "preset": p.get("preset") or None,
                    "summary": summary})
    return out


def _atomic_write(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


# ----------------------------------------------------------------------------- markdown
def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g} ms"


def _num(value: float | None, scale: float, digits: int = 2) -> str:
    return "-" if value is None else f"{value / scale:.{digits}f}"


def _acc(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _code(text: str) -> str:
    """A table cell in code font: a '|' would end the cell, so it is escaped (GFM keeps it in code spans)."""
    return f"`{text}`".replace("|", "\\|") if text else "-"


def _markdown(run: Run, res: ReportResult) -> str:
    meta = run.meta
    method = res.method or "?"
    lines = [
        f"# Search run `{run.path.name}`",
        "",
        f"- device: **{res.device or '?'}**, latency table `{res.table_hash or '?'}` ({method})",
        f"- budget: **{_ms(res.budget_ms)}**; trials: {res.n_trials}, within budget: {res.n_feasible}",
        f"- space: {meta.get('space', '?')}; proxy: {meta.get('proxy', '?')}; sampler: {meta.get('sampler', '?')}; "
        f"seed: {meta.get('seed', '?')}",
    ]
    if meta.get("created"):
        lines.append(f"- created: {meta['created']}")
    lines += ["", f"![Pareto front]({PNG_NAME})", "", f"Interactive plot: [{HTML_NAME}]({HTML_NAME})", ""]
    for note in res.notes:
        lines.append(f"> {note}")
    lat_col = f"latency (ms, {method})"
    score_col = score_label(run)
    lines += [
        "## Pareto front within the budget", "",
        f"| trial | {score_col} | {lat_col} | params (M) | MACs (M) | architecture |",
        "|---:|---:|---:|---:|---:|---|",
    ]
    for p in res.front:
        name = f" ({p['preset']})" if p.get("preset") else ""
        lines.append(f"| {p['trial']} | {_acc(p['accuracy'])} | {_num(p['latency_ms'], 1, 3)} | "
                     f"{_num(p['params'], 1e6)} | {_num(p['macs'], 1e6, 1)} | {_code(p['summary'])}{name} |")
    if res.presets:
        lines += [
            "", "## Reference presets (same table, same proxy)", "",
            f"| preset | {score_col} | {lat_col} | params (M) | MACs (M) | trial |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for p in res.presets:
            trial = "-" if p.get("trial") is None else str(p["trial"])
            lines.append(f"| {p['name']} | {_acc(p.get('accuracy'))} | {_num(p.get('latency_ms'), 1, 3)} | "
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
