"""One candidate: sample its config, price it from the latency table, train it only if it fits the budget."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from nas.config import ArchConfig

# Accuracy objective stored for candidates that were not trained (over budget). They violate the
# constraint, and Optuna ranks every feasible trial before any infeasible one, so this placeholder never
# competes with a real score; trials.csv and pareto.json leave their accuracy empty.
NOT_TRAINED_ACCURACY = 0.0


class CandidateFailed(Exception):
    """A candidate that could not be scored (NaN loss, out of memory, proxy error); the trial is FAIL."""


@dataclass
class Counters:
    """What this worker did: trained, looked up over budget, reused, failed, and training seconds."""

    trained: int = 0
    over_budget: int = 0
    reused: int = 0
    failed: int = 0
    train_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


def summarize(cfg: ArchConfig) -> str:
    """One line: stem, then each stage as mixer x depth @ channels, and the resolution."""
    stem = f"{cfg.stem.kind}{cfg.stem.patch_size if cfg.stem.kind == 'patch' else ''}"
    stages = " ".join(f"{s.mixer.kind}x{s.depth}@{s.channels}" for s in cfg.stages)
    family = cfg.choices.get("family") or cfg.name
    return f"{family}: {stem} | {stages} | {cfg.resolution}px"


def arch_hash(cfg: ArchConfig) -> str:
    """Short hash of the network a config builds (its name and notes aside)."""
    import hashlib

    return hashlib.sha256(cfg.replace(name="", notes="").to_json().encode()).hexdigest()[:16]


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


def model_stats(cfg: ArchConfig) -> tuple[int, int]:
    """(parameters, MACs) of ``cfg`` at its deploy resolution, batch 1."""
    from nas.models.builder import build_model
    from nas.models.stats import count_macs, count_params

    model = build_model(cfg)
    return count_params(model), count_macs(model, (1, cfg.in_chans, cfg.resolution, cfg.resolution))


class Objective:
    """The Optuna objective: returns (accuracy, latency_ms); the budget is the constraint.

    Over-budget candidates cost one table lookup and are stored COMPLETE with their latency, the
    constraint ``latency_ms - budget_ms > 0`` and ``trained = False``. A candidate whose params equal an
    already trained trial's reuses that score (``duplicate_of``) instead of training again.
    """

    def __init__(self, *, space: Any, table: Any, budget_ms: float, proxy: Any, data: Any, seed: int,
                 worker: str, counters: Counters, static_genome: bool = False):
        self.space, self.table, self.budget_ms = space, table, budget_ms
        self.static_genome = static_genome
        self.proxy, self.data, self.seed, self.worker = proxy, data, seed, worker
        self.counters = counters

    def __call__(self, trial: Any) -> tuple[float, float]:
        try:
            return self._evaluate(trial)
        except KeyboardInterrupt:  # a second Ctrl-C / SIGTERM: the trial is FAIL, re-run on --resume
            trial.set_user_attr("reason", "interrupted")
            raise

    def _evaluate(self, trial: Any) -> tuple[float, float]:
        from nas.latency.predict import predict_latency

        trial.set_user_attr("worker", self.worker)
        if trial.user_attrs.get("reason"):  # a re-run of an interrupted trial starts clean
            trial.set_user_attr("reason", "")
        try:
            if self.static_genome:
                suggest_every_family(self.space, trial)
            cfg = self.space.sample(trial)
            trial.set_user_attr("arch", arch_hash(cfg))
            latency_ms = float(predict_latency(cfg, self.table).total_ms)
        except Exception as exc:  # noqa: BLE001 - a bad candidate must not end the search
            self._fail(trial, f"{type(exc).__name__}: {exc}")
        trial.set_user_attr("latency_ms", latency_ms)
        trial.set_user_attr("constraint", [latency_ms - self.budget_ms])
        if hasattr(trial, "set_constraint"):  # Optuna >= 5: the samplers read it from the trial
            trial.set_constraint("latency_ms_over_budget", latency_ms - self.budget_ms)
        feasible = latency_ms <= self.budget_ms
        trial.set_user_attr("feasible", feasible)
        if not feasible:
            trial.set_user_attr("trained", False)
            self.counters.over_budget += 1
            return NOT_TRAINED_ACCURACY, latency_ms
        previous = self._trained_twin(trial)
        if previous is not None:
            for key in ("accuracy", "params", "macs", "final_loss"):
                trial.set_user_attr(key, previous.user_attrs.get(key))
            trial.set_user_attr("duplicate_of", previous.number)
            trial.set_user_attr("trained", False)
            self.counters.reused += 1
            return float(previous.user_attrs["accuracy"]), latency_ms
        return self._train(trial, cfg), latency_ms

    def _train(self, trial: Any, cfg: ArchConfig) -> float:
        start = time.perf_counter()
        try:
            result = self.proxy.evaluate(cfg, self.data, seed=self.seed)
        except Exception as exc:  # noqa: BLE001 - proxy errors fail the candidate, not the search
            self._fail(trial, f"proxy error: {type(exc).__name__}: {exc}", seconds=time.perf_counter() - start)
        seconds = time.perf_counter() - start
        self.counters.train_seconds += seconds
        trial.set_user_attr("seconds", round(seconds, 3))
        if not result.ok or result.score is None or not math.isfinite(result.score):
            self._fail(trial, result.reason or "proxy returned no finite score", seconds=seconds)
        try:
            params, macs = model_stats(cfg)
        except Exception as exc:  # noqa: BLE001 - counting is informative only; the score stands
            params = macs = None
            trial.set_user_attr("reason", f"params/MACs not counted: {type(exc).__name__}: {exc}"[:300])
        trial.set_user_attr("accuracy", float(result.score))
        trial.set_user_attr("final_loss", result.final_loss)
        trial.set_user_attr("params", params)
        trial.set_user_attr("macs", macs)
        trial.set_user_attr("trained", True)
        if result.reason:
            trial.set_user_attr("reason", result.reason)
        self.counters.trained += 1
        return float(result.score)

    def _trained_twin(self, trial: Any) -> Any:
        """A COMPLETE trained trial that built the same network (same config, whatever the params)."""
        from optuna.trial import TrialState

        arch = trial.user_attrs.get("arch")
        for t in trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            if t.user_attrs.get("trained") and t.user_attrs.get("arch") == arch:
                return t
        return None

    def _fail(self, trial: Any, reason: str, *, seconds: float | None = None) -> None:
        reason = " ".join(reason.split())[:300]
        trial.set_user_attr("reason", reason)
        if seconds is not None:
            trial.set_user_attr("seconds", round(seconds, 3))
        self.counters.failed += 1
        self.counters.failures.append(f"trial {trial.number}: {reason}")
        raise CandidateFailed(reason)
