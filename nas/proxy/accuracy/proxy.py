"""``top1``: the accuracy predictor as a proxy (training-free, milliseconds once the network's counts exist)."""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import torch

from nas.config import ArchConfig
from nas.proxy.accuracy.predictor import (
    COVERAGE,
    RECIPE_CHOICES,
    AccuracyPredictor,
    architecture_features,
    feature_vector,
    fit_predictor,
)
from nas.proxy.base import Proxy, ProxyResult, Stopwatch
from nas.proxy.data import Dataset
from nas.proxy.options import Option
from nas.proxy.registry import register_proxy


@functools.lru_cache(maxsize=4)
def _predictor(dataset: str | None) -> AccuracyPredictor:
    return fit_predictor(dataset)


@register_proxy
class Top1Proxy(Proxy):
    """Predicted ImageNet-1k top-1 (%) of the deployed network for one training recipe, with a 90% interval.

    Fitted at first use on the published-accuracy dataset (``nas/proxy/accuracy/data``, or ``dataset=CSV``
    in the same format); the data passed to ``evaluate`` is not used (the prediction is about ImageNet-1k).
    ``details`` holds ``interval_low`` / ``interval_high`` (90%), ``note`` (set when the network is outside
    the published networks' range of size or compute: the interval is widened), ``params`` and ``macs``.
    """

    name = "top1"
    metric = "predicted top-1 (%)"
    kind = "accuracy"
    runs_network = False
    OPTIONS: ClassVar[dict[str, Option]] = {
        **Proxy.OPTIONS,  # resolution and threads: accepted like every proxy's, unused (nothing is run)
        "recipe": Option(str, "standard", choices=RECIPE_CHOICES,
                         doc="training recipe predicted for: standard (DeiT's: 300 epochs, no distillation; rows "
                             "of DeiT III, AugReg and SAM are brought to it by effects measured on same-network pairs, "
                             "the other papers' rows count as trained), distilled (adds DeiT-style hard distillation's "
                             "effect), deit3 (adds DeiT III's recipe's effect)"),
        "epochs": Option(int, 300, 0, doc="training epochs predicted for"),
        "dataset": Option(str, None, doc="accuracy CSV to fit on (default: the shipped published networks)"),
    }
    recipe: str
    epochs: int
    dataset: str | None

    def predictor(self) -> AccuracyPredictor:
        """The fitted predictor (fitted once per dataset and process)."""
        return _predictor(self.dataset)

    def evaluate(self, cfg: ArchConfig, data: Dataset | None = None, *, seed: int = 0,
                 device: torch.device | str | None = None) -> ProxyResult:
        clock = Stopwatch()
        with clock.running():
            predictor = self.predictor()
            arch = architecture_features(cfg)
            x = feature_vector(arch, distilled=self.recipe == "distilled", epochs=self.epochs, recipe=self.recipe,
                               spec=predictor.spec)
            pred = predictor.predict(x)
        details: dict[str, Any] = {
            "interval_low": round(pred.low, 3), "interval_high": round(pred.high, 3), "interval_coverage": COVERAGE,
            "note": pred.note, "recipe": self.recipe, "epochs": self.epochs, "params": int(arch["params"]),
            "macs": int(arch["macs"]), "fitted_rows": predictor.rows, "device": "cpu"}
        return self.result(cfg, round(pred.top1, 3), clock, reason=pred.note, **details)
