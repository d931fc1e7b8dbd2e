"""Hardware-aware search: Optuna over a search space, accuracy proxy up, table-predicted latency down.

``run_search(SearchSettings(...))`` runs (or resumes, or joins) a study and keeps its run folder
current; ``parse_budget("5ms")`` reads a latency budget. Torch and Optuna are imported when a search runs.
"""

from __future__ import annotations

from nas.search.budget import BudgetError, format_ms, parse_budget, parse_duration
from nas.search.pareto import hypervolume, pareto_indices
from nas.search.runner import DEFAULT_TRIALS, PROXY_DEFAULTS, SearchResult, SearchSettings, run_search
from nas.search.samplers import DEFAULT_SAMPLER, SAMPLERS

__all__ = ["DEFAULT_SAMPLER", "DEFAULT_TRIALS", "PROXY_DEFAULTS", "SAMPLERS", "BudgetError", "SearchResult",
           "SearchSettings", "format_ms", "hypervolume", "pareto_indices", "parse_budget", "parse_duration",
           "run_search"]
