"""Latency tables: one JSON file per device, block key -> milliseconds.

File format (``schema`` 1), one object::

    {
      "schema": 1,
      "device": "x86-2core-ort",          # name used by --device; equals the file stem
      "runtime": "onnxruntime",           # onnxruntime | torch | coreml | ...
      "runtime_version": "1.31.1",
      "compute_unit": "cpu",              # cpu | all | ane | gpu ... (what the runtime was allowed to use)
      "threads": 1,                       # intra-op threads (null when the runtime does not say)
      "resolution": 224,                  # the resolution its space was profiled at (keys hold their input
                                          # shape, so entries of other resolutions may be added)
      "batch": 1,
      "method": "measured",               # measured (timed on the device) | calibrated (another table adapted
                                          # from whole-network timings) | estimated (a cost model)
      "network_overhead_ms": 0.05,        # optional, default 0: added ONCE per network (per-call cost)
      "provenance": {                     # how the numbers were made; free-form beyond these keys
        "date": "2025-01-01T12:00:00Z", "tool_version": "0.1.0", "host": "...",
        "fingerprint": {"cpu_model": ..., "cores": 2, ...},   # the timing host (nas.latency.host)
        "warmup": 10, "repeats": "adaptive", "statistic": "median",
        "space": "hybrid-vit", "keys_total": 1320, "complete": true,   # what a profile set out to measure
        ...
      },
      "entries": {                        # block key (nas.models.plan.BlockSpec.key) -> entry
        "mhsa|197x192|act=gelu,...": {"ms": 0.412, ...}   # "ms" required (finite, >= 0); extra fields kept
      }
    }

A network's predicted latency is ``network_overhead_ms + sum(entries[key]["ms"] for each planned block)``
(see :mod:`nas.latency.predict`). A key an estimated table lacks is priced by the cost model it carries
(:mod:`nas.latency.extend`; kept in ``LatencyTable.added``, outside the file and its hash). A key a measured or
calibrated table lacks is an error (:class:`MissingKeysError`) naming the keys and the ``nas profile
--only-missing`` command that would measure them, never a silent zero; a table whose profile stopped early
(``provenance.complete`` false) says how many keys of its space it still lacks.

Tables are found, first match wins, in: ``--tables DIR`` (``tables_dir``), the folders in the
environment variable ``NAS_TABLES_DIR`` (``os.pathsep``-separated), the user folder
``$XDG_CONFIG_HOME/nas/latency_tables`` (default ``~/.config/nas/latency_tables``), then the tables
shipped with the package. A device name may also be a path to a table file.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nas.errors import NasError, UnknownNameError
from nas.files import write_json

SCHEMA_VERSION = 1
METHODS = ("measured", "calibrated", "estimated")
ENV_TABLES_DIR = "NAS_TABLES_DIR"
REQUIRED_FIELDS = ("device", "runtime", "resolution", "batch", "method", "provenance", "entries")


class TableError(NasError):
    """A latency table file is unreadable or invalid; the message names the file and the problem."""


class MissingKeysError(NasError):
    """A network needs block keys the table lacks; names them and the command that measures them.

    ``incomplete`` is the table's own gap when its profile stopped early: (keys of its space it lacks, keys
    of its space, space name); the message then leads with that count, not only this network's keys.
    ``scope`` says which keys ("of space 'S' at 256 px"), ``lead`` introduces the command.
    """

    def __init__(self, keys: Iterable[str], *, device: str, command: str, hint: str = "",
                 incomplete: tuple[int, int, str] | None = None, scope: str = "",
                 lead: str = "measure them with", count: int | None = None):
        self.keys = sorted(set(keys))
        self.device, self.command, self.incomplete = device, command, incomplete
        first = self.keys[0] if len(self.keys[0]) <= 60 else self.keys[0][:59] + "…"
        shown = first + (f" (and {len(self.keys) - 1} more)" if len(self.keys) > 1 else "")
        if incomplete:
            lacking, total, space = incomplete
            head = (f"latency table '{device}' is incomplete: it lacks {lacking:,} of the {total:,} block keys of "
                    f"space '{space}' (its profile stopped early; this network needs {len(self.keys)} of them); "
                    f"finish it with: {command} (resumes where it stopped)")
        else:
            head = (f"latency table '{device}' lacks {count or len(self.keys):,} block key(s){scope}: {shown}; "
                    f"{lead}: {command}")
        super().__init__(head + (f" ({hint})" if hint else ""))


@dataclass
class LatencyTable:
    """A device's latency table (see the module docstring for the file format)."""

    device: str
    runtime: str
    method: str
    resolution: int
    batch: int = 1
    threads: int | None = None
    runtime_version: str = ""
    compute_unit: str = "cpu"
    network_overhead_ms: float = 0.0
    provenance: dict[str, Any] = field(default_factory=dict)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None
    # entries an estimated table's cost model priced on demand (nas.latency.extend): not in the file, not hashed
    added: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    added_loaded: bool = field(default=False, repr=False)

    def ms(self, key: str) -> float:
        """Milliseconds of one block key; raises MissingKeysError if the table lacks it."""
        entry = self.entries.get(key) or self.added.get(key)
        if entry is None:
            raise self.missing(key)
        return float(entry["ms"])

    @property
    def keys_total(self) -> int | None:
        """How many block keys the profile that made this table set out to measure (None if not recorded)."""
        total = self.provenance.get("keys_total")
        return total if isinstance(total, int) and not isinstance(total, bool) else None

    @property
    def complete(self) -> bool:
        """False when the table's profile stopped before measuring every key of its space."""
        return self.provenance.get("complete", True) is not False

    def missing(self, *keys: str, hint: str = "", space: str | None = None, resolution: int | None = None,
                count: int | None = None) -> MissingKeysError:
        """The error for block ``keys`` this table lacks, naming the command that measures only those.

        Args:
            space: the space (name or YAML path) whose networks need them (default: the table's).
            resolution: the resolution they are planned at (default: the table's).
            count: how many keys of that space and resolution the table lacks, when counted.
        """
        incomplete = None
        if not self.complete and self.keys_total and space is None:
            incomplete = (max(self.keys_total - len(self.entries), len(keys)), self.keys_total,
                          str(self.provenance.get("space")))
            return MissingKeysError(keys, device=self.device, hint=hint, incomplete=incomplete,
                                    command=self.profile_command(self.provenance.get("space")))
        space = space or self.provenance.get("space_path") or self.provenance.get("space")
        resolution = resolution or self.resolution
        scope = f" of space '{space}' at {resolution} px" if count is not None else f" at {resolution} px"
        lead, command = self.measure_missing_command(space or "SPACE", resolution)
        return MissingKeysError(keys, device=self.device, command=command, hint=hint, scope=scope, lead=lead,
                                count=count)

    def measure_missing_command(self, space: str, resolution: int) -> tuple[str, str]:
        """(how to introduce it, the command) that measures only the keys of ``space`` at ``resolution`` this
        table lacks: here when it was timed here, through a table of this machine when it was timed on another
        one, on the device (exported blocks) for a Core ML table."""
        from nas.latency.host import host_status

        tables = self.tables_option()
        threads = f" --threads {self.threads}" if self.threads else ""
        only = f"--runtime {self.runtime}{threads}{tables} --space {space} --resolution {resolution} --only-missing"
        if self.runtime == "coreml":
            return ("time them on the device", f"nas profile --device {self.device} {only} --export DIR, then: "
                    f"nas profile import CSV --device {self.device} --runtime coreml{tables}")
        if host_status(self) == "differs":
            return ("it was timed on another machine, so time them in a copy calibrated here",
                    f"nas latency calibrate --device {self.device} --as NAME{tables}, then: nas profile --device NAME "
                    f"--space {space} --resolution {resolution} --only-missing")
        return "measure them here with", f"nas profile --device {self.device} {only}"

    def profile_command(self, space: str | None = None) -> str:
        """The `nas profile` command that resumes this table's profile (it measures only what is missing)."""
        cmd = f"nas profile --device {self.device} --runtime {self.runtime}{self.tables_option()}"
        if space:
            cmd += f" --space {space}"
        if self.threads:
            cmd += f" --threads {self.threads}"
        if self.runtime == "coreml":
            cmd += f" --export DIR, then: nas profile import CSV --device {self.device} --runtime coreml"
        return cmd

    def tables_option(self) -> str:
        """`` --tables DIR`` when this table is found only through that option (or $NAS_TABLES_DIR), else ""."""
        if self.path is None or self.path.parent in (user_tables_dir(), _shipped_dir()):
            return ""
        return f" --tables {self.path.parent}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of this table (without its path)."""
        return {
            "schema": SCHEMA_VERSION, "device": self.device, "runtime": self.runtime,
            "runtime_version": self.runtime_version, "compute_unit": self.compute_unit,
            "threads": self.threads, "resolution": self.resolution, "batch": self.batch,
            "method": self.method, "network_overhead_ms": self.network_overhead_ms,
            "provenance": self.provenance, "entries": self.entries,
        }

    @property
    def hash(self) -> str:
        """Short sha256 of the canonical JSON content (identifies the numbers a search used)."""
        canon = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()[:12]

    def summary(self) -> dict[str, Any]:
        """One row for `nas devices`: name, method, runtime, entries, provenance summary."""
        prov = self.provenance
        return {
            "device": self.device, "method": self.method, "runtime": self.runtime,
            "runtime_version": self.runtime_version, "compute_unit": self.compute_unit,
            "threads": self.threads, "resolution": self.resolution, "batch": self.batch,
            "entries": len(self.entries), "keys_total": self.keys_total, "complete": self.complete,
            "network_overhead_ms": self.network_overhead_ms,
            "date": prov.get("date"), "host": prov.get("host"), "statistic": prov.get("statistic"),
            "source": prov.get("source"), "hash": self.hash, "path": str(self.path) if self.path else None,
            "base": prov.get("base", {}).get("device") if isinstance(prov.get("base"), dict) else None,
            "loo_error_pct": self.loo_error_pct,
        }

    @property
    def loo_error_pct(self) -> float | None:
        """Leave-one-out mean absolute % error of the fit that made an estimated or calibrated table."""
        if self.method == "estimated":
            return self.provenance.get("loo_mape_pct")
        if self.method == "calibrated":
            return self.provenance.get("calibration", {}).get("mape_loo")
        return None


# ----------------------------------------------------------------------------- parsing
def table_from_dict(data: Any, *, path: Path | str | None = None) -> LatencyTable:
    """Validate a parsed table document; errors name the file and the problem."""
    where = str(path) if path else "<table>"

    def fail(problem: str) -> TableError:
        return TableError(f"{where}: {problem}")

    if not isinstance(data, dict):
        raise fail("expected a JSON object")
    schema = data.get("schema")
    if schema != SCHEMA_VERSION:
        raise fail(f"schema version {schema!r} is not supported (this nas reads schema {SCHEMA_VERSION})")
    missing = [k for k in REQUIRED_FIELDS if k not in data]
    if missing:
        raise fail(f"missing field(s): {', '.join(missing)}")
    if data["method"] not in METHODS:
        raise fail(f"method {data['method']!r} must be one of {', '.join(METHODS)}")
    for name in ("resolution", "batch"):
        if not isinstance(data[name], int) or isinstance(data[name], bool) or data[name] <= 0:
            raise fail(f"'{name}' must be a positive integer, got {data[name]!r}")
    if not isinstance(data["provenance"], dict):
        raise fail("'provenance' must be an object")
    overhead = data.get("network_overhead_ms", 0.0)
    if not _valid_ms(overhead):
        raise fail(f"'network_overhead_ms' must be a finite number >= 0, got {_shown(overhead)}")
    entries = data["entries"]
    if not isinstance(entries, dict):
        raise fail("'entries' must be an object of block key -> {\"ms\": ...}")
    for key, entry in entries.items():
        if not isinstance(entry, dict) or "ms" not in entry:
            raise fail(f"entry '{key}' must be an object with 'ms'")
        if not _valid_ms(entry["ms"]):
            raise fail(f"entry '{key}' has invalid ms {_shown(entry['ms'])} (must be a finite number >= 0)")
    return LatencyTable(
        device=str(data["device"]), runtime=str(data["runtime"]), method=data["method"],
        resolution=data["resolution"], batch=data["batch"], threads=data.get("threads"),
        runtime_version=str(data.get("runtime_version", "")),
        compute_unit=str(data.get("compute_unit", "cpu")),
        network_overhead_ms=float(overhead), provenance=data["provenance"],
        entries=entries, path=Path(path) if path else None,
    )


def _valid_ms(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value >= 0)


class _JsonConstant(str):
    """A NaN / Infinity / -Infinity literal read from a table file, kept as written so errors can quote it."""


def _shown(value: Any) -> str:
    return str(value) if isinstance(value, _JsonConstant) else repr(value)


def read_table(path: str | Path) -> LatencyTable:
    """Load and validate one table file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise TableError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not text.strip():
        raise TableError(f"{path}: empty file")
    try:
        # NaN/Infinity are not JSON: keep the literal (validation rejects it, quoting it as written)
        data = json.loads(text, parse_constant=_JsonConstant)
    except json.JSONDecodeError as exc:
        raise TableError(f"{path}: not valid JSON (truncated or corrupt?): {exc.msg} at line {exc.lineno}") \
            from None
    return table_from_dict(data, path=path)


# ----------------------------------------------------------------------------- finding
def user_tables_dir() -> Path:
    """The per-user folder for tables of one's own devices."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "nas" / "latency_tables"


def table_dirs(tables_dir: str | Path | None = None) -> list[Path]:
    """Folders searched for tables, first match wins (see the module docstring)."""
    dirs: list[Path] = []
    if tables_dir:
        dirs.append(Path(tables_dir))
    env = os.environ.get(ENV_TABLES_DIR, "")
    dirs += [Path(p) for p in env.split(os.pathsep) if p]
    dirs.append(user_tables_dir())
    shipped = _shipped_dir()
    if shipped is not None:
        dirs.append(shipped)
    return dirs


def _shipped_dir() -> Path | None:
    from nas.resources import data_dir

    try:
        return data_dir("latency_tables")
    except FileNotFoundError:
        return None


def find_tables(tables_dir: str | Path | None = None) -> dict[str, Path]:
    """Device name (file stem) -> path of every table found, first folder wins."""
    found: dict[str, Path] = {}
    for folder in table_dirs(tables_dir):
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                found.setdefault(path.stem, path)
    return found


def hidden_tables(tables_dir: str | Path | None = None) -> dict[str, list[Path]]:
    """Device name -> the tables of that name that the one :func:`find_tables` picks hides (later folders)."""
    hidden: dict[str, list[Path]] = {}
    first = find_tables(tables_dir)
    for folder in table_dirs(tables_dir):
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                if first.get(path.stem) not in (None, path) and path not in hidden.get(path.stem, []):
                    hidden.setdefault(path.stem, []).append(path)
    return hidden


def is_shipped(path: str | Path) -> bool:
    """True when ``path`` is a table shipped with nas (``latency_tables/`` of the package)."""
    shipped = _shipped_dir()
    try:
        return shipped is not None and Path(path).resolve().parent == shipped.resolve()
    except OSError:
        return False


def load_table(device: str, tables_dir: str | Path | None = None) -> LatencyTable:
    """Load the table of ``device`` (a name found by :func:`find_tables`, or a path to a table file)."""
    if device.endswith(".json") and Path(device).is_file():
        return read_table(device)
    tables = find_tables(tables_dir)
    if device not in tables:
        raise UnknownNameError("device (latency table)", device, list(tables))
    table = read_table(tables[device])
    if table.device != device:
        raise TableError(f"{tables[device]}: file is named for device '{device}' but says device "
                         f"'{table.device}'")
    return table


def save_table(table: LatencyTable, path: str | Path) -> Path:
    """Write ``table`` to ``path`` atomically (temp file + rename): a crash never leaves half a table."""
    path = write_json(path, table.to_dict(), indent=1, sort_keys=False, allow_nan=False)
    table.path = path
    return path
