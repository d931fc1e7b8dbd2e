"""A search run: its model (trial records, run metadata), the folder writer and its reader, side by side.

The search writes a run folder with ``RunWriter``; the report and the export read it with ``load_run``.
Both go through ``TrialRecord`` (one per trial, also stored in the Optuna study under ``RECORD_ATTR``)
and ``RunMeta`` (run.json), and derive the front and feasibility with the same functions.
"""

from __future__ import annotations

from nas.run.census import Census, RunCounts, status_of
from nas.run.folder import RunWriter, write_meta
from nas.run.front import front_of, hypervolume, pareto_indices
from nas.run.meta import Metric, RunFolderError, RunMeta, TableRef, read_meta
from nas.run.reader import NoFeasibleTrialError, NotARunError, Run, UnknownTrialError, describe_numbers, load_run
from nas.run.record import RECORD_ATTR, PresetRow, Rung, TrialRecord

__all__ = ["RECORD_ATTR", "Census", "Metric", "NoFeasibleTrialError", "NotARunError", "PresetRow", "Run", "RunCounts",
           "RunFolderError", "RunMeta", "RunWriter", "Rung", "TableRef", "TrialRecord", "UnknownTrialError",
           "describe_numbers", "front_of", "hypervolume", "load_run", "pareto_indices", "read_meta", "status_of",
           "write_meta"]
