"""Published ImageNet-1k accuracy of networks of the space, and the predictor fitted on it.

``load_accuracy_rows`` reads the dataset (shipped: ``data/published_top1.csv``), ``fit_predictor`` fits the
predicted-top-1 model, ``Top1Proxy`` (registered as ``top1``) serves it as an accuracy proxy.
Regenerate the shipped features after editing the dataset: ``python -m nas.proxy.accuracy``.
"""

from __future__ import annotations

from nas.proxy.accuracy.dataset import (
                                        RECIPES,
                                        SHIPPED_CSV,
                                        AccuracyDataError,
                                        AccuracyRow,
                                        load_accuracy_rows,
                                        params_problem,
)
from nas.proxy.accuracy.predictor import (
                                        ARCH_FEATURES,
                                        SHIPPED_SPEC,
                                        AccuracyPredictor,
                                        ModelSpec,
                                        Prediction,
                                        architecture_features,
                                        feature_vector,
                                        fit_predictor,
                                        leave_one_paper_out,
                                        write_features_file,
)

__all__ = ["ARCH_FEATURES", "RECIPES", "SHIPPED_CSV", "SHIPPED_SPEC", "AccuracyDataError", "AccuracyPredictor",
           "AccuracyRow", "ModelSpec", "Prediction", "architecture_features", "feature_vector", "fit_predictor",
           "leave_one_paper_out", "load_accuracy_rows", "params_problem", "write_features_file"]
