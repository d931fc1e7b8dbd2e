"""Hardware-aware search: Optuna over a search space, proxy score up, table-predicted latency down.

``run_search(SearchSettings(...))`` runs (or resumes, or joins) a study, multi-fidelity and on several
worker processes, and keeps its run folder current; ``parse_budget("5ms")`` reads a latency budget.
Torch and Optuna are imported when a search runs.
"""

from __future__ import annotations

from nas.search.budget import BudgetError, format_ms, parse_budget, parse_duration
from nas.search.events import SearchEvent, SearchStatus
from nas.search.plan import SearchPlan, resolve_plan
from nas.search.runner import NothingScoredError, SearchResult, run_search
from nas.search.samplers import DEFAULT_SAMPLER, SAMPLERS
from nas.search.settings import SearchSettings

__all__ = ["DEFAULT_SAMPLER", "SAMPLERS", "BudgetError", "NothingScoredError",
           "SearchEvent", "SearchPlan", "SearchResult", "SearchSettings", "SearchStatus", "format_ms", "parse_budget",
           "parse_duration", "resolve_plan", "run_search"]
