"""Accuracy proxies: rank candidate architectures by short training on real data or training-free scores.

Public API (used by ``nas search``):

- ``PROXIES``: registry name -> proxy class; ``get_proxy(name, **options)`` makes one
  (``PROXIES[name](**options)``); every proxy has ``.name`` and
  ``.evaluate(cfg, data, *, seed) -> ProxyResult``; higher score = better.
- ``DEFAULT_PROXY``: the proxy that ranked best per unit of time in benchmarks/proxy_fidelity.py.
- ``load_dataset(spec, *, seed=0) -> Dataset``: ``digits`` (default), ``cifar10:DIR``, ``folder:DIR``.
"""

from __future__ import annotations

from nas.errors import UnknownNameError
from nas.proxy.base import Proxy, ProxyResult, proxy_resolution
from nas.proxy.data import DataError, Dataset, load_dataset
from nas.proxy.train import TrainProxy
from nas.proxy.zero_cost import NaswotProxy, ParamsProxy, SynflowProxy, ZiCoProxy

PROXIES: dict[str, type[Proxy]] = {p.name: p for p in (TrainProxy, ZiCoProxy, NaswotProxy, SynflowProxy,
                                                       ParamsProxy)}
# Highest Kendall tau against 10x longer training in benchmarks/results/proxy_fidelity_40.md (22 hybrid-vit
# networks on CIFAR-10, 40 vs 400 steps, seed ceiling 0.81): 40-step training 0.52, naswot 0.27, params 0.10,
# synflow -0.03, zico -0.18, at ~7 s per candidate on one core, affordable for a search of tens of candidates.
# (A first, underpowered run with 16 vs 160 steps, ceiling 0.65, had ranked synflow first:
# benchmarks/results/proxy_fidelity.md.)
DEFAULT_PROXY = "train"
DEFAULT_DATA = "digits"


def get_proxy(name: str, **options) -> Proxy:
    """A proxy by registry name, built with its keyword ``options`` (steps, resolution, ...)."""
    if name not in PROXIES:
        raise UnknownNameError("proxy", name, list(PROXIES))
    return PROXIES[name](**options)


__all__ = ["DEFAULT_DATA", "DEFAULT_PROXY", "PROXIES", "DataError", "Dataset", "Proxy", "ProxyResult",
           "TrainProxy", "get_proxy", "load_dataset", "proxy_resolution"]
