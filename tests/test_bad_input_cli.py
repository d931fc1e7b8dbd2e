"""Bad input to the commands every user meets first: one line, the right exit code, nothing else."""

from __future__ import annotations

import pytest

from nas.testing.cli import assert_one_line_error, run_cli

CASES = [
    (["arch", "show", "no-such-net"], 2, "unknown preset 'no-such-net'"),
    (["space", "show", "no-such-space"], 2, "unknown space 'no-such-space'"),
    (["search", "--device", "iphone12", "--budget", "5"], 2, "add a unit"),
    (["search", "--device", "no-such-device", "--budget", "5ms"], 2, "unknown device"),
    (["no-such-command"], 2, "no such command"),
]


@pytest.mark.parametrize(("argv", "code", "phrase"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_input_is_one_line(argv: list[str], code: int, phrase: str) -> None:
    assert_one_line_error(run_cli(argv), code, phrase)
