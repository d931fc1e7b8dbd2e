"""Pareto plots: a static PNG (matplotlib, Agg) and an interactive, self-contained HTML (plotly)."""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from typing import Any

from nas.run import TrialRecord

PNG_SIZE_IN, PNG_DPI = (10.0, 6.0), 100  # -> 1000 x 600 pixels
MAX_FRONT_LABELS = 10  # a longer front labels this many of its points, spread along it (report.md lists all)
Y_LABEL_CHARS = 48  # a longer score name is wrapped onto several lines
X_RANGE_BUDGETS = 2.0  # the latency axis shows up to this many budgets (or the slowest scored trial)
FEASIBLE, OVER_BUDGET, FRONT, BUDGET, PRESET = "#4c78a8", "#b0b0b0", "#e45756", "#333333", "#2e8540"
UNTRAINED = "#8c8c8c"
EARLY = "#9ecae1"  # scored within budget but stopped at a lower rung (fewer training steps)
LABEL_PT = 7.5
AX_LEFT, AX_RIGHT = 0.1, 0.76  # figure fractions: room for the strip's row names and the legend


def _latency_label(method: str | None) -> str:
    return f"predicted latency (ms, {method or 'unknown method'})"


def _steps(trials: list[TrialRecord]) -> str:
    return "/".join(str(s) for s in sorted({t.steps for t in trials}))


def x_max_ms(trials: list[TrialRecord], front: list[dict[str, Any]], presets: list[dict[str, Any]],
             budget_ms: float | None) -> float:
    """Right end of the latency axis: the scored trials and the front, and up to X_RANGE_BUDGETS budgets.

    Over-budget candidates can be 100x slower than the budget; showing them all would squash the front.
    """
    xs = [t.latency_ms for t in trials if t.score is not None and t.latency_ms is not None]
    xs += [p["latency_ms"] for p in front if p.get("latency_ms") is not None]
    if budget_ms is not None:
        xs.append(X_RANGE_BUDGETS * budget_ms)
    else:
        xs += [t.latency_ms for t in trials if t.latency_ms is not None]
        xs += [p["latency_ms"] for p in presets if p.get("latency_ms") is not None]
    return 1.05 * max(xs) if xs else 1.0


@dataclass(frozen=True)
class PlotData:
    """What the Pareto plots show: the trials with a latency (and whether each is within the budget), the
    front and the presets as pareto.json / presets.json points, the budget, the table's method, the title,
    the score's axis label and the proxy's rungs (step counts)."""

    trials: list[TrialRecord]
    feasible: list[bool]
    front: list[dict[str, Any]]
    presets: list[dict[str, Any]]
    budget_ms: float | None
    method: str | None
    title: str
    score_label: str
    rungs: list[int]


def front_labelled(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The front points that get a trial label: all of a short front; of a longer one MAX_FRONT_LABELS,
    spread evenly along it, the fastest and the best among them."""
    n = len(points)
    if n <= MAX_FRONT_LABELS:
        return points
    picks = {round(i * (n - 1) / (MAX_FRONT_LABELS - 1)) for i in range(MAX_FRONT_LABELS)}
    return [points[i] for i in sorted(picks)]


def _front_legend(points: list[dict[str, Any]]) -> str:
    labelled = len(front_labelled(points))
    return f"Pareto front ({len(points)})" + (f", {labelled} labelled" if labelled < len(points) else "")


def _label_levels(xs: list[float], names: list[str], x_max: float, axes_px: float) -> list[int]:
    """Stack horizontal labels on levels so none overlaps the previous one on its level (xs sorted)."""
    ends: list[float] = []
    levels = []
    for x, name in zip(xs, names):
        width = (len(name) + 2) * 0.6 * LABEL_PT * PNG_DPI / 72 / axes_px * x_max
        level = next((i for i, end in enumerate(ends) if end < x), len(ends))
        if level == len(ends):
            ends.append(0.0)
        ends[level] = x + width
        levels.append(level)
    return levels


def render_png(plot: PlotData) -> bytes:
    """The PNG bytes of accuracy vs latency: all trials (over-budget ones grey, those stopped at a lower rung
    light), the front as a step line, the budget, presets.

    Below, a strip on the same latency axis holds what has no score: trials that failed or were
    interrupted (and, in runs of the first versions, candidates priced over the budget), and presets
    the search did not score.
    """
    trials, feasible, front, presets, budget_ms = plot.trials, plot.feasible, plot.front, plot.presets, plot.budget_ms
    method, title, score_label, rungs = plot.method, plot.title, plot.score_label, plot.rungs
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x_max = x_max_ms(trials, front, presets, budget_ms)
    fig = plt.figure(figsize=PNG_SIZE_IN, dpi=PNG_DPI)
    grid = fig.add_gridspec(2, 1, height_ratios=[4.2, 1.5], hspace=0.08, left=AX_LEFT, right=AX_RIGHT, top=0.93,
                            bottom=0.09)
    ax = fig.add_subplot(grid[0])
    strip = fig.add_subplot(grid[1], sharex=ax)
    with_acc = [(t, f) for t, f in zip(trials, feasible) if t.score is not None]
    over = [t for t, f in with_acc if not f]
    inside = [t for t, f in with_acc if f and t.steps == rungs[-1]]
    early = [t for t, f in with_acc if f and t.steps != rungs[-1]]
    if early:
        ax.scatter([t.latency_ms for t in early], [t.score for t in early], s=22, c=EARLY,
                   label=f"stopped after {_steps(early)} steps ({len(early)})", zorder=3)
    ax.scatter([t.latency_ms for t in over], [t.score for t in over], s=22, c=OVER_BUDGET,
               label=f"scored, over budget ({len(over)})" if over else "_nolegend_", zorder=2)
    ax.scatter([t.latency_ms for t in inside], [t.score for t in inside], s=26, c=FEASIBLE,
               label=(f"within budget, {rungs[-1]} steps ({len(inside)})" if len(rungs) > 1 else
                      f"within budget ({len(inside)})") if inside else "_nolegend_", zorder=3)
    pts = [p for p in front if p.get("score") is not None]
    if pts:
        ax.plot([p["latency_ms"] for p in pts], [p["score"] for p in pts], drawstyle="steps-post", c=FRONT,
                lw=1.8, marker="o", ms=7, mfc="white", mew=1.8, label=_front_legend(pts), zorder=4)
        if budget_ms is not None and pts[-1]["latency_ms"] < budget_ms:  # the best score holds up to the budget
            ax.plot([pts[-1]["latency_ms"], budget_ms], [pts[-1]["score"]] * 2, c=FRONT, lw=1.8, ls=":")
        for p in front_labelled(pts):
            ax.annotate(f"#{p['trial']}", (p["latency_ms"], p["score"]), textcoords="offset points",
                        xytext=(-4, 7), ha="right", fontsize=8, color=FRONT, weight="bold")
    for a in (ax, strip):
        if budget_ms is not None:
            a.axvline(budget_ms, ls="--", c=BUDGET, lw=1.2, zorder=1,
                      label=f"budget {budget_ms:g} ms" if a is ax else "_nolegend_")
    scored = [p for p in presets if p.get("latency_ms") is not None and p.get("score") is not None]
    for p in scored:
        ax.scatter([p["latency_ms"]], [p["score"]], marker="*", s=170, c=PRESET, edgecolors="black",
                   linewidths=0.6, zorder=5)
        ax.annotate(p["name"], (p["latency_ms"], p["score"]), textcoords="offset points", xytext=(7, -4),
                    fontsize=LABEL_PT, color=PRESET, weight="bold", va="top")
    if scored:
        ax.scatter([], [], marker="*", s=120, c=PRESET, edgecolors="black", linewidths=0.6,
                   label="preset (scored)")

    # strip: unscored trials (a tick each) and unscored presets (a triangle and a stacked label)
    untrained = [t.latency_ms for t in trials if t.score is None and t.latency_ms is not None]
    shown_untrained = [x for x in untrained if x <= x_max]
    strip.scatter(shown_untrained, [0.0] * len(shown_untrained), marker="|", s=120, c=UNTRAINED, zorder=2,
                  label=f"not scored ({len(untrained)})" if untrained else "_nolegend_")
    unscored = sorted((p for p in presets if p.get("latency_ms") is not None and p.get("score") is None),
                      key=lambda p: p["latency_ms"])
    near = [p for p in unscored if p["latency_ms"] <= x_max]
    axes_px = PNG_SIZE_IN[0] * PNG_DPI * (AX_RIGHT - AX_LEFT)
    levels = _label_levels([p["latency_ms"] for p in near], [p["name"] for p in near], x_max, axes_px)
    for p, level in zip(near, levels):
        y = 1.0 + level
        strip.scatter([p["latency_ms"]], [y], marker="^", s=40, c=PRESET, edgecolors="black", linewidths=0.5,
                      zorder=5)
        strip.annotate(p["name"], (p["latency_ms"], y), textcoords="offset points", xytext=(5, 0),
                       va="center", fontsize=LABEL_PT, color=PRESET, weight="bold")
    if unscored:
        strip.scatter([], [], marker="^", s=40, c=PRESET, edgecolors="black", linewidths=0.5,
                      label="preset (not scored)")
    beyond = [x for x in untrained if x > x_max]
    far = [p for p in unscored if p["latency_ms"] > x_max]
    if beyond or far:
        parts = [f"{len(beyond)} candidates" if beyond else ""] + [f"{p['name']} {p['latency_ms']:.3g}" for p in far]
        slowest = max(beyond + [p["latency_ms"] for p in far])
        strip.text(1.0, 1.02, f"beyond the axis (up to {slowest:.3g} ms): " + ", ".join(x for x in parts if x),
                   transform=strip.transAxes, ha="right", va="bottom", fontsize=7, color=UNTRAINED)
    strip.set_ylim(-0.7, max(levels, default=0) + 1.7)
    strip.set_yticks([0.0] + ([1.0] if near else []), ["not scored"] + (["presets"] if near else []),
                     fontsize=8)
    strip.grid(axis="x", alpha=0.3)
    ax.set_xlim(0.0, x_max)
    ax.margins(y=0.08)
    ax.tick_params(axis="x", labelbottom=False)
    strip.set_xlabel(_latency_label(method))
    ax.set_ylabel(textwrap.fill(score_label, Y_LABEL_CHARS))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    more = strip.get_legend_handles_labels()
    ax.legend(handles + more[0], labels + more[1], loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8.5,
              frameon=False)
    buffer = io.BytesIO()
    fig.savefig(buffer, dpi=PNG_DPI, format="png")
    plt.close(fig)
    return buffer.getvalue()


def render_html(plot: PlotData) -> str:
    """The same plot as an HTML page with hover details and zoom, plotly.js embedded (opens offline)."""
    trials, feasible, front, presets, budget_ms = plot.trials, plot.feasible, plot.front, plot.presets, plot.budget_ms
    method, title, score_label, rungs = plot.method, plot.title, plot.score_label, plot.rungs
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    def hover(t: TrialRecord) -> str:
        params = "-" if t.params is None else f"{t.params / 1e6:.2f} M"
        macs = "-" if t.macs is None else f"{t.macs / 1e6:.1f} M"
        preset = f"<br>preset {t.preset}" if t.preset else ""
        reason = f"<br>{t.reason}" if t.reason else ""
        rung = f"<br>rung {t.rung} ({t.steps} steps)" if t.rung is not None else ""
        return f"trial {t.trial}{rung}<br>params {params}<br>MACs {macs}{preset}{reason}"

    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.8, 0.2], vertical_spacing=0.04)
    groups = [("scored, over budget", lambda t, f: not f, OVER_BUDGET),
              ("within budget", lambda t, f: f and t.steps == rungs[-1], FEASIBLE),
              ("within budget, stopped at a lower rung", lambda t, f: f and t.steps != rungs[-1], EARLY)]
    for label, keep, color in groups:
        sel = [t for t, f in zip(trials, feasible) if keep(t, f) and t.score is not None]
        fig.add_trace(go.Scatter(x=[t.latency_ms for t in sel], y=[t.score for t in sel], mode="markers",
                                 name=f"{label} ({len(sel)})", marker={"color": color, "size": 8},
                                 text=[hover(t) for t in sel], hoverinfo="text+x+y"), row=1, col=1)
    pts = [p for p in front if p.get("score") is not None]
    fig.add_trace(go.Scatter(
        x=[p["latency_ms"] for p in pts], y=[p["score"] for p in pts], mode="lines+markers",
        line={"shape": "hv", "color": FRONT},
        marker={"size": 10, "color": "white", "line": {"color": FRONT, "width": 2}},
        name=f"Pareto front ({len(pts)})", hoverinfo="text+x+y",
        text=[f"trial {p['trial']}<br>{p.get('summary', '')}" for p in pts]), row=1, col=1)
    scored = [p for p in presets if p.get("latency_ms") is not None and p.get("score") is not None]
    fig.add_trace(go.Scatter(
        x=[p["latency_ms"] for p in scored], y=[p["score"] for p in scored], mode="markers+text",
        text=[p["name"] for p in scored], textposition="bottom right",
        marker={"symbol": "star", "size": 14, "color": PRESET}, name="preset (scored)"), row=1, col=1)
    untrained = [t for t in trials if t.score is None and t.latency_ms is not None]
    fig.add_trace(go.Scatter(
        x=[t.latency_ms for t in untrained], y=["not scored"] * len(untrained), mode="markers",
        marker={"symbol": "line-ns-open", "size": 14, "color": UNTRAINED},
        name=f"not scored ({len(untrained)})", text=[hover(t) for t in untrained],
        hoverinfo="text+x"), row=2, col=1)
    unscored = [p for p in presets if p.get("latency_ms") is not None and p.get("score") is None]
    fig.add_trace(go.Scatter(
        x=[p["latency_ms"] for p in unscored], y=["presets"] * len(unscored), mode="markers",
        marker={"symbol": "triangle-up", "size": 10, "color": PRESET}, name="preset (not scored)",
        text=[p["name"] for p in unscored], hoverinfo="text+x"), row=2, col=1)
    if budget_ms is not None:
        fig.add_vline(x=budget_ms, line={"color": BUDGET, "dash": "dash"}, row="all", col=1)
        fig.add_annotation(x=budget_ms, y=1.0, yref="paper", text=f"budget {budget_ms:g} ms", showarrow=False,
                           xanchor="left", yanchor="bottom")
    fig.update_xaxes(range=[0.0, x_max_ms(trials, front, presets, budget_ms)])
    fig.update_xaxes(title_text=_latency_label(method) + " (drag or double-click to zoom out)", row=2, col=1)
    fig.update_yaxes(title_text=score_label, row=1, col=1)
    fig.update_yaxes(categoryorder="array", categoryarray=["not scored", "presets"], row=2, col=1)
    fig.update_layout(title=title, template="plotly_white", hovermode="closest", height=650)
    return fig.to_html(include_plotlyjs=True, full_html=True)
