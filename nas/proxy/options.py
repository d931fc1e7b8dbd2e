"""Proxy options: each proxy declares the options it takes; user values are checked against them.

A proxy's options come from the command line (``--proxy-opt steps=60``), run folders and code, so a
wrong name, type or range must be refused with one line that says what is accepted, never clamped or
reported as a Python signature.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nas.errors import UsageError


class ProxyOptionError(UsageError):
    """A proxy option that is unknown, of the wrong type or out of range."""


@dataclass(frozen=True)
class Option:
    """One option a proxy accepts.

    Attributes:
        kind: ``int``, ``float`` (an int is accepted where a float is asked for; booleans never are) or
            ``str`` (text, one of ``choices`` when given).
        default: the value used when the option is not given (None: off).
        minimum: the smallest accepted value, or None.
        strict: True if the value must be strictly greater than ``minimum``.
        maximum: the largest accepted value, or None.
        trajectory: False for options that do not change what training computes (threads, scoring
            rungs, wall-clock cap); a saved training state is reusable across those.
        doc: one line for help texts.
    """

    kind: type
    default: Any
    minimum: float | None = None
    strict: bool = True
    maximum: float | None = None
    trajectory: bool = True
    doc: str = ""
    choices: tuple[str, ...] = ()

    def check(self, proxy: str, name: str, value: Any) -> Any:
        """``value`` if acceptable (ints widened to float for float options); raises ProxyOptionError."""
        if value is None and self.default is None:
            return None
        if self.kind is str:
            return self._check_text(proxy, name, value)
        wanted = "an integer" if self.kind is int else "a number"
        ok_type = isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.kind is int and isinstance(value, float) and value.is_integer():
            value = int(value)
        if not ok_type or (self.kind is int and not isinstance(value, int)) or not math.isfinite(value):
            raise ProxyOptionError(f"proxy '{proxy}' option {name} must be {wanted}, got {value!r}")
        if self.minimum is not None and (value <= self.minimum if self.strict else value < self.minimum):
            bound = f"> {self.minimum:g}" if self.strict else f">= {self.minimum:g}"
            raise ProxyOptionError(f"proxy '{proxy}' option {name} must be {bound}, got {value!r}")
        if self.maximum is not None and value > self.maximum:
            raise ProxyOptionError(f"proxy '{proxy}' option {name} must be <= {self.maximum:g}, got {value!r}")
        return float(value) if self.kind is float else value

    def _check_text(self, proxy: str, name: str, value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise ProxyOptionError(f"proxy '{proxy}' option {name} must be a text value, got {value!r}")
        if self.choices and value not in self.choices:
            raise ProxyOptionError(f"proxy '{proxy}' option {name}: unknown value '{value}'; "
                                   f"accepted: {', '.join(self.choices)}")
        return value


def check_options(proxy: str, spec: Mapping[str, Option], given: Mapping[str, Any]) -> dict[str, Any]:
    """Every option of ``spec`` with its checked value: ``given`` where set, else the default.

    Raises:
        ProxyOptionError: an option not in ``spec`` (the accepted ones are listed), a wrong type or range.
    """
    unknown = sorted(set(given) - set(spec))
    if unknown:
        raise ProxyOptionError(f"proxy '{proxy}' has no option {', '.join(unknown)}; "
                               f"accepted: {', '.join(spec) or '(none)'}")
    return {name: opt.check(proxy, name, given[name]) if name in given else opt.default
            for name, opt in spec.items()}


def parse_option_pairs(pairs: Iterable[str]) -> dict[str, Any]:
    """``["steps=60", "lr=1e-3"]`` -> ``{"steps": 60, "lr": 0.001}`` (values read as JSON, else text).

    Raises:
        ProxyOptionError: a pair that is not KEY=VALUE.
    """
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ProxyOptionError(f"proxy option '{pair}' is not KEY=VALUE (e.g. steps=60)")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value.strip()
    return options
