"""Optuna samplers by name, seeded; each reads the latency constraint its trials carry.

Every proposal is told to the sampler with the constraint ``latency_ms - budget_ms`` (feasible when
<= 0), so the constrained samplers learn where the budget boundary lies.

``SAMPLERS`` is a plug-in registry: a sampler is a factory ``(*, seed) -> optuna sampler`` marked
``@register_sampler("name")`` in any module of this package, imported on the registry's first use, so a
new sampler is one new module (and its test; ``nas.testing.contracts.check_sampler`` runs on every
registered one) and ``nas search --sampler`` and its ``--help`` know it with no other edit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from nas.registry import Registry

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class SamplerEntry:
    """A registered sampler: its factory and what the worker must ask of its trials.

    Attributes:
        name: the ``--sampler`` name.
        factory: ``(*, seed) -> optuna.samplers.BaseSampler``; imports Optuna when called.
        static_genome: the sampler only evolves the parameters every trial shares (NSGA-II's crossover
            works on the intersection of the trials' search spaces, which for a space of families is just
            "family"), so every trial asks for every family's choices (:func:`suggest_every_family`).
    """

    name: str
    factory: Callable[..., Any]
    static_genome: bool = False

    def __call__(self, *, seed: int) -> Any:
        """A new sampler seeded with ``seed``."""
        return self.factory(seed=seed)


SAMPLERS: Registry[SamplerEntry] = Registry("sampler", plugins="nas.search.samplers")
DEFAULT_SAMPLER = "nsga2"


def register_sampler(name: str, *, static_genome: bool = False) -> Callable[[F], F]:
    """Decorator: register the factory it decorates as the sampler ``name`` (see :class:`SamplerEntry`).

    Raises:
        DuplicateNameError: another sampler has that name.
    """
    def deco(factory: F) -> F:
        SAMPLERS.register(name, SamplerEntry(name, factory, static_genome=static_genome))
        return factory

    return deco


def make_sampler(name: str, *, seed: int) -> Any:
    """The Optuna sampler registered as ``name`` (nsga2, tpe, random, ...), seeded.

    Raises:
        UnknownNameError: ``name`` is not a known sampler (the message lists them).
    """
    return SAMPLERS[name](seed=seed)


def suggest_every_family(space: Any, trial: Any) -> None:
    """Ask ``trial`` for the choices of every family, so all trials share one fixed-length genome;
    ``space.sample`` then reads the chosen family's (already suggested) values."""
    for family, choices in space.families.items():
        for choice in choices:
            for pname, options in zip(choice.param_names(family), choice.options):
                trial.suggest_categorical(pname, list(options))


def active_params(params: dict[str, Any]) -> dict[str, Any]:
    """The params that build the network: ``family`` and the chosen family's choices."""
    family = params.get("family")
    return {k: v for k, v in params.items() if k == "family" or k.startswith(f"{family}.")}
