"""Reports of a search run: the Pareto front as Markdown, PNG, HTML and a terminal table."""

from __future__ import annotations

from nas.report.write import ReportResult, arch_summary, write_report

__all__ = ["ReportResult", "arch_summary", "write_report"]
