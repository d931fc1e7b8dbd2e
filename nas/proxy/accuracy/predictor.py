"""Predicted ImageNet-1k top-1 (%) from the architecture, fitted on published networks, with a 90% interval.

The model (a ``ModelSpec``: a few architecture features, ridge-regularised): the top-1 error below a
ceiling ``C`` follows a power law in size,

    ln(C - top1) = b0 + b . z(features) + e . recipe,
    recipe = [distilled, log2(epochs / 300), one indicator per recipe family other than DeiT's]

with z the features (log10 parameters (M), log10 MACs (G), and optionally log2 stem stride, log2 attention
tokens, log2 blocks, and 1 / sqrt(parameters (M)), which lets the error fall faster among small networks
than among large ones; below the smallest fitting row it continues along its tangent in log parameters, so
the curve stays concave and a far smaller network is not predicted to collapse) standardised on the fitting
rows. Accuracy therefore rises with size and saturates (concave in log size, never above C);
``rises_with_size`` checks that a fit does so for every size. The recipe effects ``e`` are estimated only
from pairs of rows that hold the same network under two recipes (DeiT-Ti and its distilled twin,
EfficientFormer-L1 at 300 and 1000 epochs, ViT-S/16 under DeiT, DeiT III and AugReg...), never across
architectures, where they would be confounded with the architecture; a recipe family none of whose networks
appears under another recipe gets no effect (its rows stay at their published level). Two ways to use them
(``ModelSpec.recipe``): ``corrected`` brings every row to the standard recipe before the size fit;
``published`` fits the size model on the rows as published and only adds the effects for a recipe asked for
(``ignored``, for the benchmark's ablation, uses no recipe information at all). A prediction is always for
one recipe (``standard``: 300 epochs, no distillation, unless asked otherwise).

The interval is split-conformal on leave-one-paper-out residuals: every paper of the fitting rows is held
out in turn, the others fit, and the 90% conformal quantile of the absolute held-out errors is the half
width. Outside the fitting rows' range of parameters or MACs the half width grows by ``EXTRAPOLATION_WIDEN``
per decade beyond the range, and the prediction says so in a note. ``SHIPPED_SPEC`` was chosen by
``benchmarks/accuracy_predictor.py`` on the leave-one-paper-out protocol (see benchmarks/README.md).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas.config import ArchConfig
from nas.proxy.accuracy.dataset import (
    DATA_DIR,
    RECIPES,
    SHIPPED_CSV,
    STANDARD_EPOCHS,
    AccuracyDataError,
    AccuracyRow,
    dataset_digest,
    load_accuracy_rows,
)

# Features of an architecture's counts (``architecture_features``), each a function of that dict.
ARCH_FEATURES: dict[str, Callable[[Mapping[str, float]], float]] = {
    "log10_params_m": lambda a: math.log10(a["params"] / 1e6),
    "log10_macs_g": lambda a: math.log10(a["macs"] / 1e9),
    "log2_stem_stride": lambda a: math.log2(a["stem_stride"]),
    "log2_attention_tokens": lambda a: math.log2(max(1.0, a["attention_tokens"])),
    "log2_blocks": lambda a: math.log2(a["blocks"]),
    "inv_sqrt_params_m": lambda a: (a["params"] / 1e6) ** -0.5,
}
# Scores a caller computes on data and passes in the architecture's dict (the benchmark does; the proxy
# never fits on them).
ZERO_COST_FEATURES = ("naswot", "zico", "synflow")
# The DeiT recipe is the standard (all indicators 0); every other family has its indicator.
RECIPE_FAMILIES = tuple(r for r in RECIPES if r != "deit")
RECIPE_FEATURES = ("distilled", "log2_epochs_ratio", *(f"{r}_recipe" for r in RECIPE_FAMILIES))
RECIPE_MODES = ("corrected", "published", "ignored")
COVERAGE = 0.9
EXTRAPOLATION_WIDEN = 1.0  # extra half widths per decade outside the data's range of params or MACs
FEATURES_FILE = DATA_DIR / "features.json"
ATTENTION_MIXERS = ("mhsa", "mobilevit", "separable", "hilo")
RECIPE_CHOICES = ("standard", "distilled", "deit3")


@dataclass(frozen=True)
class ModelSpec:
    """One variant of the predictor.

    Attributes:
        features: names of ARCH_FEATURES (or ZERO_COST_FEATURES, benchmark only), the first two always
            log10 parameters and log10 MACs (the range checks read them).
        ridge: penalty on the standardised feature coefficients.
        ceiling: the top-1 (%) the power law saturates at (above every row's top-1).
        recipe: ``corrected``, ``published`` or ``ignored`` (see the module docstring).
    """

    features: tuple[str, ...] = ("log10_params_m", "log10_macs_g")
    ridge: float = 10.0
    ceiling: float = 100.0
    recipe: str = "corrected"

    def __post_init__(self) -> None:
        if self.features[:2] != ("log10_params_m", "log10_macs_g"):
            raise ValueError(f"features must start with log10_params_m, log10_macs_g: {self.features}")
        unknown = [f for f in self.features if f not in ARCH_FEATURES and f not in ZERO_COST_FEATURES]
        if unknown or self.recipe not in RECIPE_MODES:
            raise ValueError(f"unknown feature(s) {unknown} or recipe mode {self.recipe!r}")

    @property
    def label(self) -> str:
        """A short name: features, ridge, ceiling, recipe mode."""
        short = {"log10_params_m": "params", "log10_macs_g": "MACs", "log2_stem_stride": "stem stride",
                 "log2_attention_tokens": "attention tokens", "log2_blocks": "blocks",
                 "inv_sqrt_params_m": "1/sqrt(params)"}
        names = " + ".join(short.get(f, f) for f in self.features)
        return f"{names}; ridge {self.ridge:g}; ceiling {self.ceiling:g}; recipe {self.recipe}"


# Chosen by benchmarks/accuracy_predictor.py: the best leave-one-paper-out Kendall of its grid (MAE breaks
# ties), among the variants that honour the recipe option, need no data and rise with size.
SHIPPED_SPEC = ModelSpec(("log10_params_m", "log10_macs_g", "log2_stem_stride", "inv_sqrt_params_m"), ridge=10.0,
                         ceiling=100.0, recipe="corrected")


def architecture_features(cfg: ArchConfig) -> dict[str, float]:
    """Parameters and MACs (at the config's resolution, 1000 classes as published), attention share, stem
    stride, blocks, and the tokens of the largest map an attention mixer sees."""
    from nas.models.stats import network_stats

    deployed = cfg.replace(num_classes=1000)
    params, macs = network_stats(deployed)
    blocks = sum(stage.depth for stage in cfg.stages)
    attention = sum(stage.depth for stage in cfg.stages if stage.mixer.kind in ATTENTION_MIXERS)
    size, tokens = cfg.resolution / cfg.stem.stride, 0.0
    for stage in cfg.stages:
        size /= stage.stride
        if stage.mixer.kind in ATTENTION_MIXERS:
            tokens = max(tokens, size * size)
    return {"params": float(params), "macs": float(macs), "attention_share": attention / max(1, blocks),
            "stem_stride": float(cfg.stem.stride), "blocks": float(blocks), "attention_tokens": tokens}


FEATURE_KEYS = ("params", "macs", "attention_share", "stem_stride", "blocks", "attention_tokens")


def feature_vector(arch: Mapping[str, float], *, distilled: bool, epochs: int | None, recipe: str,
                   spec: ModelSpec = SHIPPED_SPEC) -> np.ndarray:
    """The model's inputs (``spec.features``, then RECIPE_FEATURES) for an architecture's features and a
    recipe; a zero-cost feature is read from ``arch`` as given."""
    ratio = math.log2((epochs or STANDARD_EPOCHS) / STANDARD_EPOCHS)
    values = [ARCH_FEATURES[f](arch) if f in ARCH_FEATURES else float(arch[f]) for f in spec.features]
    return np.array([*values, float(distilled), ratio, *(float(recipe == r) for r in RECIPE_FAMILIES)])


def row_vector(row: AccuracyRow, arch: Mapping[str, float], spec: ModelSpec = SHIPPED_SPEC) -> np.ndarray:
    """``feature_vector`` of a dataset row (its own recipe)."""
    return feature_vector(arch, distilled=row.distilled, epochs=row.epochs, recipe=row.recipe, spec=spec)


@dataclass(frozen=True)
class Prediction:
    """A predicted top-1 with its 90% interval; ``note`` says when the network is outside the data."""

    top1: float
    low: float
    high: float
    note: str = ""


def same_network_key(cfg: ArchConfig) -> str:
    """What two rows share when they hold the same network (name and distillation head aside)."""
    from dataclasses import replace

    from nas.config import arch_id

    return arch_id(cfg.replace(name="network", notes="", head=replace(cfg.head, distillation=False)))


def recipe_effects(recipe: np.ndarray, log_err: np.ndarray, keys: Sequence[str]) -> np.ndarray:
    """Least-squares recipe effects on ``log_err`` (ln(C - top1)) from pairs of rows holding the same network
    under two recipes (``recipe``: their RECIPE_FEATURES); an effect no pair shows is 0 (unknown: the
    standard recipe is assumed)."""
    d_recipe, d_err = [], []
    for i in range(len(log_err)):
        for j in range(i + 1, len(log_err)):
            if keys[i] == keys[j] and np.any(recipe[i] != recipe[j]):
                d_recipe.append(recipe[i] - recipe[j])
                d_err.append(log_err[i] - log_err[j])
    effects = np.zeros(len(RECIPE_FEATURES))
    if d_recipe:
        d = np.array(d_recipe)
        seen = np.any(d != 0, axis=0)
        effects[seen] = np.linalg.lstsq(d[:, seen], np.array(d_err), rcond=None)[0]
    return effects


class PowerLawFit:
    """The fit of the module docstring: recipe effects from same-network pairs, then a ridge fit of
    ln(C - top1) (brought to the standard recipe when ``spec.recipe`` is ``corrected``) on the standardised
    features."""

    def __init__(self, x: np.ndarray, top1: np.ndarray, keys: Sequence[str], *, spec: ModelSpec = SHIPPED_SPEC):
        if np.any(top1 >= spec.ceiling):
            raise AccuracyDataError(f"accuracy dataset: a top-1 of {float(top1.max()):g} reaches the model's "
                                    f"ceiling of {spec.ceiling:g}%")
        n = len(spec.features)
        self.spec = spec
        log_err = np.log(spec.ceiling - top1)
        self.recipe = (np.zeros(len(RECIPE_FEATURES)) if spec.recipe == "ignored"
                       else recipe_effects(x[:, n:], log_err, keys))
        size = x[:, :n]
        self.smallest = float(size[:, 0].min())  # log10 parameters (M) of the smallest fitting row
        self.mean = size.mean(0)
        self.scale = np.where(size.std(0) > 1e-12, size.std(0), 1.0)
        z = (size - self.mean) / self.scale
        y = log_err - x[:, n:] @ self.recipe if spec.recipe == "corrected" else log_err
        self.intercept = float(y.mean())
        self.coef = np.linalg.solve(z.T @ z + spec.ridge * np.eye(n), z.T @ (y - self.intercept))

    def _below_smallest(self, size: np.ndarray) -> np.ndarray:
        """``size`` with 1 / sqrt(parameters) replaced, below the smallest fitting row's parameters, by its
        tangent in log10 parameters there (d/ds 10 ** (-s / 2) = -ln(10) / 2 * 10 ** (-s / 2))."""
        if "inv_sqrt_params_m" not in self.spec.features:
            return size
        col = self.spec.features.index("inv_sqrt_params_m")
        below = size[:, 0] < self.smallest
        edge = 10 ** (-self.smallest / 2)
        size = size.copy()
        size[below, col] = edge * (1 - math.log(10) / 2 * (size[below, 0] - self.smallest))
        return size

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted top-1 (%) of feature rows (``feature_vector`` layout)."""
        x = np.atleast_2d(x)
        n = len(self.spec.features)
        z = (self._below_smallest(x[:, :n]) - self.mean) / self.scale
        return self.spec.ceiling - np.exp(self.intercept + z @ self.coef + x[:, n:] @ self.recipe)


def rises_with_size(fit: PowerLawFit, *, steps: int = 101) -> bool:
    """Whether the fit's top-1 never falls as parameters grow at fixed MACs, nor as MACs grow at fixed
    parameters, from 0.1 M to 10 B parameters and 0.01 to 1000 GMACs (every other input held fixed)."""
    base = {"params": 1e7, "macs": 1e9, "stem_stride": 4.0, "attention_tokens": 196.0, "blocks": 12.0}

    def curve(key: str, values: np.ndarray) -> np.ndarray:
        rows = []
        for value in values:
            arch = {**base, key: float(value)}
            size = [ARCH_FEATURES[f](arch) if f in ARCH_FEATURES else fit.mean[i]
                    for i, f in enumerate(fit.spec.features)]
            rows.append([*size, *np.zeros(len(RECIPE_FEATURES))])
        return fit.predict(np.array(rows))

    params, macs = np.logspace(5, 10, steps), np.logspace(7, 12, steps)
    return bool(np.all(np.diff(curve("params", params)) >= -1e-9) and np.all(np.diff(curve("macs", macs)) >= -1e-9))


def leave_one_paper_out(x: np.ndarray, top1: np.ndarray, papers: Sequence[str], keys: Sequence[str], *,
                        spec: ModelSpec = SHIPPED_SPEC) -> np.ndarray:
    """Each row predicted by a fit on the rows of the other papers only."""
    papers, keys = np.asarray(papers), np.asarray(keys)
    out = np.empty(len(top1))
    for paper in dict.fromkeys(papers):
        held = papers == paper
        out[held] = PowerLawFit(x[~held], top1[~held], keys[~held], spec=spec).predict(x[held])
    return out


def conformal_half_width(residuals: np.ndarray, coverage: float = COVERAGE) -> float:
    """The split-conformal quantile of |residuals|: the ceil((n + 1) * coverage)-th smallest."""
    r = np.sort(np.abs(residuals))
    k = min(len(r), math.ceil((len(r) + 1) * coverage))
    return float(r[k - 1])


class AccuracyPredictor:
    """Fit on rows of published networks; predicts top-1 (%) with a 90% interval for any architecture."""

    def __init__(self, x: np.ndarray, top1: np.ndarray, papers: Sequence[str], keys: Sequence[str], *,
                 spec: ModelSpec = SHIPPED_SPEC):
        self.spec = spec
        self.fit = PowerLawFit(x, top1, keys, spec=spec)
        self.half_width = conformal_half_width(top1 - leave_one_paper_out(x, top1, papers, keys, spec=spec))
        self.params_range = (float(x[:, 0].min()), float(x[:, 0].max()))  # log10 M
        self.macs_range = (float(x[:, 1].min()), float(x[:, 1].max()))  # log10 G
        self.rows = len(top1)

    def predict(self, x: np.ndarray) -> Prediction:
        """The prediction for one feature vector (``feature_vector`` layout)."""
        top1 = float(self.fit.predict(x)[0])
        outside = {"parameters": _beyond(x[0], self.params_range), "MACs": _beyond(x[1], self.macs_range)}
        decades = sum(outside.values())
        half = self.half_width * (1.0 + EXTRAPOLATION_WIDEN * decades)
        note = ""
        if decades > 0:
            spans = {"parameters": (self.params_range, "M"), "MACs": (self.macs_range, "G")}
            parts = [f"{what} {10 ** x[i]:.3g} {spans[what][1]} (data {10 ** spans[what][0][0]:.3g}-"
                     f"{10 ** spans[what][0][1]:.3g})" for i, what in enumerate(spans) if outside[what] > 0]
            note = (f"outside the published networks' range: {', '.join(parts)}; interval widened "
                    f"{1.0 + EXTRAPOLATION_WIDEN * decades:.2f}x")
        return Prediction(top1, max(0.0, top1 - half), min(self.spec.ceiling, top1 + half), note)


def _beyond(value: float, span: tuple[float, float]) -> float:
    return max(0.0, span[0] - value, value - span[1])


# ----------------------------------------------------------------------------- the shipped features
def compute_features(rows: Sequence[AccuracyRow]) -> dict[str, dict[str, float]]:
    """Architecture features of every row (builds every network: about a minute for the shipped rows)."""
    return {row.name: architecture_features(row.config) for row in rows}


def write_features_file(path: Path = FEATURES_FILE, csv_path: Path = SHIPPED_CSV) -> dict[str, Any]:
    """Recompute the shipped rows' features and write them with the dataset's digest (the fit reads them)."""
    from nas.files import write_atomic

    rows = load_accuracy_rows(csv_path)
    payload = {"digest": dataset_digest(csv_path), "features": compute_features(rows)}
    write_atomic(path, json.dumps(payload, indent=1, sort_keys=True) + "\n")
    return payload


def read_features(rows: Sequence[AccuracyRow], csv_path: Path | None) -> dict[str, dict[str, float]]:
    """The rows' features: from the shipped file when ``csv_path`` is the shipped CSV and its digest matches,
    else computed now."""
    if csv_path is None or Path(csv_path).resolve() == SHIPPED_CSV:
        payload = json.loads(FEATURES_FILE.read_text(encoding="utf-8")) if FEATURES_FILE.is_file() else {}
        stored = payload.get("features", {})
        if payload.get("digest") == dataset_digest(SHIPPED_CSV) and all(
                set(FEATURE_KEYS) <= set(arch) for arch in stored.values()):
            return stored
    return compute_features(rows)


def fit_predictor(csv_path: str | Path | None = None, *, spec: ModelSpec = SHIPPED_SPEC) -> AccuracyPredictor:
    """The predictor ``spec`` fitted on every row of the accuracy CSV (default: the shipped dataset).

    Raises:
        AccuracyDataError: a bad dataset (see ``load_accuracy_rows``), rows of fewer than two papers, or a
            top-1 at or above the spec's ceiling.
        ValueError: a spec with a zero-cost feature (those need data: the benchmark supplies them).
    """
    if any(f in ZERO_COST_FEATURES for f in spec.features):
        raise ValueError(f"fit_predictor fits architecture features only, not {spec.features}")
    path = Path(csv_path) if csv_path is not None else None
    rows = load_accuracy_rows(path)
    if len({row.paper for row in rows}) < 2:
        raise AccuracyDataError("accuracy dataset: rows of at least two papers are needed (the interval is "
                                "calibrated by holding out one paper at a time)")
    for row in rows:
        if row.top1 >= spec.ceiling:
            raise AccuracyDataError(f"accuracy dataset row {row.name}: top1 {row.top1:g} is at or above the "
                                    f"predictor's ceiling of {spec.ceiling:g}% (ImageNet-1k top-1 saturates below it)")
    features = read_features(rows, path)
    x = np.array([row_vector(row, features[row.name], spec) for row in rows])
    return AccuracyPredictor(x, np.array([row.top1 for row in rows]), [row.paper for row in rows],
                             [same_network_key(row.config) for row in rows], spec=spec)
