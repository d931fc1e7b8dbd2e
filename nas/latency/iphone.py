"""The estimated iPhone 12 latency table: a small cost model fitted to published Core ML latencies.

No iPhone is at hand, so ``latency_tables/iphone12.json`` is *estimated*: the per-op features of
every block (:mod:`nas.latency.costmodel`) priced by a handful of non-negative coefficients fitted to
published end-to-end iPhone 12 latencies of networks this tool rebuilds exactly (the calibration
rows in ``nas/latency/data/iphone12_published.csv``, with their sources and notes).

Protocols differ between sources, so every protocol gets a scale factor and the fit is
``published_ms = scale[protocol] * sum_g coef[g] * features_g``. The reference protocol (scale 1,
the one the table reproduces) is the Apple CVNets papers' (MobileViT, MobileViTv2: coremltools
conversion, mean of 100 runs on an iPhone 12), which holds most of the rebuildable rows and all the
attention variants. The other protocols' scales are stored in the table's provenance.

Two physical facts constrain the fit where the rows cannot: a MAC never costs less than at the
A14 Neural Engine's peak (11 TOPS fp16 = 5.5e12 MAC/s), and HardSwish (in no rebuildable row) is
priced from the published LeViT-256 pair (44.5 ms with HardSwish vs 11.9 ms with GELU).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as _dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nas.config import ArchConfig
from nas.errors import NasError
from nas.latency.costmodel import CostModel, fit_nonneg, network_features

DEVICE = "iphone12"
DATA_CSV = Path(__file__).resolve().parent / "data" / "iphone12_published.csv"
REFERENCE_PROTOCOL = "cvnets-coremltools"
PROTOCOLS: dict[str, str] = {
    "cvnets-coremltools": "Apple CVNets papers (MobileViT ICLR'22 Sec.4.3, MobileViTv2 'following [4]'): model "
                          "converted with coremltools, mean over 100 runs on an iPhone 12, batch 1; compute "
                          "units not stated (Core ML default: all)",
    "efficientformer-v1-app": "EfficientFormer V1: vladimir-chernykh/coreml-performance app, 50 warm-up runs, mean "
                              "of 500, computeUnits .all, iPhone 12",
    "xcode14-ios16": "Xcode 14 Core ML performance report on iOS 16 (EfficientFormerV2, RepViT), iPhone 12",
}

# Cost-model groups: coefficient name -> the features it prices (ms per unit).
GROUPS: dict[str, tuple[str, ...]] = {
    "mac": ("conv_macs", "pw_macs", "dw_macs", "linear_macs", "attn_macs"),
    "softmax": ("softmax_el",),
    "act": ("gelu_el", "silu_el", "relu_el", "sigmoid_el"),
    "move": ("move_el", "resize_el"),
    "memory": ("layernorm_el", "groupnorm_el", "eltwise_el", "reduce_el", "pool_el"),
    "op": ("ops",),
}
# BatchNorm elements are priced at 0: Core ML folds a BatchNorm into the conv before it.
UNPRICED = ("batchnorm_el", "networks")
A14_ANE_PEAK_MACS_PER_S = 5.5e12  # 11 TOPS fp16 (Apple) = 5.5e12 multiply-accumulates per second
MAC_FLOOR_MS = 1e3 / A14_ANE_PEAK_MACS_PER_S
# LeViT-256 at 224 pushes 1,757,440 elements through its 31 HardSwish ops: stem 401,408 + 200,704 +
# 100,352; four blocks per stage of attention-output (N x 2*32*heads) + MLP-hidden (N x 2D) elements:
# 4 x (196 x 256 + 196 x 512) + 4 x (49 x 384 + 49 x 768) + 4 x (16 x 512 + 16 x 1024); the two
# subsampling attentions and their MLPs: 49 x 1024 + 49 x 768 + 16 x 1536 + 16 x 1024
# (facebookresearch/LeViT levit.py, LeViT_256: D 256/384/512, heads 4/6/8, key_dim 32).
LEVIT256_HARDSWISH_ELEMENTS = 1_757_440
# What the table can say about activations (the provenance states it, so a user knows what it cannot tell apart)
ACTIVATION_PRICING = (
    "GELU, ReLU, SiLU and sigmoid share one coefficient per element (group 'act'): an assumption, not a "
    "measurement. No published iPhone 12 row this tool rebuilds isolates one of them from another (no two "
    "rows differ only in the activation), so the fit cannot price them apart; networks that differ only in "
    "these activations get the same latency (the report groups them). HardSwish is priced apart, from the "
    "published LeViT-256 pair (hardswish_prior).")
RIDGE = 0.0


class CalibrationError(NasError):
    """The calibration data is missing or inconsistent."""


# ----------------------------------------------------------------------------- calibration networks
def _preset(name: str, resolution: int | None = None) -> Callable[[], ArchConfig]:
    def make() -> ArchConfig:
        from nas.models.presets import get_preset

        cfg = get_preset(name)
        return cfg.replace(resolution=resolution) if resolution else cfg

    return make


def _mobilevit_s_patches_842() -> ArchConfig:
    """MobileViT-S with patch sizes 8, 4, 2 in its three MobileViT stages (MobileViT paper Table 6)."""
    from nas.models.presets import get_preset

    cfg = get_preset("mobilevit-s")
    stages = list(cfg.stages)
    mvit = [i for i, st in enumerate(stages) if st.mixer.kind == "mobilevit"]
    for i, patch in zip(mvit, (8, 4, 2)):
        stages[i] = dataclasses.replace(stages[i], mixer=dataclasses.replace(stages[i].mixer, patch_size=patch))
    return cfg.replace(name="mobilevit-s-p842", stages=tuple(stages))


def _deit_base() -> ArchConfig:
    from nas.models.families import build_family

    return build_family("vit", {"embed_dim": 768, "head_dim": 64, "depth": 12, "mlp_ratio": 4.0,
                                "patch_size": 16}, name="deit-base", resolution=224)


# The ``arch`` column of the calibration csv -> the network the builder rebuilds for that row.
ARCHS: dict[str, Callable[[], ArchConfig]] = {
    "deit-tiny": _preset("deit-tiny"),
    "deit-base": _deit_base,
    "mobilevit-xs": _preset("mobilevit-xs"),
    "mobilevit-s": _preset("mobilevit-s"),
    "mobilevit-s-p842": _mobilevit_s_patches_842,
    "mobilevitv2-0.5": _preset("mobilevitv2-0.5"),
    "mobilevitv2-1.0": _preset("mobilevitv2-1.0"),
    "mobilevitv2-2.0": _preset("mobilevitv2-2.0"),
    "mobilevitv2-2.0@384": _preset("mobilevitv2-2.0", 384),
    "efficientformer-l1": _preset("efficientformer-l1"),
    "efficientformer-l7": _preset("efficientformer-l7"),
}


@dataclass(frozen=True)
class PublishedRow:
    """One calibration row: a published latency, the network that rebuilds it and its role.

    ``role`` is ``fit`` (fitted and validated), ``excluded`` (shown by validation with ``reason``,
    never fitted) or ``prior`` (used for a documented prior, e.g. the HardSwish cost).
    """

    model: str
    arch: str
    protocol: str
    role: str
    latency_ms: float
    resolution: int | None
    source: str
    notes: str
    reason: str

    def config(self) -> ArchConfig:
        """The rebuilt network, at the row's resolution."""
        return ARCHS[self.arch]()


def load_rows(path: str | Path = DATA_CSV) -> list[PublishedRow]:
    """The calibration rows shipped with the package; errors name the file and the row."""
    path = Path(path)
    try:
        records = list(csv.DictReader(path.open(newline="")))
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read ({exc.strerror or exc})") from None
    rows = []
    for n, rec in enumerate(records, start=2):
        where = f"{path}, line {n} ({rec.get('model')})"
        role, arch, protocol = rec.get("role", ""), rec.get("arch", ""), rec.get("protocol", "")
        if role not in ("fit", "excluded", "prior"):
            raise CalibrationError(f"{where}: role '{role}' must be fit, excluded or prior")
        if protocol not in PROTOCOLS:
            raise CalibrationError(f"{where}: protocol '{protocol}'; known: {', '.join(PROTOCOLS)}")
        if role != "prior" and arch not in ARCHS:
            raise CalibrationError(f"{where}: arch '{arch}'; known: {', '.join(ARCHS)}")
        res = int(rec["resolution"]) if rec.get("resolution") else None
        rows.append(PublishedRow(model=rec["model"], arch=arch, protocol=protocol, role=role,
                                 latency_ms=float(rec["latency_ms"]), resolution=res, source=rec["source"],
                                 notes=rec["notes"], reason=rec.get("reason", "")))
    for row in rows:
        if row.role != "prior" and row.resolution and row.resolution != row.config().resolution:
            raise CalibrationError(f"{path}: {row.model} is published at {row.resolution} but arch "
                                   f"'{row.arch}' builds at {row.config().resolution}")
    return rows


# ----------------------------------------------------------------------------- fit
@dataclass
class IphoneFit:
    """A fitted iPhone 12 cost model, its protocol scales and its leave-one-network-out errors."""

    model: CostModel
    scales: dict[str, float]
    rows: list[PublishedRow]
    fit_ms: list[float]  # in-sample prediction of each fit row, in its protocol
    loo_ms: list[float]  # prediction of each fit row with every row of its network left out
    hardswish: dict[str, float] = field(default_factory=dict)

    @property
    def loo_ape(self) -> list[float]:
        """Leave-one-network-out absolute percentage error of each fit row."""
        return [abs(p - r.latency_ms) / r.latency_ms * 100 for p, r in zip(self.loo_ms, self.rows)]

    @property
    def loo_mape(self) -> float:
        """Mean of :attr:`loo_ape`."""
        return float(np.mean(self.loo_ape))

    def per_row(self) -> list[dict[str, Any]]:
        """Per-row summary: published, fitted and leave-one-out predictions and errors."""
        return [
            {"model": r.model, "arch": r.arch, "protocol": r.protocol, "published_ms": r.latency_ms,
             "fit_ms": round(f, 3), "loo_ms": round(lo, 3), "loo_ape_pct": round(e, 1), "source": r.source}
            for r, f, lo, e in zip(self.rows, self.fit_ms, self.loo_ms, self.loo_ape)
        ]


def _solve(X: np.ndarray, y: np.ndarray, protocols: list[str], lower: np.ndarray,
           iterations: int = 100) -> tuple[np.ndarray, dict[str, float]]:
    """Alternate: coefficients by bounded least squares on relative error, then each protocol's scale."""
    scales = dict.fromkeys(sorted(set(protocols)), 1.0)
    s = np.ones(len(y))
    for _ in range(iterations):
        s = np.array([scales[p] for p in protocols])
        coef = fit_nonneg(X * s[:, None], y, weights=1.0 / y, lower=lower)
        pred = X @ coef
        new = dict(scales)
        for p in scales:
            if p == REFERENCE_PROTOCOL:
                continue
            idx = [i for i, q in enumerate(protocols) if q == p]
            r = pred[idx] / y[idx]  # argmin_s sum((s * r - 1)^2)
            new[p] = float(np.sum(r) / np.sum(r * r)) if np.any(r) else 1.0
        done = max(abs(new[p] - scales[p]) for p in scales) < 1e-9
        scales = new
        if done:
            break
    return coef, scales


def fit(rows: Iterable[PublishedRow] | None = None) -> IphoneFit:
    """Fit the cost model to the ``fit`` rows, with leave-one-network-out errors.

    Leaving a row out drops every row of the same network (in any protocol), so a duplicate
    measurement never predicts itself.
    """
    rows = [r for r in (load_rows() if rows is None else rows) if r.role == "fit"]
    if not any(r.protocol == REFERENCE_PROTOCOL for r in rows):
        raise CalibrationError(f"no fit row of the reference protocol '{REFERENCE_PROTOCOL}'")
    base = CostModel(GROUPS)
    feats = {a: network_features(ARCHS[a]()) for a in sorted({r.arch for r in rows})}
    X = np.array([base.design(feats[r.arch]) for r in rows])
    y = np.array([r.latency_ms for r in rows])
    protocols = [r.protocol for r in rows]
    lower = np.array([MAC_FLOOR_MS if g == "mac" else 0.0 for g in GROUPS])
    coef, scales = _solve(X, y, protocols, lower)
    fit_ms = [float(X[i] @ coef * scales[protocols[i]]) for i in range(len(rows))]
    loo_ms = []
    for i, row in enumerate(rows):
        keep = [j for j, r in enumerate(rows) if r.arch != row.arch]
        c, s = _solve(X[keep], y[keep], [protocols[j] for j in keep], lower)
        loo_ms.append(float(X[i] @ c * s.get(row.protocol, 1.0)))
    model, hardswish = _with_hardswish(base.with_coef(coef), scales)
    return IphoneFit(model=model, scales=scales, rows=rows, fit_ms=fit_ms, loo_ms=loo_ms, hardswish=hardswish)


def _with_hardswish(model: CostModel, scales: dict[str, float]) -> tuple[CostModel, dict[str, float]]:
    """Add the HardSwish coefficient: the fitted activation cost plus the LeViT-256 excess per element.

    The LeViT pair was timed with the EfficientFormer V1 app; its excess is converted to the
    reference protocol with that protocol's fitted scale.
    """
    prior = {r.model: r for r in load_rows() if r.role == "prior"}
    hs = next(r for m, r in prior.items() if "HardSwish" in m and "GeLU" not in m)
    gelu = next(r for m, r in prior.items() if "GeLU" in m)
    scale = scales.get(hs.protocol, 1.0)
    excess_ms = (hs.latency_ms - gelu.latency_ms) / scale / LEVIT256_HARDSWISH_ELEMENTS
    groups = {**model.groups, "hardswish": ("hardswish_el",)}
    coef = {**model.coef_ms, "hardswish": model.coef_ms["act"] + excess_ms}
    info = {"levit256_hardswish_ms": hs.latency_ms, "levit256_gelu_ms": gelu.latency_ms,
            "levit256_hardswish_elements": LEVIT256_HARDSWISH_ELEMENTS, "protocol_scale": scale,
            "excess_ms_per_element": excess_ms}
    return CostModel(groups, coef), info


# ----------------------------------------------------------------------------- the table
def table_specs(spaces: Iterable[str] | None = None) -> dict[str, Any]:
    """Block key -> BlockSpec for every key of the shipped spaces (at their resolution), every preset
    at its published resolution, and every calibration network."""
    from nas.models.plan import distinct_blocks
    from nas.models.presets import PRESETS
    from nas.space import list_spaces, load_space
    from nas.space_members import block_specs

    specs: dict[str, Any] = {}
    for ref in list_spaces().values() if spaces is None else spaces:
        for key, spec in block_specs(load_space(ref)).items():
            specs.setdefault(key, spec)
    cfgs = [p.config for p in PRESETS.values()] + [make() for make in ARCHS.values()]
    for key, spec in distinct_blocks(cfgs).items():
        specs.setdefault(key, spec)
    return specs


def build_table(result: IphoneFit, specs: dict[str, Any], *,
                progress: Callable[[int, int], None] | None = None) -> Any:
    """The estimated LatencyTable: the model's prediction for every spec, provenance included."""
    from nas import __version__
    from nas.latency.costmodel import block_features
    from nas.latency.table import LatencyTable

    entries: dict[str, dict[str, Any]] = {}
    for n, (key, spec) in enumerate(sorted(specs.items()), start=1):
        entries[key] = {"ms": round(result.model.predict_ms(block_features(spec)), 6)}
        if progress:
            progress(n, len(specs))
    rows_used = sorted({(r.model, r.protocol, r.source) for r in result.rows})
    provenance = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tool_version": __version__,
        "source": "cost model fitted to published iPhone 12 Core ML latencies (nas tables fit)",
        "statistic": "mean (as published)",
        "protocol": REFERENCE_PROTOCOL,
        "protocol_description": PROTOCOLS[REFERENCE_PROTOCOL],
        "protocol_scales": {p: round(s, 4) for p, s in sorted(result.scales.items())},
        "protocol_scales_note": "published_ms ~= scale * table_ms for a row of that protocol; multiply this "
                                "table's numbers by a scale to estimate that protocol",
        "model": "latency_ms = sum_g coef_ms[g] * sum(features of group g); features counted per aten op of "
                 "each block built alone (nas.latency.costmodel)",
        "groups": {g: list(fs) for g, fs in result.model.groups.items()},
        "unpriced_features": list(UNPRICED),
        "coef_ms": {g: float(f"{c:.6g}") for g, c in result.model.coef_ms.items()},
        "constraints": f"coefficients >= 0; mac >= {MAC_FLOOR_MS:.4g} ms (A14 Neural Engine peak, 11 TOPS fp16)",
        "hardswish_prior": {k: float(f"{v:.6g}") for k, v in result.hardswish.items()},
        "activation_pricing": ACTIVATION_PRICING,
        "loo": "leave-one-network-out: every row of the left-out network is dropped, coefficients and scales "
               "refitted, the network predicted",
        "loo_mape_pct": round(result.loo_mape, 2),
        "rows": result.per_row(),
        "sources": [f"{m} [{p}]: {s}" for m, p, s in rows_used],
        "calibration_data": "nas/latency/data/iphone12_published.csv",
        "keys": "every block key of the shipped search spaces at their resolution, plus every preset at its "
                "published resolution and every calibration network",
    }
    return LatencyTable(device=DEVICE, runtime="coreml", method="estimated", resolution=224, batch=1,
                        threads=None, runtime_version="Core ML (iOS 14-16, per source)", compute_unit="all",
                        network_overhead_ms=0.0, provenance=provenance, entries=entries)


def default_table_path() -> Path:
    """Where the shipped estimated table lives (``latency_tables/iphone12.json``)."""
    from nas.resources import data_dir

    return data_dir("latency_tables") / f"{DEVICE}.json"


def refit_path(out: str | Path | None = None, *, force: bool = False) -> Path:
    """Where a refit is written: ``out``, else the shipped table, which only ``force`` rewrites.

    Raises:
        UsageError: the target is a table shipped with nas and ``force`` is not given.
    """
    from nas.errors import UsageError
    from nas.latency.table import is_shipped

    target = Path(out) if out else default_table_path()
    if is_shipped(target) and not force:
        raise UsageError(f"refitting {DEVICE} writes {target}, a table shipped with nas: pass --force to rewrite it, "
                         "or --out FILE to write the refit elsewhere")
    return target


def fit_and_write(path: str | Path | None = None, *,
                  progress: Callable[[int, int], None] | None = None) -> tuple[Any, IphoneFit]:
    """Refit the model and write the estimated table (default: the shipped ``iphone12.json``)."""
    from nas.latency.table import save_table

    result = fit()
    table = build_table(result, table_specs(), progress=progress)
    save_table(table, Path(path) if path else default_table_path())
    return table, result


# ----------------------------------------------------------------------------- validation
def validate_published(table: Any, rows: Iterable[PublishedRow] | None = None) -> dict[str, Any]:
    """Table predictions vs the published rows of the protocol the table reproduces.

    Top-level metrics (``within_10pct``, ``mape``, ``spearman``, ``kendall``, ``flops_spearman``,
    ``params_spearman``, ``samples``) cover the reference protocol's fit rows; ``all_protocols``
    repeats them over every fit row with its protocol's scale applied; ``excluded`` lists the rows
    never fitted, with their errors and reasons. ``rows`` gives the per-row details. The
    FLOPs/params baselines rank the rebuilt networks by their MACs / parameters (``network_stats``).
    """
    from scipy.stats import kendalltau, spearmanr

    from nas.latency.predict import predict_ms
    from nas.models.stats import network_stats

    rows = [r for r in (load_rows() if rows is None else rows) if r.role != "prior"]
    scales = table.provenance.get("protocol_scales", {})
    cache: dict[str, tuple[float, float, float]] = {}
    details = []
    for r in rows:
        if r.arch not in cache:
            cfg = r.config()
            params, macs = network_stats(cfg)
            cache[r.arch] = (predict_ms(cfg, table), macs / 1e9, params / 1e6)
        ms, macs_g, params_m = cache[r.arch]
        scale = float(scales.get(r.protocol, 1.0))
        pred = ms * scale
        details.append({"model": r.model, "arch": r.arch, "protocol": r.protocol, "role": r.role,
                        "published_ms": r.latency_ms, "predicted_ms": round(pred, 3), "protocol_scale": scale,
                        "error_pct": round((pred - r.latency_ms) / r.latency_ms * 100, 1),
                        "macs_g": round(macs_g, 3), "params_m": round(params_m, 2), "source": r.source,
                        **({"reason": r.reason} if r.role == "excluded" else {})})

    def metrics(ds: list[dict[str, Any]]) -> dict[str, Any]:
        y = np.array([d["published_ms"] for d in ds])
        p = np.array([d["predicted_ms"] for d in ds])
        err = np.abs(p - y) / y
        out: dict[str, Any] = {"samples": len(ds), "within_10pct": float(np.mean(err <= 0.10)),
                               "mape": float(np.mean(err) * 100)}
        for name, xs in (("spearman", p), ("flops_spearman", [d["macs_g"] for d in ds]),
                         ("params_spearman", [d["params_m"] for d in ds])):
            out[name] = float(spearmanr(xs, y).statistic) if len(ds) > 2 else float("nan")
        out["kendall"] = float(kendalltau(p, y).statistic) if len(ds) > 2 else float("nan")
        return out

    fit_rows = [d for d in details if d["role"] == "fit"]
    ref = [d for d in fit_rows if d["protocol"] == REFERENCE_PROTOCOL]
    return {
        "device": table.device, "method": table.method, "protocol": REFERENCE_PROTOCOL,
        **metrics(ref),
        "loo_mape_pct": table.provenance.get("loo_mape_pct"),
        "in_sample": "the fit rows calibrated this table: these metrics are in-sample; loo_mape_pct is the "
                     "out-of-sample (leave-one-network-out) error",
        "all_protocols": metrics(fit_rows),
        "excluded": [d for d in details if d["role"] == "excluded"],
        "rows": details,
    }
