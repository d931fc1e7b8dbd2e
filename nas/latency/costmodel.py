"""Per-op cost features of a block, and a small non-negative linear cost model over them.

``count_features(module, x)`` runs one forward pass under a ``TorchDispatchMode`` and sorts every
aten op that touches the input's data into a feature: multiply-accumulates by kind (dense conv,
depthwise conv, linear, activation x activation matmul), elements through softmax, each norm and
each activation by name, elements moved by layout changes (permute, transpose, copy, cat,
pixel (un)shuffle, resize), element-wise arithmetic, pooling and reductions, and the number of
ops (a fixed cost per op). Ops on weights alone (weight transposes, attention-bias gathers) are
constants a compiler folds, so they are not counted; neither are pure views.

A :class:`CostModel` prices a feature dict as ``sum(coef[g] * sum(features in group g))`` with
non-negative coefficients in ms per unit; :func:`fit_nonneg` fits them.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Every feature the counter produces, with its unit.
FEATURES: dict[str, str] = {
    "conv_macs": "MACs of dense convolutions (groups == 1, kernel > 1)",
    "pw_macs": "MACs of 1x1 convolutions (groups == 1)",
    "dw_macs": "MACs of depthwise / grouped convolutions",
    "linear_macs": "MACs of matmuls with a weight (nn.Linear)",
    "attn_macs": "MACs of matmuls between two activations (q @ k^T, attn @ v)",
    "softmax_el": "elements through softmax",
    "layernorm_el": "elements through LayerNorm",
    "groupnorm_el": "elements through GroupNorm",
    "batchnorm_el": "elements through BatchNorm (folded into the conv by Core ML)",
    "gelu_el": "elements through GELU",
    "relu_el": "elements through ReLU",
    "hardswish_el": "elements through HardSwish",
    "silu_el": "elements through SiLU",
    "sigmoid_el": "elements through sigmoid / tanh",
    "move_el": "elements moved by permute / transpose / copy / cat / pixel (un)shuffle / index",
    "resize_el": "output elements of bilinear resizes",
    "eltwise_el": "output elements of element-wise arithmetic (add, sub, mul, div, pow, sqrt)",
    "reduce_el": "input elements of reductions (mean, sum)",
    "pool_el": "output elements of pooling",
    "ops": "ops that touch activations (fixed cost per op)",
    "networks": "one per network (fixed per-inference cost: the table's network_overhead_ms)",
}

Counts = dict[str, float]
_Handler = Callable[[Any, tuple, dict, Any], Counts]
_HANDLERS: dict[str, _Handler] = {}
# Views and metadata: free (no data moved) and not an op a compiler keeps.
_FREE = {
    "view", "_unsafe_view", "reshape", "expand", "t", "unsqueeze", "squeeze", "slice", "select", "split",
    "split_with_sizes", "alias", "detach", "lift_fresh", "unbind", "as_strided", "flatten", "_to_copy",
    "empty", "zeros", "ones", "zeros_like", "empty_like", "lift_fresh_copy",
}


def _register(*names: str) -> Callable[[_Handler], _Handler]:
    def deco(fn: _Handler) -> _Handler:
        for name in names:
            _HANDLERS[name] = fn
        return fn

    return deco


def _numel(t: Any) -> int:
    return int(t.numel()) if hasattr(t, "numel") else 0


def _first_tensor(out: Any) -> Any:
    if isinstance(out, (tuple, list)):
        return out[0]
    return out


@_register("convolution")
def _conv(func: Any, args: tuple, kwargs: dict, out: Any) -> Counts:
    w = args[1]
    groups = int(args[8]) if len(args) > 8 else 1
    k = int(np.prod(w.shape[2:]))
    macs = _numel(out) * (w.shape[1]) * k
    if groups > 1:
        return {"dw_macs": macs}
    return {"pw_macs": macs} if k == 1 else {"conv_macs": macs}


def _mm_macs(a: Any, b: Any) -> int:
    return int(np.prod(a.shape)) * int(b.shape[-1])


@_register("mm", "addmm", "bmm", "baddbmm", "matmul")
def _matmul(func: Any, args: tuple, kwargs: dict, out: Any) -> Counts:
    name = func.overloadpacket.__name__
    a, b = (args[1], args[2]) if name in ("addmm", "baddbmm") else (args[0], args[1])
    macs = _mm_macs(a, b)
    # A matmul with a weight operand is a linear layer; between two activations, attention.
    both_data = _is_data(a) and _is_data(b)
    return {"attn_macs": macs} if both_data else {"linear_macs": macs}


@_register("_softmax", "softmax", "_log_softmax")
def _softmax(func: Any, args: tuple, kwargs: dict, out: Any) -> Counts:
    return {"softmax_el": _numel(out)}


@_register("native_layer_norm", "layer_norm")
def _ln(func: Any, args: tuple, kwargs: dict, out: Any) -> Counts:
    return {"layernorm_el": _numel(_first_tensor(out))}


@_register("native_group_norm", "group_norm")
def _gn(func: Any, args: tuple, kwargs: dict, out: Any) -> Counts:
    return {"groupnorm_el": _numel(_first_tensor(out))}


@_register("_native_batch_norm_legit_no_training", "native_batch_norm", "_native_batch_norm_legit",
           "batch_norm", "_batch_norm_impl_index")
def _bn(func: Any, args: tuple, kwargs: dict, out: Any) -> Counts:
    return {"batchnorm_el": _numel(_first_tensor(out))}


def _act(feature: str) -> _Handler:
    def handler(func: Any, args: tuple, kwargs: dict, out: Any) -> Counts:
        return {feature: _numel(out)}

    return handler


for _names, _feature in [
    (("gelu", "gelu_"), "gelu_el"),
    (("relu", "relu_", "clamp_min", "threshold"), "relu_el"),
    (("hardswish", "hardswish_"), "hardswish_el"),
    (("silu", "silu_"), "silu_el"),
    (("sigmoid", "tanh"), "sigmoid_el"),
]:
    _register(*_names)(_act(_feature))


@_register("permute", "transpose", "clone", "cat", "pixel_shuffle", "pixel_unshuffle", "index", "contiguous",
           "copy_", "stack", "constant_pad_nd")
def _move(func: Any, args: tuple, kwargs: dict, out: Any) -> Counts:
    return {"move_el": _numel(_first_tensor(out))}


@_register("upsample_bilinear2d", "_upsample_bilinear2d_aa", "upsample_nearest2d")
def _resize(func: Any, args: tuple, kwargs: dict, out: Any) -> Counts:
    return {"resize_el": _numel(out)}


@_register("add", "sub", "mul", "div", "pow", "sqrt", "rsqrt", "neg", "exp", "add_", "mul_", "sub_", "div_",
           "rsub", "where", "addcmul")
def _eltwise(func: Any, args: tuple, kwargs: dict, out: Any) -> Counts:
    return {"eltwise_el": _numel(out)}


@_register("mean", "sum", "amax", "var", "var_mean", "std")
def _reduce(func: Any, args: tuple, kwargs: dict, out: Any) -> Counts:
    return {"reduce_el": _numel(args[0])}


@_register("avg_pool2d", "adaptive_avg_pool2d", "_adaptive_avg_pool2d", "max_pool2d", "max_pool2d_with_indices")
def _pool(func: Any, args: tuple, kwargs: dict, out: Any) -> Counts:
    return {"pool_el": _numel(_first_tensor(out))}


class _TensorSet:
    """Identity set of live tensors (weak: a freed tensor leaves it; ids are re-checked)."""

    def __init__(self) -> None:
        self._refs: dict[int, weakref.ref] = {}

    def add(self, t: Any) -> None:
        self._refs[id(t)] = weakref.ref(t)

    def __contains__(self, t: Any) -> bool:
        ref = self._refs.get(id(t))
        return ref is not None and ref() is t


_DATA: _TensorSet | None = None  # tensors that derive from the block's input, during a count


def _is_data(t: Any) -> bool:
    return _DATA is not None and hasattr(t, "numel") and t in _DATA


def _tensors(obj: Any) -> list[Any]:
    if isinstance(obj, (tuple, list)):
        return [t for o in obj for t in _tensors(o)]
    return [obj] if hasattr(obj, "numel") and hasattr(obj, "dtype") else []


class UncountedOpError(RuntimeError):
    """An aten op on activations that the counter has no rule for (add one to the registry)."""


def count_features(module: Any, x: Any) -> Counts:
    """Features of one forward pass of ``module`` on ``x`` (batch included), as a dict over FEATURES.

    Raises:
        UncountedOpError: an op on activations has no counting rule (never silently zero).
    """
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    global _DATA
    counts: Counts = dict.fromkeys(FEATURES, 0.0)
    data = _TensorSet()

    class _Counter(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            kwargs = kwargs or {}
            out = func(*args, **kwargs)
            inputs = _tensors(list(args) + list(kwargs.values()))
            if not any(t in data for t in inputs):
                return out  # a constant: weights, biases, buffers, their views
            for t in _tensors(out):
                data.add(t)
            name = func.overloadpacket.__name__
            if name in _FREE:
                return out
            handler = _HANDLERS.get(name)
            if handler is None:
                raise UncountedOpError(f"no cost rule for aten.{name}; add one to nas.latency.costmodel")
            for feature, value in handler(func, args, kwargs, out).items():
                counts[feature] += value
            counts["ops"] += 1
            return out

    was_training = module.training
    module.eval()
    _DATA = data
    try:
        with torch.no_grad():
            x = x.clone()
            data.add(x)
            with _Counter():
                module(x)
    finally:
        _DATA = None
        module.train(was_training)
    return counts


_BLOCK_CACHE: dict[str, Counts] = {}


def block_features(spec: Any) -> Counts:
    """Features of one planned block built alone at batch 1 (cached per block key)."""
    if spec.key not in _BLOCK_CACHE:
        from nas.models.builder import build_block, example_input

        counts = count_features(build_block(spec), example_input(spec, 1))
        _BLOCK_CACHE[spec.key] = counts
    return dict(_BLOCK_CACHE[spec.key])


def network_features(cfg: Any, *, resolution: int | None = None) -> Counts:
    """Sum of :func:`block_features` over the planned blocks of ``cfg``, plus ``networks`` = 1."""
    from nas.models.plan import plan

    total: Counts = dict.fromkeys(FEATURES, 0.0)
    for spec in plan(cfg, resolution=resolution):
        for feature, value in block_features(spec).items():
            total[feature] += value
    total["networks"] = 1.0
    return total


@dataclass(frozen=True)
class CostModel:
    """latency_ms = sum over groups g of coef_ms[g] * (sum of the features in group g).

    Attributes:
        groups: group name -> the FEATURES it sums.
        coef_ms: group name -> ms per unit (non-negative).
    """

    groups: Mapping[str, Sequence[str]]
    coef_ms: Mapping[str, float] = field(default_factory=dict)

    def design(self, features: Mapping[str, float]) -> np.ndarray:
        """The group sums of one feature dict, in ``groups`` order."""
        return np.array([sum(features.get(f, 0.0) for f in fs) for fs in self.groups.values()], dtype=float)

    def predict_ms(self, features: Mapping[str, float]) -> float:
        """Predicted latency of a block or network from its features."""
        coef = np.array([self.coef_ms.get(g, 0.0) for g in self.groups], dtype=float)
        return float(self.design(features) @ coef)

    def with_coef(self, coef: Sequence[float]) -> CostModel:
        """A copy with coefficients ``coef`` in ``groups`` order."""
        return CostModel(self.groups, dict(zip(self.groups, (float(c) for c in coef))))


def fit_nonneg(
    X: np.ndarray,
    y: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    lower: Sequence[float] | None = None,
    prior: Sequence[float] | None = None,
    ridge: float = 0.0,
) -> np.ndarray:
    """Bounded least squares: coefficients >= ``lower`` (default 0), optionally pulled toward ``prior``.

    Minimises ``sum_i (w_i (X_i c - y_i))^2 + ridge * sum_j ((c_j - prior_j) / prior_j)^2`` subject to
    ``c >= lower``; columns whose prior is 0 (or no prior) are not pulled.

    Args:
        X: (rows, coefficients) design matrix.
        y: (rows,) targets.
        weights: per-row weights (1 / y fits relative error); default 1.
        lower: (coefficients,) lower bounds; default all 0 (non-negative least squares).
        prior: (coefficients,) values the ridge pulls toward.
        ridge: strength of the pull (0: plain bounded least squares).

    Returns:
        The (coefficients,) solution.
    """
    from scipy.optimize import lsq_linear

    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n, k = X.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    A, b = X * w[:, None], y * w
    norms = np.linalg.norm(A, axis=0)  # solve for u = c * norm: comparable column magnitudes
    norms[norms == 0] = 1.0
    A = A / norms
    if ridge > 0 and prior is not None:
        p = np.asarray(prior, dtype=float)
        pulled = [j for j in range(k) if p[j] > 0]
        penalty = np.zeros((len(pulled), k))
        for row, j in enumerate(pulled):
            penalty[row, j] = np.sqrt(ridge) / (p[j] * norms[j])
        A = np.vstack([A, penalty])
        b = np.concatenate([b, np.full(len(pulled), np.sqrt(ridge))])
    lb = np.zeros(k) if lower is None else np.asarray(lower, dtype=float) * norms
    if np.all(lb == 0):
        from scipy.optimize import nnls

        u, _ = nnls(A, b, maxiter=50 * k)
    else:
        u = lsq_linear(A, b, bounds=(lb, np.inf), method="bvls").x
    return u / norms
