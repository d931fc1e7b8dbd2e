"""Errors the library raises; only the CLI turns them into exit codes."""

from __future__ import annotations


class NasError(Exception):
    """Base class: a problem the user can fix, shown as one line without a traceback."""

    exit_code = 1


class UsageError(NasError):
    """Bad input from the user (unknown name, malformed value); exit code 2."""

    exit_code = 2


class ConfigError(UsageError):
    """An ArchConfig (or its JSON) is invalid: names the field and what is accepted."""


class SpaceError(UsageError):
    """A search-space YAML file is malformed: names the file, key and problem."""


class UnknownNameError(UsageError):
    """A preset, space, device, sampler... name that is not known; lists the known ones."""

    def __init__(self, what: str, name: str, known: list[str] | tuple[str, ...]):
        self.what, self.name, self.known = what, name, list(known)
        super().__init__(f"unknown {what} '{name}'; known: {', '.join(sorted(self.known)) or '(none)'}")
