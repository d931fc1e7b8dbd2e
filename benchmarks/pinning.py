"""The command line a benchmark records with its results, with the cores it ran on as taskset writes them."""

from __future__ import annotations

import os
import sys


def command_line() -> str:
    """``taskset -c CORES python ARGV...``: how to run this benchmark again on the same cores."""
    cores = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    return f"taskset -c {cores} python " + " ".join(sys.argv)
