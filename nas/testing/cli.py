"""Run the real `nas` entry point in-process and check its one-line errors (for nas's tests and plug-ins').

The bad-input suites (``tests/test_bad_input_*.py``) are tables of (argv, expected exit code, a phrase
of the message); each case goes through ``nas.cli.main`` exactly as a user's command would (its error
handling included), and must end with one line on stderr, no traceback and no "internal error".
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass


@dataclass(frozen=True)
class CliResult:
    """What one `nas` invocation printed and returned."""

    code: int
    stdout: str
    stderr: str


def run_cli(argv: list[str]) -> CliResult:
    """Call ``nas.cli.main(argv)`` with stdout/stderr captured; returns its exit code and output."""
    from nas.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return CliResult(code, out.getvalue(), err.getvalue())


def assert_one_line_error(result: CliResult, code: int, phrase: str) -> None:
    """The command failed with ``code`` and said so in one stderr line containing ``phrase``."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    shown = result.stderr or result.stdout
    assert result.code == code, f"exit {result.code}, expected {code}: {shown}"
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, shown
    assert lines, f"nothing on stderr (stdout: {result.stdout!r})"
    assert phrase.lower() in lines[-1].lower(), f"{phrase!r} not in the error line {lines[-1]!r}"
    assert len(lines[-1]) <= 400, f"error line too long ({len(lines[-1])} chars): {lines[-1]}"
