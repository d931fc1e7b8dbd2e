"""Pareto plots: a static PNG (matplotlib, Agg) and an interactive, self-contained HTML (plotly)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nas.report.run import TrialRow

PNG_SIZE_IN, PNG_DPI = (10.0, 6.0), 100  # -> 1000 x 600 pixels
LOG_X_SPREAD = 8.0  # log latency axis when the slowest point is this many times the fastest
FEASIBLE, OVER_BUDGET, FRONT, BUDGET, PRESET = "#4c78a8", "#c7c7c7", "#e45756", "#333333", "#54a24b"
UNTRAINED = "#9d9d9d"


def _latency_label(method: str | None) -> str:
    return f"predicted latency (ms, {method or 'unknown method'})"


def write_png(
    path: Path,
    *,
    trials: list[TrialRow],
    feasible: list[bool],
    front: list[dict[str, Any]],
    presets: list[dict[str, Any]],
    budget_ms: float | None,
    method: str | None,
    title: str,
) -> None:
    """Accuracy vs latency: all trials (over-budget ones grey), the front as a step line, the budget, presets."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.transforms import blended_transform_factory

    fig, ax = plt.subplots(figsize=PNG_SIZE_IN, dpi=PNG_DPI)
    bottom = blended_transform_factory(ax.transData, ax.transAxes)  # x in data, y in axes fraction
    with_acc = [(t, f) for t, f in zip(trials, feasible) if t.accuracy is not None]
    over = [t for t, f in with_acc if not f]
    inside = [t for t, f in with_acc if f]
    untrained = [t for t in trials if t.accuracy is None and t.latency_ms is not None]
    ax.scatter([t.latency_ms for t in over], [t.accuracy for t in over], s=22, c=OVER_BUDGET,
               label=f"over budget ({len(over)})" if over else "_nolegend_", zorder=2)
    ax.scatter([t.latency_ms for t in inside], [t.accuracy for t in inside], s=26, c=FEASIBLE,
               label=f"within budget ({len(inside)})" if inside else "_nolegend_", zorder=3)
    if untrained:  # over-budget candidates are priced, never trained: a tick on the latency axis
        ax.scatter([t.latency_ms for t in untrained], [0.0] * len(untrained), marker="|", s=200, c=UNTRAINED,
                   transform=bottom, clip_on=False, label=f"not trained, latency only ({len(untrained)})",
                   zorder=2)
    pts = [p for p in front if p.get("accuracy") is not None]
    if pts:
        ax.plot([p["latency_ms"] for p in pts], [p["accuracy"] for p in pts], drawstyle="steps-post", c=FRONT,
                lw=1.8, marker="o", ms=7, mfc="white", mew=1.8, label=f"Pareto front ({len(pts)})", zorder=4)
        if budget_ms is not None and pts[-1]["latency_ms"] < budget_ms:  # best accuracy holds up to the budget
            ax.plot([pts[-1]["latency_ms"], budget_ms], [pts[-1]["accuracy"]] * 2, c=FRONT, lw=1.8, ls=":")
        for p in pts:
            ax.annotate(f"#{p['trial']}", (p["latency_ms"], p["accuracy"]), textcoords="offset points",
                        xytext=(5, 6), fontsize=8, color=FRONT)
    if budget_ms is not None:
        ax.axvline(budget_ms, ls="--", c=BUDGET, lw=1.2, label=f"budget {budget_ms:g} ms", zorder=1)
    shown = [p for p in presets if p.get("latency_ms") is not None]
    for p in shown:
        if p.get("accuracy") is not None:
            ax.scatter([p["latency_ms"]], [p["accuracy"]], marker="*", s=160, c=PRESET, edgecolors="black",
                       linewidths=0.6, zorder=5)
            ax.annotate(p["name"], (p["latency_ms"], p["accuracy"]), textcoords="offset points",
                        xytext=(6, -12), fontsize=8, color=PRESET, weight="bold")
        else:  # not evaluated by the proxy: marked on the latency axis only
            ax.scatter([p["latency_ms"]], [0.0], marker="^", s=70, c=PRESET, edgecolors="black",
                       linewidths=0.6, transform=bottom, clip_on=False, zorder=5)
            ax.text(p["latency_ms"], 0.04, p["name"], transform=bottom, rotation=90, fontsize=8, color=PRESET,
                    ha="center", va="bottom", weight="bold")
    if shown:
        ax.scatter([], [], marker="*", s=120, c=PRESET, edgecolors="black", linewidths=0.6,
                   label="presets (triangle: latency only)")
    xs = [t.latency_ms for t in trials if t.latency_ms] + [p["latency_ms"] for p in shown]
    xs += [budget_ms] if budget_ms else []
    if xs and min(xs) > 0:
        log_x = max(xs) / min(xs) > LOG_X_SPREAD
        if log_x:
            from matplotlib.ticker import ScalarFormatter

            ax.set_xscale("log")
            ax.xaxis.set_major_formatter(ScalarFormatter())
            ax.xaxis.set_minor_formatter(ScalarFormatter())
            ax.tick_params(axis="x", which="both", labelsize=9)
            pad = (max(xs) / min(xs)) ** 0.04
            ax.set_xlim(min(xs) / pad, max(xs) * pad)
        else:
            pad = 0.04 * (max(xs) - min(xs) or max(xs))
            ax.set_xlim(max(0.0, min(xs) - pad), max(xs) + pad)
    ax.margins(y=0.12)
    ax.set_xlabel(_latency_label(method) + (", log scale" if ax.get_xscale() == "log" else ""))
    ax.set_ylabel("proxy accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9, frameon=False)  # beside: hides no point
    fig.tight_layout()
    fig.savefig(path, dpi=PNG_DPI, format="png")
    plt.close(fig)


def write_html(
    path: Path,
    *,
    trials: list[TrialRow],
    feasible: list[bool],
    front: list[dict[str, Any]],
    presets: list[dict[str, Any]],
    budget_ms: float | None,
    method: str | None,
    title: str,
) -> None:
    """The same plot with hover details, plotly.js embedded (opens offline)."""
    import plotly.graph_objects as go

    def hover(t: TrialRow) -> str:
        params = "-" if t.params is None else f"{t.params / 1e6:.2f} M"
        macs = "-" if t.macs is None else f"{t.macs / 1e6:.1f} M"
        preset = f"<br>preset {t.preset}" if t.preset else ""
        return f"trial {t.trial}<br>params {params}<br>MACs {macs}{preset}"

    fig = go.Figure()
    for label, keep, color in (("over budget", False, OVER_BUDGET), ("within budget", True, FEASIBLE)):
        sel = [t for t, f in zip(trials, feasible) if f == keep and t.accuracy is not None]
        fig.add_trace(go.Scatter(x=[t.latency_ms for t in sel], y=[t.accuracy for t in sel], mode="markers",
                                 name=f"{label} ({len(sel)})", marker={"color": color, "size": 8},
                                 text=[hover(t) for t in sel], hoverinfo="text+x+y"))
    pts = [p for p in front if p.get("accuracy") is not None]
    fig.add_trace(go.Scatter(
        x=[p["latency_ms"] for p in pts], y=[p["accuracy"] for p in pts], mode="lines+markers",
        line={"shape": "hv", "color": FRONT}, marker={"size": 10, "color": "white", "line": {"color": FRONT,
                                                                                           "width": 2}},
        name=f"Pareto front ({len(pts)})", hoverinfo="text+x+y",
        text=[f"trial {p['trial']}<br>{p.get('summary', '')}" for p in pts]))
    shown = [p for p in presets if p.get("latency_ms") is not None]
    fig.add_trace(go.Scatter(
        x=[p["latency_ms"] for p in shown],
        y=[p["accuracy"] if p.get("accuracy") is not None else None for p in shown],
        mode="markers+text", text=[p["name"] for p in shown], textposition="top center",
        marker={"symbol": "star", "size": 14, "color": PRESET}, name="presets"))
    unscored = [p for p in shown if p.get("accuracy") is None]
    for p in unscored:
        fig.add_vline(x=p["latency_ms"], line={"color": PRESET, "dash": "dot", "width": 1},
                      annotation_text=p["name"], annotation_textangle=-90)
    if budget_ms is not None:
        fig.add_vline(x=budget_ms, line={"color": BUDGET, "dash": "dash"}, annotation_text=f"budget {budget_ms:g} ms")
    xs = [t.latency_ms for t in trials if t.latency_ms] + [p["latency_ms"] for p in shown]
    log_x = bool(xs) and min(xs) > 0 and max(xs) / min(xs) > LOG_X_SPREAD
    fig.update_layout(title=title, xaxis_title=_latency_label(method), yaxis_title="proxy accuracy",
                      xaxis_type="log" if log_x else "linear", template="plotly_white", hovermode="closest")
    fig.write_html(str(path), include_plotlyjs=True, full_html=True)
