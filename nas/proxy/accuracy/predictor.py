"""Predicted ImageNet-1k top-1 (%) from the architecture, fitted on published networks, with a 90% interval.

The model (three architecture parameters, ridge-regularised): the top-1 error follows a power law in size,

    ln(100 - top1) = b0 + b . z(log10 params (M), log10 MACs (G)) + e . recipe,
    recipe = [distilled, log2(epochs / 300), DeiT III recipe]

with z the size features standardised on the fitting rows. Accuracy therefore rises with size and saturates
(concave in log size, never above 100). The recipe effects ``e`` are estimated only from pairs of rows
that hold the same network under two recipes (DeiT-Ti and its distilled twin, EfficientFormer-L1 at 300
and 1000 epochs, DeiT-S under DeiT and DeiT III...), never across architectures, where they would be
confounded with the architecture; the size model is fitted on the rows brought to the standard recipe. A
prediction is always for one recipe (``standard``: 300 epochs, no distillation, unless asked otherwise).

The interval is split-conformal on leave-one-paper-out residuals: every paper of the fitting rows is held
out in turn, the others fit, and the 90% conformal quantile of the absolute held-out errors is the half
width. Outside the fitting rows' range of parameters or MACs the half width grows by ``EXTRAPOLATION_WIDEN``
per decade beyond the range, and the prediction says so in a note.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nas.config import ArchConfig
from nas.proxy.accuracy.dataset import (
    DATA_DIR,
    SHIPPED_CSV,
    STANDARD_EPOCHS,
    AccuracyDataError,
    AccuracyRow,
    dataset_digest,
    load_accuracy_rows,
)

SIZE_FEATURES = ("log10_params_m", "log10_macs_g")
RECIPE_FEATURES = ("distilled", "log2_epochs_ratio", "deit3_recipe")
FEATURES = SIZE_FEATURES + RECIPE_FEATURES
RIDGE = 10.0  # penalty on the standardised size coefficients (benchmarks/accuracy_predictor.py compares)
COVERAGE = 0.9
EXTRAPOLATION_WIDEN = 1.0  # extra half widths per decade outside the data's range of params or MACs
FEATURES_FILE = DATA_DIR / "features.json"
ATTENTION_MIXERS = ("mhsa", "mobilevit", "separable", "hilo")
RECIPE_CHOICES = ("standard", "distilled", "deit3")


def architecture_features(cfg: ArchConfig) -> dict[str, float]:
    """Parameters and MACs (at the config's resolution, 1000 classes as published), attention share."""
    from nas.models.stats import network_stats

    deployed = cfg.replace(num_classes=1000)
    params, macs = network_stats(deployed)
    blocks = sum(stage.depth for stage in cfg.stages)
    attention = sum(stage.depth for stage in cfg.stages if stage.mixer.kind in ATTENTION_MIXERS)
    return {"params": float(params), "macs": float(macs), "attention_share": attention / max(1, blocks)}


def feature_vector(arch: dict[str, float], *, distilled: bool, epochs: int | None, recipe: str) -> np.ndarray:
    """The model's inputs (FEATURES order) for an architecture's features and a recipe."""
    ratio = math.log2((epochs or STANDARD_EPOCHS) / STANDARD_EPOCHS)
    return np.array([math.log10(arch["params"] / 1e6), math.log10(arch["macs"] / 1e9), float(distilled), ratio,
                     float(recipe == "deit3")])


def row_vector(row: AccuracyRow, arch: dict[str, float]) -> np.ndarray:
    return feature_vector(arch, distilled=row.distilled, epochs=row.epochs, recipe=row.recipe)


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


def recipe_effects(x: np.ndarray, top1: np.ndarray, keys: Sequence[str]) -> np.ndarray:
    """Least-squares recipe effects on ln(100 - top1) from pairs of rows holding the same network under two
    recipes; an effect no pair shows is 0 (unknown: the standard recipe is assumed)."""
    n_size = len(SIZE_FEATURES)
    log_err = np.log(100.0 - top1)
    d_recipe, d_err = [], []
    for i in range(len(top1)):
        for j in range(i + 1, len(top1)):
            if keys[i] == keys[j] and np.any(x[i, n_size:] != x[j, n_size:]):
                d_recipe.append(x[i, n_size:] - x[j, n_size:])
                d_err.append(log_err[i] - log_err[j])
    effects = np.zeros(len(RECIPE_FEATURES))
    if d_recipe:
        d = np.array(d_recipe)
        seen = np.any(d != 0, axis=0)
        effects[seen] = np.linalg.lstsq(d[:, seen], np.array(d_err), rcond=None)[0]
    return effects


class PowerLawFit:
    """The fit of the module docstring: recipe effects from same-network pairs, then a ridge fit of the
    standard-recipe ln(100 - top1) on the standardised size features."""

    def __init__(self, x: np.ndarray, top1: np.ndarray, keys: Sequence[str], *, ridge: float = RIDGE):
        n_size = len(SIZE_FEATURES)
        self.recipe = recipe_effects(x, top1, keys)
        size = x[:, :n_size]
        self.mean = size.mean(0)
        self.scale = np.where(size.std(0) > 1e-12, size.std(0), 1.0)
        z = (size - self.mean) / self.scale
        y = np.log(100.0 - top1) - x[:, n_size:] @ self.recipe
        self.intercept = float(y.mean())
        self.coef = np.linalg.solve(z.T @ z + ridge * np.eye(n_size), z.T @ (y - self.intercept))

    def predict(self, x: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(x)
        n_size = len(SIZE_FEATURES)
        z = (x[:, :n_size] - self.mean) / self.scale
        return 100.0 - np.exp(self.intercept + z @ self.coef + x[:, n_size:] @ self.recipe)


def leave_one_paper_out(x: np.ndarray, top1: np.ndarray, papers: Sequence[str], keys: Sequence[str], *,
                        ridge: float = RIDGE) -> np.ndarray:
    """Each row predicted by a fit on the rows of the other papers only."""
    papers, keys = np.asarray(papers), np.asarray(keys)
    out = np.empty(len(top1))
    for paper in dict.fromkeys(papers):
        held = papers == paper
        out[held] = PowerLawFit(x[~held], top1[~held], keys[~held], ridge=ridge).predict(x[held])
    return out


def conformal_half_width(residuals: np.ndarray, coverage: float = COVERAGE) -> float:
    """The split-conformal quantile of |residuals|: the ceil((n + 1) * coverage)-th smallest."""
    r = np.sort(np.abs(residuals))
    k = min(len(r), math.ceil((len(r) + 1) * coverage))
    return float(r[k - 1])


class AccuracyPredictor:
    """Fit on rows of published networks; predicts top-1 (%) with a 90% interval for any architecture."""

    def __init__(self, x: np.ndarray, top1: np.ndarray, papers: Sequence[str], keys: Sequence[str], *,
                 ridge: float = RIDGE):
        self.fit = PowerLawFit(x, top1, keys, ridge=ridge)
        self.half_width = conformal_half_width(top1 - leave_one_paper_out(x, top1, papers, keys, ridge=ridge))
        self.params_range = (float(x[:, 0].min()), float(x[:, 0].max()))  # log10 M
        self.macs_range = (float(x[:, 1].min()), float(x[:, 1].max()))  # log10 G
        self.rows = len(top1)

    def predict(self, x: np.ndarray) -> Prediction:
        """The prediction for one feature vector (FEATURES order)."""
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
        return Prediction(top1, max(0.0, top1 - half), min(100.0, top1 + half), note)


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
        if payload.get("digest") == dataset_digest(SHIPPED_CSV):
            return payload["features"]
    return compute_features(rows)


def fit_predictor(csv_path: str | Path | None = None) -> AccuracyPredictor:
    """The predictor fitted on every row of the accuracy CSV (default: the shipped dataset)."""
    path = Path(csv_path) if csv_path is not None else None
    rows = load_accuracy_rows(path)
    if len({row.paper for row in rows}) < 2:
        raise AccuracyDataError("accuracy dataset: rows of at least two papers are needed (the interval is "
                                "calibrated by holding out one paper at a time)")
    features = read_features(rows, path)
    x = np.array([row_vector(row, features[row.name]) for row in rows])
    return AccuracyPredictor(x, np.array([row.top1 for row in rows]), [row.paper for row in rows],
                             [same_network_key(row.config) for row in rows])
