"""The per-op feature counter and the bounded non-negative fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nas.latency.costmodel import CostModel, count_features, fit_nonneg
from nas.layers.attention import Attention
from nas.layers.mlp import Mlp


def test_gelu_mlp_counts_gelu_elements_and_linear_macs():
    mlp = Mlp(8, 32, act="gelu")
    f = count_features(mlp, torch.randn(1, 5, 8))  # (B, N, C)
    assert f["gelu_el"] == 5 * 32
    assert f["linear_macs"] == 5 * 8 * 32 + 5 * 32 * 8
    assert f["hardswish_el"] == 0 and f["softmax_el"] == 0


def test_hardswish_is_counted_by_name():
    f = count_features(Mlp(8, 16, act="hardswish"), torch.randn(1, 4, 8))
    assert f["hardswish_el"] == 4 * 16 and f["gelu_el"] == 0


def test_attention_counts_softmax_elements_and_activation_matmuls():
    attn = Attention(16, num_heads=2)
    n = 6
    f = count_features(attn, torch.randn(1, n, 16))
    assert f["softmax_el"] == 2 * n * n  # heads x N x N
    assert f["attn_macs"] == 2 * (n * 8 * n) * 2  # q @ k^T and attn @ v, per head
    assert f["linear_macs"] == n * 16 * 48 + n * 16 * 16  # qkv and proj


def test_conv_kinds_and_weight_only_ops_are_not_counted():
    net = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, groups=4), nn.Conv2d(4, 8, 1), nn.Conv2d(8, 8, 3, padding=1))
    f = count_features(net, torch.randn(1, 4, 5, 5))
    assert f["dw_macs"] == 4 * 25 * 9
    assert f["pw_macs"] == 8 * 25 * 4
    assert f["conv_macs"] == 8 * 25 * 8 * 9
    assert f["ops"] == 3  # the weight transposes/views of a compiler-folded constant are not ops


def test_fit_reproduces_a_synthetic_ground_truth_exactly():
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 10, size=(12, 4))
    truth = np.array([0.5, 0.0, 2.0, 0.25])
    coef = fit_nonneg(X, X @ truth, weights=1 / (X @ truth))
    np.testing.assert_allclose(coef, truth, atol=1e-9)


def test_fit_is_non_negative_and_respects_lower_bounds():
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, size=(10, 3))
    y = X @ np.array([1.0, -3.0, 2.0])  # the unconstrained optimum has a negative coefficient
    y = np.abs(y) + 0.1
    coef = fit_nonneg(X, y)
    assert np.all(coef >= 0)
    bounded = fit_nonneg(X, y, lower=[0.0, 0.5, 0.0])
    assert bounded[1] >= 0.5 - 1e-12 and np.all(bounded >= 0)


def test_ridge_pulls_toward_the_prior():
    X = np.array([[1.0, 1.0], [2.0, 2.0]])  # collinear: the data cannot split the two
    y = X @ np.array([1.0, 1.0])
    coef = fit_nonneg(X, y, prior=[0.5, 1.5], ridge=1e-3)
    assert coef[0] == pytest.approx(0.5, abs=0.05) and coef[1] == pytest.approx(1.5, abs=0.05)


def test_cost_model_sums_groups():
    model = CostModel({"mac": ("conv_macs", "linear_macs"), "op": ("ops",)}, {"mac": 2.0, "op": 1.0})
    assert model.predict_ms({"conv_macs": 1, "linear_macs": 2, "ops": 3, "gelu_el": 100}) == 9.0
