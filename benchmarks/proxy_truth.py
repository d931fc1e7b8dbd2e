"""Which accuracy signal ranks architectures like the truth? Every signal against two truths, with its cost.

Truth A, the published ImageNet-1k top-1 of the 16 presets (the table PUBLISHED below, each number with
its source). Truth B, 10x-longer training on the CIFAR-10 dev subset: the 400-step test accuracies (two
seeds, the second is the seed ceiling) of the 22 hybrid-vit networks in
benchmarks/results/proxy_fidelity_40.json, reused as they are (same networks, same 4,000-image training
split of load_dataset(seed=0), batch 32, 400 steps, scored on the 1,000 test images).

Signals: parameter count and MACs (deploy resolution); the training-free proxies (synflow, naswot, zico;
for the 22 networks reused from proxy_fidelity_40.json, where they were computed with the same options,
seed and training split); training runs ``tS-bB-rR`` (S steps, batch B, proxy resolution R, the `train`
proxy's recipe, seed 0, on load_dataset("cifar10:DIR", seed=0): 4,000 training / 1,000 validation images)
read at every rung as validation top-1 (``train``) and as SoTL-E (``sotl``, minus the mean training loss
of the last 25%, 50% or 100% of the steps); and capacity-aware combinations: a linear fit of the truth on
[log10 params, signal] whose predictions are made leave-one-out (each network predicted by a fit on the
others), so no network is scored by a fit that saw it. ``A->B`` rows apply the fit on all 16 presets to
the 22 networks unchanged: what a shipped default with fixed weights would do.

Kendall tau and Spearman rho overall and within latency bands (tertiles of the iphone12 table's
prediction), beside each signal's cost: median CPU seconds per network, one thread.

    taskset -c 1 python benchmarks/proxy_truth.py --runs t40-b64-r32 t120-b64-r32 [--sets presets hybrid]

Resumable: every evaluation is cached in the JSON; training runs save their state (nas's own resumable
sessions) every 50 steps under OUT_states/ and continue from it after an interruption.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from scipy.stats import kendalltau, spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pinning import command_line  # noqa: E402

from nas.config import ArchConfig  # noqa: E402
from nas.models.builder import build_model  # noqa: E402
from nas.models.presets import PRESETS  # noqa: E402
from nas.models.stats import count_macs  # noqa: E402
from nas.proxy import SotlProxy, get_proxy, load_dataset  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ZERO_COST = ("synflow", "naswot", "zico", "naswot+params")  # every training-free proxy, the default included
REUSED = ("synflow", "naswot", "zico")  # computed by proxy_fidelity_40 with the same options, seed and split
OUT_OF_SAMPLE_BASE = "naswot"  # the signal the default combines with capacity
SOTL_WINDOWS = (0.25, 0.5, 1.0)
SAVE_EVERY = 50

# Published ImageNet-1k top-1 (%) of the presets, single crop at their own resolution, no extra data.
PUBLISHED: dict[str, tuple[float, str]] = {
    "deit-tiny": (72.2, "DeiT paper (Touvron et al., ICML 2021) Table 1"),
    "deit-small": (79.8, "DeiT paper Table 1 (the facebookresearch/deit README's released weights: 79.9)"),
    "mobilevit-xxs": (69.0, "MobileViT paper (Mehta & Rastegari, ICLR 2022); ml-cvnets model zoo 69.0"),
    "mobilevit-xs": (74.8, "MobileViT paper (ICLR 2022); ml-cvnets model zoo (CVNets v0.1 weights) 74.7"),
    "mobilevit-s": (78.4, "MobileViT paper (ICLR 2022) abstract and results; ml-cvnets model zoo 78.3"),
    "mobilevitv2-0.5": (70.18, "apple/ml-cvnets README-model-zoo.md, MobileViTv2 (256x256)"),
    "mobilevitv2-0.75": (75.56, "apple/ml-cvnets README-model-zoo.md, MobileViTv2 (256x256)"),
    "mobilevitv2-1.0": (78.09, "apple/ml-cvnets README-model-zoo.md, MobileViTv2 (256x256)"),
    "mobilevitv2-1.25": (79.65, "apple/ml-cvnets README-model-zoo.md, MobileViTv2 (256x256)"),
    "mobilevitv2-1.5": (80.38, "apple/ml-cvnets README-model-zoo.md, MobileViTv2 (256x256)"),
    "mobilevitv2-1.75": (80.84, "apple/ml-cvnets README-model-zoo.md, MobileViTv2 (256x256)"),
    "mobilevitv2-2.0": (81.17, "apple/ml-cvnets README-model-zoo.md, MobileViTv2 (256x256)"),
    "efficientformer-l1": (79.2, "snap-research/EfficientFormer README (300 epochs; 80.2 at 1000)"),
    "efficientformer-l3": (82.4, "snap-research/EfficientFormer README"),
    "efficientformer-l7": (83.3, "snap-research/EfficientFormer README"),
    "litv2-s": (82.0, "ziplab/LITv2 classification/README.md (with deformable token merging, which the "
                      "preset replaces by a 2x2 conv merging)"),
}
RUN_RE = re.compile(r"^t(?P<steps>\d+)-b(?P<batch>\d+)-r(?P<res>\d+)(?:-s(?P<seed>\d+))?$")


# ----------------------------------------------------------------------------- networks
def network_row(cfg: ArchConfig, table) -> dict:
    from nas.latency.predict import predict_ms

    model = build_model(cfg)
    return {"config": cfg.to_dict(), "params_m": sum(p.numel() for p in model.parameters()) / 1e6,
            "macs_m": count_macs(model, (1, 3, cfg.resolution, cfg.resolution)) / 1e6,
            "latency_ms": predict_ms(cfg, table)}


def load_networks(state: dict, fidelity: dict) -> None:
    """The 16 presets (truth: published top-1) and the 22 networks of proxy_fidelity_40 (truth: long runs)."""
    from nas.latency.table import load_table

    table = load_table("iphone12")
    nets = state.setdefault("networks", {})
    if "presets" not in nets:
        nets["presets"] = {}
        for name, preset in PRESETS.items():
            nets["presets"][name] = {**network_row(preset.config, table), "truth": PUBLISHED[name][0],
                                     "source": PUBLISHED[name][1]}
    if "hybrid" not in nets:
        nets["hybrid"] = {}
        for name, arch in fidelity["archs"].items():
            res = fidelity["results"][name]
            nets["hybrid"][name] = {**network_row(ArchConfig.from_dict(arch["config"]), table),
                                    "truth": res["long_a"]["score"], "ceiling": res["long_b"]["score"],
                                    "long_cpu_seconds_est": res["long_a"]["seconds"]}
        zc = state.setdefault("zero_cost", {}).setdefault("hybrid", {})
        for name in fidelity["archs"]:
            zc[name] = {p: _slim(fidelity["results"][name][p]) for p in REUSED}
            for p in REUSED:
                zc[name][p]["reused_from"] = "proxy_fidelity_40.json"


def _slim(result: dict) -> dict:
    return {k: result.get(k) for k in ("score", "ok", "reason", "seconds", "cpu_seconds")}


# ----------------------------------------------------------------------------- evaluations
def zero_cost_jobs(state: dict, sets: list[str], seeds: list[int], data, save: Callable[[], None]) -> None:
    """The training-free proxies at default options for every network, once per seed (key ``naswot s1``...)."""
    for set_name in sets:
        cache = state.setdefault("zero_cost", {}).setdefault(set_name, {})
        for name, net in state["networks"][set_name].items():
            for seed in seeds:
                for proxy in ZERO_COST:
                    key = proxy if seed == 0 else f"{proxy} s{seed}"
                    if key in cache.get(name, {}):
                        continue
                    cfg = ArchConfig.from_dict(net["config"])
                    result = get_proxy(proxy).evaluate(cfg, data, seed=seed).to_dict()
                    cache.setdefault(name, {})[key] = _slim(result)
                    save()
                    print(f"{set_name} {name} {key}: {result['score']}", file=sys.stderr, flush=True)


def default_on_other_data(state: dict, sets: list[str], specs: list[str], save: Callable[[], None]) -> None:
    """The default proxy (no options, seed 0) on other datasets, e.g. the embedded ``digits`` the search
    defaults to (key ``<DEFAULT_PROXY> on digits``)."""
    from nas.proxy import DEFAULT_PROXY

    for spec in specs:
        data = load_dataset(spec, seed=0)
        key = f"{DEFAULT_PROXY} on {spec}"
        for set_name in sets:
            cache = state.setdefault("zero_cost", {}).setdefault(set_name, {})
            for name, net in state["networks"][set_name].items():
                if key in cache.get(name, {}):
                    continue
                result = get_proxy(DEFAULT_PROXY).evaluate(ArchConfig.from_dict(net["config"]), data, seed=0)
                cache.setdefault(name, {})[key] = _slim(result.to_dict())
                save()


def training_job(run: str, cfg: ArchConfig, data, state_dir: Path) -> dict:
    """One training run of ``cfg``: validation top-1 and CPU seconds at every rung, all step losses."""
    m = RUN_RE.match(run)
    steps, batch, res, seed = (int(m["steps"]), int(m["batch"]), int(m["res"]), int(m["seed"] or 0))
    proxy = SotlProxy(steps=steps, batch_size=batch, resolution=res)
    state_path = state_dir / run / f"{cfg.name}.pt"
    partial_path = state_path.with_suffix(".json")
    session = proxy.open(cfg, data, seed=seed, state=state_path if state_path.exists() else None)
    rungs = json.loads(partial_path.read_text()) if state_path.exists() and partial_path.exists() else []
    checkpoints = sorted({*proxy.rungs, *range(SAVE_EVERY, steps, SAVE_EVERY)})
    for point in checkpoints:
        if point <= session.steps_done:
            continue
        result = session.advance(point)
        if not result.ok:
            return {"ok": False, "reason": result.reason, "rungs": rungs, "losses": session.losses}
        if point in proxy.rungs:
            t0 = time.process_time()
            top1 = session.validation_top1()
            rungs.append({"steps": point, "top1": top1, "train_cpu_seconds": result.cpu_seconds,
                          "eval_cpu_seconds": time.process_time() - t0})
        state_path.parent.mkdir(parents=True, exist_ok=True)
        session.save(state_path)
        partial_path.write_text(json.dumps(rungs))
    state_path.unlink(missing_ok=True)
    partial_path.unlink(missing_ok=True)
    return {"ok": True, "reason": "", "rungs": rungs, "losses": session.losses, "params": session.params,
            "resolution": session.resolution}


def training_jobs(state: dict, runs: list[str], sets: list[str], data, state_dir: Path,
                  save: Callable[[], None]) -> None:
    for run in runs:
        for set_name in sets:
            cache = state.setdefault("runs", {}).setdefault(run, {}).setdefault(set_name, {})
            for name, net in state["networks"][set_name].items():
                if name in cache:
                    continue
                t0 = time.perf_counter()
                cache[name] = training_job(run, ArchConfig.from_dict(net["config"]), data, state_dir)
                save()
                last = cache[name]["rungs"][-1] if cache[name]["rungs"] else {}
                print(f"{run} {set_name} {name}: top1={last.get('top1')} ok={cache[name]['ok']} "
                      f"{time.perf_counter() - t0:.0f}s wall", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- signals
def signals(state: dict, set_name: str) -> dict[str, dict[str, tuple[float, float | None]]]:
    """signal name -> network -> (value, CPU seconds to compute it for that network)."""
    nets = state["networks"][set_name]
    out: dict[str, dict[str, tuple[float, float | None]]] = {
        "params": {n: (math.log10(v["params_m"]), None) for n, v in nets.items()},
        "MACs": {n: (math.log10(v["macs_m"]), None) for n, v in nets.items()},
    }
    zc = state.get("zero_cost", {}).get(set_name, {})
    for key in sorted({k for r in zc.values() for k in r}):
        vals = {n: (r[key]["score"], r[key].get("cpu_seconds") or r[key]["seconds"])
                for n, r in zc.items() if r.get(key, {}).get("ok")}
        if len(vals) == len(nets):
            out[key] = vals
    for run, sets in state.get("runs", {}).items():
        done = sets.get(set_name, {})
        if len(done) < len(nets):
            continue
        rung_steps = [r["steps"] for r in next(iter(done.values()))["rungs"]]
        for i, steps in enumerate(rung_steps):
            top1 = {}  # a failed run (no score at this rung) ranks last: its network learned nothing usable
            for n in nets:
                r = done[n]
                rung = r["rungs"][i] if len(r["rungs"]) > i else None
                top1[n] = ((rung["top1"], rung["train_cpu_seconds"] + rung["eval_cpu_seconds"]) if rung
                           else (0.0, None))
            out[f"train {run} @{steps}"] = top1
            for w in SOTL_WINDOWS:
                vals = {}
                for n in nets:
                    losses = done[n]["losses"][:steps]
                    rung = done[n]["rungs"][i] if len(done[n]["rungs"]) > i else None
                    if rung is None or len(losses) < steps:
                        vals[n] = (-math.inf, None)
                        continue
                    tail = losses[-max(1, math.ceil(w * steps)):]
                    vals[n] = (-sum(tail) / len(tail), rung["train_cpu_seconds"])
                out[f"sotl{w:g} {run} @{steps}"] = vals
    return out


def correlations(xs: list[float], ys: list[float]) -> dict:
    if len(xs) < 3 or len(set(xs)) < 2:
        return {"n": len(xs), "kendall": None, "spearman": None}
    return {"n": len(xs), "kendall": float(kendalltau(xs, ys).statistic),
            "spearman": float(spearmanr(xs, ys).statistic)}


def bands_of(nets: dict, bands: int) -> dict[str, int]:
    order = sorted(nets, key=lambda n: nets[n]["latency_ms"])
    return {n: min(bands - 1, i * bands // len(order)) for i, n in enumerate(order)}


def loo_fit(features: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Leave-one-out predictions of a least-squares fit truth ~ 1 + features."""
    n = len(truth)
    x = np.column_stack([np.ones(n), features])
    preds = np.empty(n)
    for i in range(n):
        keep = np.arange(n) != i
        coef, *_ = np.linalg.lstsq(x[keep], truth[keep], rcond=None)
        preds[i] = x[i] @ coef
    return preds


def full_fit(features: np.ndarray, truth: np.ndarray) -> np.ndarray:
    x = np.column_stack([np.ones(len(truth)), features])
    coef, *_ = np.linalg.lstsq(x, truth, rcond=None)
    return coef


ANGLES = np.linspace(0.0, math.pi / 2, 41)  # share between the signal (0) and capacity (pi/2), both z-scored


def best_weight(s: np.ndarray, cap: np.ndarray, truth: np.ndarray) -> float:
    """The w maximising Kendall tau of ``s + w * cap`` with ``truth``, searched scale-free: over the angle of
    (z-scored signal, z-scored capacity), the middle of the best plateau; inf means capacity alone."""
    zs, zc = (s - s.mean()) / (s.std() or 1.0), (cap - cap.mean()) / (cap.std() or 1.0)
    taus = [kendalltau(math.cos(a) * zs + math.sin(a) * zc, truth).statistic for a in ANGLES]
    taus = [-2.0 if math.isnan(t) else t for t in taus]
    best = [a for a, t in zip(ANGLES, taus, strict=True) if t >= max(taus) - 1e-12]
    angle = best[len(best) // 2]
    if math.cos(angle) < 1e-9:
        return math.inf
    return math.tan(angle) * (s.std() or 1.0) / (cap.std() or 1.0)


def _finite(w: float) -> float | None:
    """A weight for the JSON: None stands for infinite (capacity alone)."""
    return None if math.isinf(w) else w


def combine(s: np.ndarray, cap: np.ndarray, w: float) -> np.ndarray:
    """``s + w * cap``; capacity alone (signal as tie-break) when w is infinite."""
    return cap + 1e-9 * s if math.isinf(w) else s + w * cap


def leave_pair_out(s: np.ndarray, cap: np.ndarray, truth: np.ndarray) -> dict[tuple[int, int], int]:
    """For every pair (i, j): +1 if ``s + w * cap`` orders it as ``truth`` does, -1 if not, 0 on a tie, with w
    chosen by best_weight on the other networks only (leave-pair-out: no pair is judged by a weight that saw
    either of its networks)."""
    n = len(truth)
    out = {}
    for i in range(n):
        for j in range(i + 1, n):
            if truth[i] == truth[j]:
                continue
            keep = np.array([k not in (i, j) for k in range(n)])
            w = best_weight(s[keep], cap[keep], truth[keep])
            pair = combine(s[[i, j]], cap[[i, j]], w)
            diff = pair[0] - pair[1]
            out[(i, j)] = int(np.sign(diff) * np.sign(truth[i] - truth[j]))
    return out


def pair_tau(judged: dict[tuple[int, int], int], members: list[int]) -> dict:
    pairs = [v for (i, j), v in judged.items() if i in members and j in members]
    return {"n": len(members), "kendall": sum(pairs) / len(pairs) if pairs else None, "spearman": None}


def combinable(label: str) -> bool:
    """Signals worth combining with capacity: not capacity itself, not a combination already, seed 0 only
    (the other seeds are rows of their own, for the seed-to-seed spread)."""
    return label not in ("params", "MACs") and "+params" not in label and not re.search(r" s\d+$", label)


def score_rows(state: dict, set_name: str, bands: int) -> dict[str, dict]:
    nets = state["networks"][set_name]
    names = list(nets)
    truth = np.array([nets[n]["truth"] for n in names])
    band = bands_of(nets, bands)
    sig = signals(state, set_name)
    rows: dict[str, dict] = {}

    def add(label: str, values: dict[str, float], costs: list[float | None], **extra) -> None:
        xs = [values[n] for n in names]
        finite = [x if math.isfinite(x) else -1e9 for x in xs]
        row = {"overall": correlations(finite, list(truth)), "bands": [], **extra}
        for b in range(bands):
            idx = [i for i, n in enumerate(names) if band[n] == b]
            row["bands"].append(correlations([finite[i] for i in idx], [truth[i] for i in idx]))
        taus = [c["kendall"] for c in row["bands"] if c["kendall"] is not None]
        row["mean_band_kendall"] = statistics.fmean(taus) if taus else None
        known = [c for c in costs if c is not None]
        row["median_cpu_seconds"] = statistics.median(known) if known else None
        rows[label] = row

    for label, vals in sig.items():
        add(label, {n: v[0] for n, v in vals.items()}, [v[1] for v in vals.values()])
    log_params = np.array([sig["params"][n][0] for n in names])
    log_macs = np.array([sig["MACs"][n][0] for n in names])
    for label, vals in sig.items():
        if not combinable(label):
            continue
        s = np.array([vals[n][0] for n in names])
        if not np.isfinite(s).all():
            continue
        for cap_name, cap in (("params", log_params), ("MACs", log_macs)):
            preds = loo_fit(np.column_stack([cap, s]), truth)
            add(f"LOO fit [{cap_name}, {label}]", dict(zip(names, preds, strict=True)),
                [vals[n][1] for n in names], coef=list(full_fit(np.column_stack([cap, s]), truth)))
    add("LOO fit [params, MACs]", dict(zip(names, loo_fit(np.column_stack([log_params, log_macs]), truth),
                                           strict=True)), [])
    for label, vals in sig.items():
        s = np.array([vals[n][0] for n in names])
        if not combinable(label) or not np.isfinite(s).all():
            continue
        judged = leave_pair_out(s, log_params, truth)
        row = {"overall": pair_tau(judged, list(range(len(names)))),
               "weight_all": _finite(best_weight(s, log_params, truth)),
               "bands": [pair_tau(judged, [i for i, n in enumerate(names) if band[n] == b]) for b in range(bands)]}
        taus = [c["kendall"] for c in row["bands"] if c["kendall"] is not None]
        row["mean_band_kendall"] = statistics.fmean(taus) if taus else None
        known = [vals[n][1] for n in names if vals[n][1] is not None]
        row["median_cpu_seconds"] = statistics.median(known) if known else None
        rows[f"LPO rank fit [params, {label}]"] = row
    if set_name == "hybrid":
        add("long training, second seed (ceiling)", {n: nets[n]["ceiling"] for n in names},
            [nets[n]["long_cpu_seconds_est"] for n in names])
    return rows


def transfer_rows(state: dict, bands: int) -> dict[str, dict]:
    """Combinations fitted on the 16 presets (published top-1), applied unchanged to the 22 networks."""
    pre, hyb = state["networks"]["presets"], state["networks"]["hybrid"]
    sig_p, sig_h = signals(state, "presets"), signals(state, "hybrid")
    truth_p = np.array([pre[n]["truth"] for n in pre])
    names = list(hyb)
    truth_h = [hyb[n]["truth"] for n in names]
    band = bands_of(hyb, bands)
    cap_p = np.array([sig_p["params"][n][0] for n in pre])
    cap_h = np.array([sig_h["params"][n][0] for n in names])
    rows = {}
    for label in sig_p:
        if not combinable(label) or label not in sig_h:
            continue
        sp = np.array([sig_p[label][n][0] for n in pre])
        sh = np.array([sig_h[label][n][0] for n in names])
        if not (np.isfinite(sp).all() and np.isfinite(sh).all()):
            continue
        coef = full_fit(np.column_stack([cap_p, sp]), truth_p)
        w = best_weight(sp, cap_p, truth_p)
        for kind, preds, extra in (("fit", coef[1] * cap_h + coef[2] * sh, {"coef": list(coef)}),
                                   ("rank fit", combine(sh, cap_h, w), {"weight": _finite(w)})):
            row = {"overall": correlations(list(preds), truth_h), "bands": [], **extra}
            for b in range(bands):
                idx = [i for i, n in enumerate(names) if band[n] == b]
                row["bands"].append(correlations([preds[i] for i in idx], [truth_h[i] for i in idx]))
            taus = [c["kendall"] for c in row["bands"] if c["kendall"] is not None]
            row["mean_band_kendall"] = statistics.fmean(taus) if taus else None
            costs = [sig_h[label][n][1] for n in names if sig_h[label][n][1] is not None]
            row["median_cpu_seconds"] = statistics.median(costs) if costs else None
            rows[f"A->B {kind} [params, {label}]"] = row
    return rows


# ----------------------------------------------------------------------------- report
def fmt(v: float | None, spec: str = "+.2f") -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def table(rows: dict[str, dict], bands: int, *, sort: bool = True) -> list[str]:
    head = ["signal", "Kendall", "Spearman", *[f"tau band {b + 1}" for b in range(bands)], "mean band tau",
            "CPU s / net"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    items = sorted(rows.items(), key=lambda kv: -(kv[1]["overall"]["kendall"] or -9)) if sort else rows.items()
    for label, row in items:
        cells = [label, fmt(row["overall"]["kendall"]), fmt(row["overall"]["spearman"]),
                 *[fmt(b["kendall"]) for b in row["bands"]], fmt(row["mean_band_kendall"]),
                 fmt(row["median_cpu_seconds"], ".1f")]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def targets(summary: dict) -> list[str]:
    """The issue's targets for the default signal (DEFAULT_PROXY, no options, every seed), met or not."""
    from nas.proxy import DEFAULT_PROXY

    pre, hyb = summary.get("presets", {}), summary.get("hybrid", {})
    seeds = [k for k in pre if k == DEFAULT_PROXY or k.startswith(DEFAULT_PROXY + " s")]
    if not seeds or "params" not in pre:
        return []
    lines = [f"## Targets for the default signal (`{DEFAULT_PROXY}`, no options; one row per seed)", "",
             "| seed | A: Kendall (target >= 0.80) | A: mean band tau (target > params' "
             f"{fmt(pre['params']['mean_band_kendall'])}) | B: Kendall (target >= 0.70) | B: mean band tau |",
             "|---|---|---|---|---|"]
    for key in seeds:
        a, b = pre[key], hyb.get(key, {"overall": {"kendall": None}, "mean_band_kendall": None})
        lines.append(f"| {key.removeprefix(DEFAULT_PROXY).strip() or 's0'} | {fmt(a['overall']['kendall'])} | "
                     f"{fmt(a['mean_band_kendall'])} | {fmt(b['overall']['kendall'])} | "
                     f"{fmt(b['mean_band_kendall'])} |")
    lines += ["", "The default's weight was fitted on truth A, so its A rows are in-sample; out of sample (the "
              "weight refitted without the preset predicted, or without the pair judged):"]
    for fit in ("LOO fit", "LPO rank fit"):
        keys = [k for k in pre if k.startswith(f"{fit} [params, {OUT_OF_SAMPLE_BASE}")]
        lines += [f"- `{k}`: Kendall {fmt(pre[k]['overall']['kendall'])}, mean band tau "
                  f"{fmt(pre[k]['mean_band_kendall'])}" for k in keys]
    best_b = max((k for k in hyb if not k.startswith("long training")),
                 key=lambda k: hyb[k]["overall"]["kendall"] or -9, default=None)
    ceiling = hyb.get("long training, second seed (ceiling)", {"overall": {"kendall": None}})["overall"]["kendall"]
    if best_b:
        lines += ["", f"Best signal on B: `{best_b}` ({fmt(hyb[best_b]['overall']['kendall'])}); seed ceiling of "
                  f"the long training itself: {fmt(ceiling)}."]
    return [*lines, ""]


def write_markdown(state: dict, summary: dict, path: Path, bands: int) -> None:
    s = state["settings"]
    lines = [
        "# Proxy truth: every signal against published ImageNet top-1 and 10x longer training", "",
        f"Commands: {'; '.join(f'`{c}`' for c in s['commands'])}  ",
        f"torch {s['torch']}, 1 thread, CPU ({s['machine']}); cost = median CPU seconds per network "
        "(process time, one thread; for `train` rows training + scoring, for `sotl` rows training only).", "",
        f"Data: {s['data']} via load_dataset(seed=0): {s['n_train']} training / {s['n_val']} validation images. "
        "Training runs `tS-bB-rR`: S steps of batch B at proxy resolution R (rounded up to the stride), the "
        "`train` proxy's recipe (AdamW 2e-3, warm-up + cosine over S, crop/flip, label smoothing 0.1), seed 0, "
        "read at every rung (`@k`: after k of the S steps).", "",
    ]
    lines += targets(summary)
    for set_name, title in (("presets", "A: published ImageNet-1k top-1 of the 16 presets"),
                            ("hybrid", "B: 10x longer training (400 steps, test top-1) of 22 hybrid-vit networks")):
        if set_name not in summary:
            continue
        nets = state["networks"][set_name]
        band = bands_of(nets, bands)
        ranges = []
        for b in range(bands):
            lat = [nets[n]["latency_ms"] for n in nets if band[n] == b]
            ranges.append(f"{min(lat):.2f}-{max(lat):.2f} ms ({len(lat)})")
        lines += [f"## {title}", "", f"Latency bands (iphone12 table): {', '.join(ranges)}.", ""]
        lines += table(summary[set_name], bands) + [""]
    if "transfer" in summary:
        lines += ["## A->B: the preset fit applied unchanged to the 22 networks", ""]
        lines += table(summary["transfer"], bands) + [""]
    lines += ["## Published top-1 used (truth A)", "", "| preset | top-1 | source |", "|---|---|---|"]
    lines += [f"| {n} | {v[0]} | {v[1]} |" for n, v in PUBLISHED.items()] + [""]
    path.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = next((p / "shared" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared").is_dir()),
                  ROOT.parent / "shared")
    ap.add_argument("--data", default=str(shared / "data" / "cifar10-dev"),
                    help="the CIFAR-10 dev subset (default: ../shared/data/cifar10-dev)")
    ap.add_argument("--runs", nargs="*", default=["t40-b64-r32"], help="training runs tS-bB-rR[-sSEED]")
    ap.add_argument("--sets", nargs="*", default=["hybrid", "presets"], choices=["hybrid", "presets"])
    ap.add_argument("--zero-cost-seeds", nargs="*", type=int, default=[0],
                    help="seeds of the training-free proxies (each a signal of its own)")
    ap.add_argument("--default-on", nargs="*", default=[], metavar="SPEC",
                    help="also score the default proxy on these datasets (e.g. digits, the search's default)")
    ap.add_argument("--bands", type=int, default=3)
    ap.add_argument("--fidelity", default=str(ROOT / "benchmarks" / "results" / "proxy_fidelity_40.json"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "proxy_truth"))
    ap.add_argument("--report-only", action="store_true", help="rewrite the tables from the cached JSON")
    args = ap.parse_args()
    for run in args.runs:
        if not RUN_RE.match(run):
            ap.error(f"run '{run}' is not tSTEPS-bBATCH-rRES[-sSEED] (e.g. t40-b64-r32)")
    torch.set_num_threads(1)
    out_json, out_md = Path(args.out + ".json"), Path(args.out + ".md")
    state = json.loads(out_json.read_text()) if out_json.exists() else {}
    data = load_dataset(f"cifar10:{args.data}", seed=0)
    command = command_line()
    settings = state.setdefault("settings", {"commands": []})
    settings.update({"torch": torch.__version__, "machine": platform.machine(), "data": args.data,
                     "n_train": len(data.train_y), "n_val": len(data.val_y), "date": time.strftime("%Y-%m-%d")})
    if not args.report_only and command not in settings["commands"]:
        settings["commands"].append(command)
    load_networks(state, json.loads(Path(args.fidelity).read_text()))

    def save() -> None:
        tmp = out_json.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(out_json)

    save()
    if not args.report_only:
        zero_cost_jobs(state, args.sets, args.zero_cost_seeds, data, save)
        default_on_other_data(state, args.sets, args.default_on, save)
        training_jobs(state, args.runs, args.sets, data, Path(args.out + "_states"), save)
    summary = {name: score_rows(state, name, args.bands) for name in ("presets", "hybrid")
               if name in state["networks"]}
    if all(len(signals(state, n)) > 2 for n in ("presets", "hybrid")):
        summary["transfer"] = transfer_rows(state, args.bands)
    state["summary"] = summary
    save()
    write_markdown(state, summary, out_md, args.bands)
    print(out_md.read_text())


if __name__ == "__main__":
    main()
