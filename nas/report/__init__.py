"""Reports of a search run: the Pareto front as Markdown, PNG, HTML and a terminal table."""

from __future__ import annotations

from nas.report.run import NoFeasibleTrialError, NotARunError, Run, UnknownTrialError, load_run
from nas.report.write import ReportResult, arch_summary, write_report

__all__ = [
    "NoFeasibleTrialError", "NotARunError", "ReportResult", "Run", "UnknownTrialError", "arch_summary",
    "load_run", "write_report",
]
