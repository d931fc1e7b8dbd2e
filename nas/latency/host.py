"""Which machine a measured table was timed on, and whether this machine is that one.

A table timed here (``nas profile``, ``nas latency calibrate`` measuring) records this machine's fingerprint
in ``provenance.fingerprint``: CPU model, logical cores, architecture, OS, runtime and its version, threads.
A table made before fingerprints existed (the shipped ``x86-2core-ort``) gets the fingerprint its provenance
implies (architecture, runtime version, threads) with the CPU model and cores unknown, and says so.
Tables of a remote device (estimated, imported from a phone's timings, calibrated from a timings CSV) have
no host to compare.

:func:`host_notice` is the one line ``nas devices``, ``nas search`` and ``nas latency check`` show when this
machine is not (or may not be) the table's host, naming the commands that check and adapt the table.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from importlib import metadata
from typing import Any

LOCAL_RUNTIMES = {"onnxruntime": "onnxruntime", "torch": "torch"}  # runtime -> the package whose version counts
HOST_FIELDS = ("cpu_model", "cores", "machine", "system", "runtime_version")  # what makes another host
LABELS = {"cpu_model": "CPU", "cores": "cores", "machine": "architecture", "system": "OS",
          "runtime_version": "runtime"}


@dataclass(frozen=True)
class HostFingerprint:
    """The machine and runtime timings were made with (a table's ``provenance.fingerprint``); None: not recorded."""

    cpu_model: str | None = None
    cores: int | None = None
    machine: str | None = None
    system: str | None = None
    runtime: str | None = None
    runtime_version: str | None = None
    threads: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HostFingerprint:
        """The fingerprint a table recorded: a field it lacks is not recorded, one this version does not know is
        left out."""
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})

    def to_dict(self) -> dict[str, Any]:
        """The ``provenance.fingerprint`` record, as table files store it."""
        return asdict(self)


@lru_cache(maxsize=1)
def cpu_model() -> str | None:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, sysctl on macOS), or None if the OS does not say."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip() or None
    except OSError:
        pass
    if platform.system() == "Darwin":
        import subprocess

        try:
            out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True,
                                 timeout=5, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out:
            return out
    return platform.processor() or None


def runtime_version(runtime: str) -> str | None:
    """Installed version of a local runtime's package (no import), or None if it is not installed."""
    package = LOCAL_RUNTIMES.get(runtime, runtime)
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def host_fingerprint(runtime: str, *, threads: int | None) -> HostFingerprint:
    """This machine's fingerprint for timings made with ``runtime`` and ``threads`` intra-op threads."""
    return HostFingerprint(cpu_model=cpu_model(), cores=os.cpu_count(), machine=platform.machine(),
                           system=platform.system(), runtime=runtime, runtime_version=runtime_version(runtime),
                           threads=threads)


def table_fingerprint(table: Any) -> HostFingerprint | None:
    """The fingerprint of the host ``table`` was timed on; None when it was not timed on a host like this one.

    Tables without a recorded fingerprint but timed here by an older ``nas profile`` get the fingerprint
    their provenance implies, with the unknown fields set to None.
    """
    prov = table.provenance
    if isinstance(prov.get("fingerprint"), dict):
        return HostFingerprint.from_dict(prov["fingerprint"])
    if table.method != "measured" or table.runtime not in LOCAL_RUNTIMES or prov.get("source") == "user-provided":
        return None
    machine = str(prov.get("machine") or "").split()
    return HostFingerprint(machine=machine[0] if machine else None, runtime=table.runtime,
                           runtime_version=table.runtime_version or None, threads=table.threads)


def host_differences(table: Any) -> tuple[list[str], list[str]] | None:
    """(fields that differ, fields the table does not record) between this machine and the table's host.

    None when the table has no host to compare (estimated, or timed on a remote device).
    """
    theirs = table_fingerprint(table)
    if theirs is None:
        return None
    ours = host_fingerprint(theirs.runtime or table.runtime, threads=table.threads)
    differ = [f for f in HOST_FIELDS if getattr(theirs, f) is not None and getattr(theirs, f) != getattr(ours, f)]
    unknown = [f for f in HOST_FIELDS if getattr(theirs, f) is None]
    return differ, unknown


def host_status(table: Any) -> str:
    """``same``, ``differs``, ``unknown`` (some fields not recorded, none differing) or ``n/a`` (no host)."""
    diff = host_differences(table)
    if diff is None:
        return "n/a"
    differ, unknown = diff
    return "differs" if differ else "unknown" if unknown else "same"


def host_notice(table: Any) -> str | None:
    """One line saying this machine is not (or may not be) ``table``'s host and what to run; None if it is."""
    diff = host_differences(table)
    if diff is None or diff == ([], []):
        return None
    differ, unknown = diff
    theirs = table_fingerprint(table) or HostFingerprint()
    ours = host_fingerprint(theirs.runtime or table.runtime, threads=table.threads)
    labels = {**LABELS, "runtime_version": theirs.runtime or table.runtime}
    parts = [f"{labels[f]} {_show(getattr(theirs, f))} there, {_show(getattr(ours, f))} here" for f in differ]
    if unknown:
        parts.append(f"its {_and([labels[f] for f in unknown])} {'was' if len(unknown) == 1 else 'were'} not recorded")
    verdict = "was measured on another machine" if differ else "may have been measured on another machine"
    tables = table.tables_option()
    return (f"latency table '{table.device}' {verdict} ({'; '.join(parts)}), so its latencies may not hold here; "
            f"check: nas latency check --device {table.device}{tables}; adapt: nas latency calibrate "
            f"--device {table.device} --as NAME{tables}")


def _show(value: Any) -> str:
    return "unknown" if value is None else str(value)


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"
