"""Reports of a search run: the Pareto front as Markdown, PNG, HTML and a terminal table."""

from __future__ import annotations

from nas.report.write import ReportResult, write_report

__all__ = ["ReportResult", "write_report"]
