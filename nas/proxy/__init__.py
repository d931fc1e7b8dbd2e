"""Accuracy proxies: rank candidate architectures by short training on real data or training-free scores.

Public API (used by ``nas search`` and ``nas proxy``):

- ``PROXIES``: registry name -> proxy class, filled by the ``@register_proxy`` classes of every module of
  this package (:mod:`nas.proxy.registry`: a new proxy is one new module). ``get_proxy(name, **options)``
  makes one, refusing unknown names and options, wrong types and out-of-range values (one-line
  UsageErrors). Every proxy has ``.name``, ``.metric`` and ``.kind`` (what its score is), ``.options``
  (every option, defaults included) and ``.evaluate(cfg, data, *, seed, device=None) -> ProxyResult``;
  higher score = better.
- Training proxies (``.trains``) also have ``.rungs`` (ascending step counts, the last the full budget) and
  ``.open(cfg, data, *, seed, device=None, state=None) -> TrainSession`` (``advance(steps)``, ``save(path)``)
  for multi-fidelity search.
- ``DEFAULT_PROXY`` with its class's default options is the signal the search uses by default, and what
  ``nas proxy ARCH`` computes without options.
- ``resolve_train_device(name)``: ``auto`` | ``cpu`` | ``cuda[:N]`` | ``mps`` -> torch.device.
- ``load_dataset(spec, *, seed=0) -> Dataset``: ``digits`` (default), ``cifar10:DIR``, ``folder:DIR``.
"""

from __future__ import annotations

from typing import Any

from nas.proxy.accuracy.proxy import Top1Proxy
from nas.proxy.base import SCORE_KINDS, Proxy, ProxyResult, proxy_resolution
from nas.proxy.data import DataError, Dataset, load_dataset
from nas.proxy.device import DeviceError, resolve_train_device
from nas.proxy.options import ProxyOptionError, parse_option_pairs
from nas.proxy.registry import PROXIES, register_proxy
from nas.proxy.session import StateError, StateMismatchError, TrainSession
from nas.proxy.train import SotlProxy, TrainProxy

# The signal that ranks real networks best (benchmarks/results/proxy_truth.md): with the published ImageNet-1k
# top-1 of the 16 presets, naswot+params reaches Kendall tau 0.92 leave-one-out (parameter count 0.85,
# 40-step training 0.21) and beats parameter count within iphone12 latency bands, at ~1 CPU-s per candidate.
# Against 10x longer training on 4,000 CIFAR-10 images it ranks worse than short training (see the README).
DEFAULT_PROXY = "naswot+params"
DEFAULT_DATA = "digits"


def get_proxy(name: str, **options: Any) -> Proxy:
    """The proxy registered as ``name``, with ``options`` (the rest at the proxy's defaults).

    Raises:
        UnknownNameError: no proxy of that name (the known ones are listed).
        ProxyOptionError: an option the proxy does not take (the accepted ones are listed), a wrong type or
            an out-of-range value (e.g. ``steps=0``).
    """
    return PROXIES[name](**options)


__all__ = ["DEFAULT_DATA", "DEFAULT_PROXY", "PROXIES", "SCORE_KINDS", "DataError", "Dataset", "DeviceError",
           "Proxy", "ProxyOptionError", "ProxyResult", "SotlProxy", "StateError", "StateMismatchError",
           "Top1Proxy", "TrainProxy", "TrainSession", "get_proxy", "load_dataset", "parse_option_pairs",
           "proxy_resolution", "register_proxy", "resolve_train_device"]
