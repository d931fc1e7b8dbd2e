"""Timing whole networks on this machine, and the timings CSV that carries whole-network timings between machines.

One owner for what every command that times networks shares (``nas latency measure|check|validate|calibrate``,
``nas profile``'s calibration networks, ``nas search --verify``):

- the clock policy: a single-threaded runtime is timed by the calling thread's CPU time (exact for work that
  runs on the caller, immune to other processes on a shared core), more threads by wall time
  (:func:`clock_for`); a table's timings repeat its own clock (:func:`table_clock`);
- the can-time check: a runtime this machine cannot run (Core ML off macOS) is refused with what to do
  instead (:func:`timing_backend`);
- the network timer: :func:`time_network`; :func:`measure_latency` its JSON-ready result,
  :func:`measure_for_table` the same with a table's runtime, threads and clock;
- the timings CSV ``arch,latency_ms,...``: :func:`append_timings` writes the rows ``nas latency measure --csv``
  times, :func:`read_timings` reads them (and a phone's timings) for ``nas latency calibrate --timings``,
  ``nas tables fit --timings`` and ``nas report --timings``; :func:`export_networks` writes the list to fill in.
"""

from __future__ import annotations

import csv
import datetime as _dt
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nas.config import ArchConfig
from nas.errors import ConfigError, UsageError
from nas.latency.backends import LatencyBackend, Timing, TimingPolicy, get_backend
from nas.latency.table import LatencyTable

TIMINGS_HEADER = ("arch", "latency_ms", "resolution", "runtime", "runtime_version", "threads", "clock", "date")
TIMINGS_COLUMNS = ("arch", "latency_ms")  # what a timings CSV must have (a phone's may have only these)
DUPLICATE_SPREAD = 1.5  # repeated timings of one network further apart than this (max / min) conflict


class CalibrationError(UsageError):
    """The timings or settings cannot calibrate the table; names the file, row or setting and what is accepted."""


# ----------------------------------------------------------------------------- clock policy
def clock_for(threads: int | None) -> str:
    """The clock for ``threads`` intra-op threads (None: one): ``thread`` CPU time for one, ``wall`` for more."""
    return "thread" if (threads or 1) == 1 else "wall"


def table_clock(table: LatencyTable) -> str:
    """The clock ``table`` was timed with (its provenance), else :func:`clock_for` its threads."""
    return table.provenance.get("clock", clock_for(table.threads))


def network_policy(policy: TimingPolicy) -> TimingPolicy:
    """The timing policy for whole networks: same clock, 5x the block budget (networks take 5-500 ms)."""
    return TimingPolicy(warmup_runs=2, warmup_s=0.0, min_runs=7, max_runs=200,
                        budget_s=5 * policy.budget_s, clock=policy.clock)


# ----------------------------------------------------------------------------- can-time check
def timing_backend(what: str | LatencyTable, *, instead: str, role: str = "table",
                   error: type[Exception] = UsageError) -> LatencyBackend:
    """The backend that times runtime ``what`` (or a table's runtime) on this machine.

    Raises:
        error: this machine cannot time it; the message names the runtime (or ``role`` and table) and ends with
            ``instead``, what to do instead.
    """
    runtime = what.runtime if isinstance(what, LatencyTable) else what
    backend = get_backend(runtime)
    if not backend.can_time:
        subject = (f"{role} '{what.device}' is a {runtime} table, which" if isinstance(what, LatencyTable)
                   else f"runtime '{runtime}'")
        raise error(f"{subject} cannot be timed on this machine: {instead}")
    return backend


# ----------------------------------------------------------------------------- the network timer
def time_network(cfg: ArchConfig, backend: LatencyBackend, *, threads: int, policy: TimingPolicy,
                 batch: int = 1) -> Timing:
    """Time the whole network ``cfg`` end to end at its deploy resolution (seeded weights, ``batch`` inputs)."""
    import torch

    from nas.models.builder import build_model

    torch.manual_seed(0)
    model = build_model(cfg).eval()
    x = torch.randn(batch, cfg.in_chans, cfg.resolution, cfg.resolution)
    return backend.measure(model, x, threads=threads, policy=policy)


def measure_latency(cfg: ArchConfig, *, runtime: str = "onnxruntime", threads: int = 1,
                    policy: TimingPolicy | None = None) -> dict[str, Any]:
    """End-to-end median latency of ``cfg`` on this machine (batch 1, deploy resolution), as ``nas latency measure
    --json`` prints it and :func:`append_timings` writes it."""
    backend = get_backend(runtime)
    policy = policy or network_policy(TimingPolicy(clock=clock_for(threads)))
    timing = time_network(cfg, backend, threads=threads, policy=policy)
    return {"arch": cfg.name, "resolution": cfg.resolution, "latency_ms": round(timing.median_ms, 4),
            "p25_ms": round(timing.p25_ms, 4),
            "p75_ms": round(timing.p75_ms, 4), "runs": timing.runs, "runtime": backend.name,
            "runtime_version": backend.runtime_version(), "threads": threads, "clock": policy.clock,
            "statistic": "median"}


def measure_for_table(cfg: ArchConfig, table: LatencyTable) -> dict[str, Any]:
    """:func:`measure_latency` of ``cfg`` as ``table``'s numbers were timed: its runtime, threads and clock."""
    return measure_latency(cfg, runtime=table.runtime, threads=table.threads or 1,
                           policy=network_policy(TimingPolicy(clock=table_clock(table))))


# ----------------------------------------------------------------------------- the timings CSV
@dataclass(frozen=True)
class NetworkTiming:
    """One whole network timed on the target: its name, config, latency and the CSV rows it came from."""

    name: str
    cfg: ArchConfig
    latency_ms: float
    rows: tuple[int, ...] = ()
    where: str = ""  # "FILE, row N (arch)" for a network read from a timings CSV
    runtime_version: str = ""  # as the CSV says (nas latency measure --csv writes it)
    runtime: str = ""  # as the CSV says


def append_timings(path: str | Path, result: dict[str, Any]) -> None:
    """Append one :func:`measure_latency` result to a timings CSV (header written when the file is new).

    A config path is written relative to the CSV's folder, so the file and its configs move together;
    :func:`read_timings` reads it.
    """
    path = Path(path)
    arch = str(result["arch"])
    if Path(arch).is_file():
        arch = os.path.relpath(Path(arch).resolve(), path.resolve().parent)
    if path.exists() and path.stat().st_size:
        with path.open(newline="") as fh:
            header = next(csv.reader(fh), [])
        if tuple(header) != TIMINGS_HEADER:
            raise UsageError(f"{path}: exists with the columns {','.join(header)}, not {','.join(TIMINGS_HEADER)}; "
                             "give another --csv file")
        new = False
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        new = True
    row = [arch, result["latency_ms"], result["resolution"], result["runtime"], result["runtime_version"],
           result["threads"], result["clock"], _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")]
    with path.open("a", newline="") as fh:
        writer = csv.writer(fh)
        if new:
            writer.writerow(TIMINGS_HEADER)
        writer.writerow(row)


def read_timings(path: str | Path, *, base: LatencyTable | None = None) -> list[NetworkTiming]:
    """Networks and latencies from a CSV ``arch,latency_ms`` (extra columns ignored, ``runtime`` checked against
    ``base``'s when there is a base table: ``nas tables fit --timings`` has none).

    ``arch`` is a preset name or the path of a config JSON (relative to the working folder or to the CSV's),
    at its own resolution unless a ``resolution`` column says at which one it was timed. Rows of the same arch
    and resolution are timings of one network: their mean is used.

    Raises:
        CalibrationError: the file cannot be read or a row is invalid (names the file and row).
    """
    from nas.models.presets import PRESETS

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's export may start with a byte order mark
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise CalibrationError(f"{path}: not a text CSV (arch,latency_ms)") from None
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in TIMINGS_COLUMNS if c not in header]
    if missing:
        raise CalibrationError(f"{path}: no {' or '.join(repr(c) for c in missing)} column (header: "
                               f"{','.join(header) or 'none'}); a timings CSV has the columns arch,latency_ms")
    by_arch: dict[tuple[str, str], tuple[ArchConfig, list[float], list[int], str]] = {}
    versions: dict[tuple[str, str], str] = {}
    runtimes: dict[tuple[str, str], str] = {}
    for number, raw in enumerate(reader, start=2):
        if None in raw:  # more fields than the header names
            raise CalibrationError(f"{path}, row {number}: {len(header) + len(raw[None])} fields, but the header names "
                                   f"{len(header)} ({','.join(header)}); quote a value that holds a comma")
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items()}
        arch, value, resolution = row["arch"], row["latency_ms"], row.get("resolution", "")
        where = f"{path}, row {number} ({arch or 'no arch'})"
        runtime = row.get("runtime")
        if runtime and base is not None and runtime != base.runtime:
            raise CalibrationError(f"{where}: timed with runtime '{runtime}', but base table '{base.device}' is "
                                   f"{base.runtime}; calibrate a {runtime} table instead")
        try:
            ms = float(value)
        except ValueError:
            raise CalibrationError(f"{where}: latency_ms {value!r} is not a number (of ms > 0)") from None
        if not math.isfinite(ms) or ms <= 0:
            raise CalibrationError(f"{where}: latency_ms {value} must be a finite number of ms > 0")
        if (arch, resolution) not in by_arch:
            cfg = _arch_config(arch, path.parent, where, PRESETS)
            by_arch[arch, resolution] = (_at_resolution(cfg, resolution, where), [], [], where)
        by_arch[arch, resolution][1].append(ms)
        by_arch[arch, resolution][2].append(number)
        versions.setdefault((arch, resolution), row.get("runtime_version", ""))
        runtimes.setdefault((arch, resolution), runtime or "")
    if not by_arch:
        raise CalibrationError(f"{path}: no timings (rows of arch,latency_ms)")
    for (arch, _), (_, times, numbers, _) in by_arch.items():
        if max(times) > DUPLICATE_SPREAD * min(times):
            slow, fast = numbers[times.index(max(times))], numbers[times.index(min(times))]
            raise CalibrationError(f"{path}, rows {fast} and {slow} ({arch}): the same network timed "
                                   f"{min(times):g} and {max(times):g} ms, more than {DUPLICATE_SPREAD:g}x apart; "
                                   "repeated timings of one network are averaged only when they agree")
    return [NetworkTiming(arch, cfg, sum(ms) / len(ms), tuple(rows), where, versions[arch, res], runtimes[arch, res])
            for (arch, res), (cfg, ms, rows, where) in by_arch.items()]


def timings_runtime_version(timings: list[NetworkTiming]) -> str | None:
    """The runtime version the timings were made with, when their rows name exactly one."""
    versions = {t.runtime_version for t in timings if t.runtime_version}
    return versions.pop() if len(versions) == 1 else None


def _at_resolution(cfg: ArchConfig, resolution: str, where: str) -> ArchConfig:
    if not resolution:
        return cfg
    try:
        size = int(resolution)
        if size <= 0:
            raise ValueError
        return cfg.replace(resolution=size)
    except ValueError:
        raise CalibrationError(f"{where}: resolution {resolution!r} must be a positive integer") from None
    except ConfigError as exc:
        raise CalibrationError(f"{where}: {exc}") from None


def _arch_config(arch: str, folder: Path, where: str, presets: dict) -> ArchConfig:
    if arch in presets:
        return presets[arch].config.replace(name=arch)
    for candidate in (Path(arch), folder / arch):
        if candidate.is_file():
            return ArchConfig.load(candidate).replace(name=arch)
    raise CalibrationError(f"{where}: arch '{arch}' is neither a preset (see `nas presets`) nor a config JSON "
                           "file")


def export_networks(cfgs: list[ArchConfig], out_dir: str | Path) -> Path:
    """Write each network's config JSON and a ``timings.csv`` (arch,latency_ms) to fill in with target timings."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# time each network on the target (e.g. nas export <arch> --format coreml --out <name>.mlpackage,",
             "# then Xcode's Core ML performance report), write its latency in ms, then run nas latency calibrate",
             ",".join(TIMINGS_COLUMNS)]
    for cfg in cfgs:
        (out / f"{cfg.name}.json").write_text(cfg.to_json(indent=2) + "\n")
        lines.append(f"{cfg.name}.json,")
    csv_path = out / "timings.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    return csv_path
