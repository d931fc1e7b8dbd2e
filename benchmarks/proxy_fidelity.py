"""How well does each accuracy proxy rank architectures? Rank correlation with longer training.

For >= 20 architectures spread over the cost range, computes every registered proxy (short training and
the training-free scores, parameter count as the baseline) and trains each architecture "long"
(``--long-mult`` x the proxy's step budget, two seeds), then reports Kendall tau and Spearman rho of every
proxy against the long-training test accuracy, overall and within cost bands, beside the seed-to-seed
ceiling (long seed A vs long seed B). Resumable: finished evaluations are cached in the JSON.

    taskset -c 1 python benchmarks/proxy_fidelity.py [CIFAR_DIR] [--archs 22] [--proxy-steps 24]

CIFAR_DIR defaults to ../shared/data/cifar10-dev (the 5,000/1,000-image CIFAR-10 dev subset).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from scipy.stats import kendalltau, spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nas.config import ArchConfig  # noqa: E402
from nas.models.builder import build_model  # noqa: E402
from nas.models.stats import count_macs, network_stats  # noqa: E402
from nas.proxy import PROXIES, get_proxy, load_dataset  # noqa: E402
from nas.proxy.train import TrainProxy  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
POOL = 160  # random configs drawn from the space before picking a spread of costs


def sample_archs(n: int, seed: int, *, space_name: str = "hybrid-vit", max_quantile: float = 0.5) -> list[ArchConfig]:
    """``n`` architectures of the search space spread evenly over its cost (MACs at 32x32) range.

    Draws POOL random configs (optuna RandomSampler), drops the costliest ``1 - max_quantile`` (too slow to
    train "long" on one CPU core), then takes ``n`` spread evenly over the sorted costs.
    """
    import optuna

    from nas.space import load_space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = load_space(space_name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    pool: list[tuple[int, ArchConfig]] = []
    for i in range(POOL):
        trial = study.ask()
        cfg = space.sample(trial)
        cfg = cfg.replace(name=f"s{i:03d}-{cfg.name.removeprefix(space.name + '-')}",
                          choices={**cfg.choices, "params": trial.params})
        pool.append((count_macs(build_model(cfg, resolution=32, num_classes=10), (1, 3, 32, 32)), cfg))
    pool.sort(key=lambda t: t[0])
    pool = pool[:max(n, int(len(pool) * max_quantile))]
    picks = sorted({round(i * (len(pool) - 1) / (n - 1)) for i in range(n)})
    return [pool[i][1] for i in picks]


def long_accuracy(cfg: ArchConfig, data, *, steps: int, batch: int, seed: int) -> dict:
    """Train ``steps`` steps and report top-1 on the source's test split (not the proxies' validation split)."""
    test_view = data.__class__(data.name, data.classes, data.train_x, data.train_y, data.test_x, data.test_y,
                               data.mean, data.std, data.hflip)
    r = TrainProxy(steps=steps, batch_size=batch).evaluate(cfg, test_view, seed=seed)
    return r.to_dict()


def correlations(xs: list[float], ys: list[float]) -> dict:
    if len(xs) < 3:
        return {"n": len(xs), "kendall": None, "spearman": None}
    return {"n": len(xs), "kendall": float(kendalltau(xs, ys).statistic),
            "spearman": float(spearmanr(xs, ys).statistic)}


def price_latency(state: dict, device: str) -> str | None:
    """Store each architecture's predicted latency on ``device``; returns the device or None (missing keys)."""
    from nas.errors import NasError
    from nas.latency.predict import predict_ms
    from nas.latency.table import load_table

    try:
        table = load_table(device)
        lat = {a: predict_ms(ArchConfig.from_dict(v["config"]), table) for a, v in state["archs"].items()}
    except NasError as exc:
        print(f"latency bands unavailable ({str(exc)[:200]}); using MAC bands", file=sys.stderr)
        return None
    for a, ms in lat.items():
        state["archs"][a]["latency_ms"] = ms
    return f"{table.device} ({table.method})"


def analyse(state: dict, proxies: list[str], bands: int, band_by: str) -> dict:
    archs = state["archs"]
    res = state["results"]
    names = [a for a in archs if res.get(a, {}).get("long_a", {}).get("ok")]
    macs = {a: archs[a][band_by] for a in names}
    order = sorted(names, key=lambda a: macs[a])
    band_of = {a: min(bands - 1, i * bands // max(1, len(order))) for i, a in enumerate(order)}
    band_ranges = []
    for b in range(bands):
        members = [macs[a] for a in order if band_of[a] == b]
        band_ranges.append([min(members), max(members)] if members else None)
    target = {a: res[a]["long_a"]["score"] for a in names}
    rows = {}
    scorers = {p: (lambda a, p=p: (res[a].get(p) or {}).get("score")) for p in proxies}
    scorers["long seed B (ceiling)"] = lambda a: (res[a].get("long_b") or {}).get("score")
    for label, fn in scorers.items():
        pairs = [(fn(a), target[a], a) for a in names if fn(a) is not None]
        row = {"overall": correlations([p[0] for p in pairs], [p[1] for p in pairs]), "bands": []}
        for b in range(bands):
            sub = [p for p in pairs if band_of[p[2]] == b]
            row["bands"].append(correlations([p[0] for p in sub], [p[1] for p in sub]))
        taus = [c["kendall"] for c in row["bands"] if c["kendall"] is not None and not math.isnan(c["kendall"])]
        row["mean_band_kendall"] = statistics.fmean(taus) if taus else None
        secs = [res[a][k]["seconds"] for a in names for k in ([label] if label in proxies else ["long_b"])
                if res[a].get(k)]
        row["median_seconds"] = statistics.median(secs) if secs else None
        failed = [a for a in names if label in proxies and res[a].get(label) and not res[a][label]["ok"]]
        row["failed"] = failed
        rows[label] = row
    accs = [target[a] for a in names]
    proxy_accs = [res[a]["train"]["score"] for a in names if (res[a].get("train") or {}).get("ok")]
    ranked = sorted(proxies, key=lambda p: (-(rows[p]["overall"]["kendall"] or -1.0), rows[p]["median_seconds"]))
    return {"best_proxy": ranked[0], "train_proxy_accuracy": [min(proxy_accs), max(proxy_accs)],
            "n_archs": len(names), "band_by": band_by, "band_ranges": band_ranges, "rows": rows,
            "long_accuracy": {"min": min(accs), "max": max(accs), "mean": statistics.fmean(accs)}}


def write_markdown(state: dict, summary: dict, path: Path) -> None:
    s = state["settings"]
    bands = len(summary["band_ranges"])
    unit = "ms" if summary["band_by"] == "latency_ms" else "M MACs"
    if summary["band_by"] == "latency_ms":
        band_text = (f"- Latency bands: tertiles of the latency predicted by the `{s['latency_device']}` table at "
                     f"the deploy resolution")
    else:
        band_text = "- Cost bands: no complete latency table, so bands are MAC tertiles at the deploy resolution"
    head = ["proxy", "Kendall tau", "Spearman"] + [f"tau band {i + 1}" for i in range(bands)] + \
        ["mean band tau", "median s / arch"]
    lines = [
        "# Proxy fidelity: rank correlation with longer training",
        "",
        f"Command: `{s['command']}`  ",
        f"Date: {s['date']}; torch {s['torch']}, {s['threads']} thread, CPU ({s['machine']}).",
        "",
        f"- Data: CIFAR-10 dev subset ({s['data']}): proxies train on {s['n_train']} images and validate on "
        f"{s['n_val']} held-out training images; long training is scored on the {s['n_test']} test images.",
        f"- Architectures: {summary['n_archs']} configs of the `hybrid-vit` space (optuna RandomSampler, seed 0, "
        f"{POOL} drawn, the costliest half dropped as too slow to train long on one core, then spread evenly "
        "over the MACs of the rest), all trained at 32 x 32.",
        f"- Proxy budget (`train`): {s['proxy_steps']} steps x batch {s['batch']}; long training: "
        f"{s['long_steps']} steps x batch {s['batch']} ({s['long_steps'] // s['proxy_steps']}x), AdamW, "
        "warm-up + cosine, crop/flip, label smoothing 0.1; seeds: proxies 0, long A 1, long B 2.",
        "- Zero-cost proxies at initialisation on real batches of 64 images (ZiCo: 2 batches; NASWOT: 1; "
        "synflow is data-free).",
        band_text + f" ({unit}: "
        f"{', '.join(f'{r[0]:.1f}-{r[1]:.1f}' for r in summary['band_ranges'] if r is not None)}).",
        f"- Long-training test top-1 ranges {summary['long_accuracy']['min']:.3f}-"
        f"{summary['long_accuracy']['max']:.3f} (mean {summary['long_accuracy']['mean']:.3f}); the `train` "
        f"proxy's validation top-1 ranges {summary['train_proxy_accuracy'][0]:.3f}-"
        f"{summary['train_proxy_accuracy'][1]:.3f} (chance 0.1).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]

    def f(v: float | None) -> str:
        return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:+.2f}"

    for label, row in summary["rows"].items():
        cells = [label, f(row["overall"]["kendall"]), f(row["overall"]["spearman"])]
        cells += [f(b["kendall"]) for b in row["bands"]]
        cells += [f(row["mean_band_kendall"]),
                  "n/a" if row["median_seconds"] is None else f"{row['median_seconds']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"n = {summary['rows'][next(iter(summary['rows']))]['overall']['n']} architectures overall; "
              f"{', '.join(str(b['n']) for b in summary['rows'][next(iter(summary['rows']))]['bands'])} per band. "
              "The ceiling row ranks the long-training accuracies of a second seed against the first.", "",
              f"Best overall Kendall tau (ties to the cheaper): `{summary['best_proxy']}`. The default proxy "
              "(`nas.proxy.DEFAULT_PROXY`) is chosen by benchmarks/proxy_truth.py, against published accuracy too.",
              ""]
    path.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="?", default=str(ROOT.parent / "shared" / "data" / "cifar10-dev"))
    ap.add_argument("--archs", type=int, default=22)
    ap.add_argument("--proxy-steps", type=int, default=16)
    ap.add_argument("--long-mult", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-train", type=int, default=4000)
    ap.add_argument("--max-val", type=int, default=500)
    ap.add_argument("--bands", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "proxy_fidelity"))
    ap.add_argument("--latency-table", default="x86-2core-ort",
                    help="Device whose latency table sets the bands (MAC bands if it lacks keys).")
    ap.add_argument("--report-only", action="store_true", help="Rewrite the tables from the cached JSON.")
    args = ap.parse_args()
    torch.set_num_threads(1)
    out_json, out_md = Path(args.out + ".json"), Path(args.out + ".md")
    proxies = list(PROXIES)
    state = json.loads(out_json.read_text()) if out_json.exists() else {}
    data = load_dataset(f"cifar10:{args.data}", seed=0).subset(max_train=args.max_train, max_val=args.max_val)
    settings = {"command": "taskset -c 1 python benchmarks/proxy_fidelity.py " + " ".join(sys.argv[1:]),
                "date": time.strftime("%Y-%m-%d"), "torch": torch.__version__, "threads": 1,
                "machine": platform.machine(), "data": args.data, "n_train": len(data.train_y),
                "n_val": len(data.val_y), "n_test": len(data.test_y), "proxy_steps": args.proxy_steps,
                "long_steps": args.proxy_steps * args.long_mult, "batch": args.batch}
    state.setdefault("settings", settings)
    if "archs" not in state:
        state["archs"] = {}
        for cfg in sample_archs(args.archs, seed=0):
            params, macs = network_stats(cfg)
            state["archs"][cfg.name] = {"config": cfg.to_dict(), "params_m": params / 1e6, "macs_m": macs / 1e6}
    state.setdefault("results", {})

    def save() -> None:
        out_json.write_text(json.dumps(state, indent=1))

    save()
    s = state["settings"]
    # seed B of every other architecture right after its seed A, so an interrupted run still has a ceiling
    names = list(state["archs"])
    jobs = [(a, p) for i, a in enumerate(names) for p in proxies + ["long_a"] + (["long_b"] if i % 2 == 0 else [])]
    jobs += [(a, "long_b") for a in names[1::2]]
    for i, (name, key) in enumerate(jobs):
        if args.report_only or key in state["results"].get(name, {}):
            continue
        cfg = ArchConfig.from_dict(state["archs"][name]["config"])
        t0 = time.perf_counter()
        if key == "long_a" or key == "long_b":
            r = long_accuracy(cfg, data, steps=s["long_steps"], batch=s["batch"], seed=1 if key == "long_a" else 2)
        elif key == "train":
            r = get_proxy("train", steps=s["proxy_steps"], batch_size=s["batch"]).evaluate(cfg, data, seed=0).to_dict()
        else:
            r = get_proxy(key).evaluate(cfg, data, seed=0).to_dict()
        state["results"].setdefault(name, {})[key] = r
        save()
        print(f"[{i + 1}/{len(jobs)}] {name} {key}: score={r['score']} ok={r['ok']} "
              f"{time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
    device = price_latency(state, args.latency_table)
    state["settings"]["latency_device"] = device
    summary = analyse(state, proxies, args.bands, "latency_ms" if device else "macs_m")
    state["summary"] = summary
    save()
    write_markdown(state, summary, out_md)
    print(out_md.read_text())


if __name__ == "__main__":
    main()
