"""Measure a latency table on this machine: every block key a space can produce, timed alone.

``profile_space`` builds each distinct block (``nas.models.builder.build_block``) alone, compiles it with
a backend (ONNX -> onnxruntime by default), warms it up, times it adaptively and keeps the median. It saves
the table atomically every few keys and skips keys already in the file, so an interrupted profile loses
nothing and a rerun resumes.

From block sums to whole networks (the "calibration", recorded in ``provenance.calibration``):

- ``call_overhead_ms``: the median of an almost empty model (one tiny op) is the cost of one runtime call.
  It is subtracted from every block and added once per network (``network_overhead_ms``).
- Timed alone, a block differs from the same block inside a network: its weights stay hot in cache,
  and it pays layout conversions (onnxruntime's blocked NCHWc convolutions) at its own boundaries that a
  chain of conv blocks shares. A few calibration networks (the presets of the space plus seeded random
  members drawn with a seed of their own, never the validation samples) are measured end to end and
  one scale per block kind plus a constant per network are fitted (:func:`fit_kind_scales`).

Every entry keeps what was measured (``raw_ms``, quartiles, runs, params) beside the ``ms`` predictions sum.
"""

from __future__ import annotations

import datetime as _dt
import platform
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from nas.convert import INPUT_NAME, ONNX_OPSET
from nas.errors import NasError
from nas.files import write_json
from nas.latency.backends import LatencyBackend, TimingPolicy, get_backend
from nas.latency.host import host_fingerprint
from nas.latency.measure import clock_for, network_policy, table_clock, time_network, timing_backend
from nas.latency.store import user_table_path
from nas.latency.table import LatencyTable, TableError, read_table, save_table, user_tables_dir
from nas.models.plan import BlockSpec, plan
from nas.space_members import block_specs, calibration_members

CALIBRATION_SEED = 20_240_601  # its own seed: calibration networks are never the validation samples
CALIBRATION_RANDOM = 12

ProgressFn = Callable[[int, int, str], None]  # (done, total, current key)


class ProfileError(NasError):
    """A profile cannot start or continue (existing table made with other settings...)."""


def _empty_model() -> Any:
    from torch import nn

    class Empty(nn.Module):
        """One tiny op: times the cost of a runtime call, not of any work."""

        def forward(self, x):
            return x[:, :1, :1] * 2.0  # (B, 1, 1, W)

    return Empty().eval()


def call_overhead_ms(backend: LatencyBackend, *, threads: int, policy: TimingPolicy) -> float:
    """Median time of one call of an almost empty model."""
    import torch

    return backend.measure(_empty_model(), torch.randn(1, 3, 32, 32), threads=threads, policy=policy).median_ms


def measure_block(spec: BlockSpec, backend: LatencyBackend, *, threads: int, policy: TimingPolicy,
                  batch: int = 1) -> dict[str, Any]:
    """Time one block alone; returns the raw entry (raw_ms, quartiles, runs, params)."""
    import torch

    from nas.models.builder import build_block, example_input
    from nas.models.stats import count_params

    torch.manual_seed(0)
    module = build_block(spec).eval()
    timing = backend.measure(module, example_input(spec, batch), threads=threads, policy=policy)
    return {"raw_ms": round(timing.median_ms, 5), "p25_ms": round(timing.p25_ms, 5),
            "p75_ms": round(timing.p75_ms, 5), "runs": timing.runs,
            "params": count_params(module)}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _new_table(device: str, backend: LatencyBackend, space: Any, *, threads: int, policy: TimingPolicy,
               batch: int) -> LatencyTable:
    from nas import __version__

    return LatencyTable(
        device=device, runtime=backend.name, method="measured", resolution=space.resolution, batch=batch,
        threads=threads, runtime_version=backend.runtime_version(), compute_unit=backend.compute_unit,
        provenance={
            "date": _now(), "tool_version": __version__, "host": socket.gethostname(),
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "fingerprint": host_fingerprint(backend.name, threads=threads).to_dict(),
            "python": platform.python_version(),
            "space": space.name, **({"space_path": str(space.path)} if space.path else {}),
            "warmup": f"{policy.warmup_runs} runs and >= {policy.warmup_s} s",
            "repeats": f"adaptive: >= {policy.min_runs}, <= {policy.max_runs}, {policy.budget_s} s per key",
            "statistic": "median", "clock": policy.clock, "timing_policy": policy.to_dict(),
            "export": f"nas.convert: torch.onnx.export opset {ONNX_OPSET} (TorchScript exporter), graph "
                      "optimisations all",
            "complete": False,
        },
    )


def prepare_profile(device: str, *, runtime: str, tables_dir: str | Path | None = None, force: bool = False) -> Path:
    """Where ``nas profile --device DEVICE`` writes, once this machine can time ``runtime`` and the writer's rules
    (:func:`nas.latency.store.user_table_path`) allow it: an unfinished table there is resumed; a finished one is
    replaced only with ``force``, which removes it so the profile starts afresh.

    Raises:
        UsageError: the runtime cannot be timed here, or the table may not be written there.
    """
    timing_backend(runtime, instead="use --export DIR")
    path = user_table_path(device, tables_dir=tables_dir, force=force, option="--device", resume=True)
    if force and path.exists():
        path.unlink()  # --force: a new profile, not a resumed one
    return path


def missing_keys_path(table: LatencyTable, *, tables_dir: str | Path | None = None) -> Path:
    """Where ``nas profile --only-missing`` writes ``table`` with the keys it adds: its own file in ``tables_dir``
    (default: the user folder), or there a copy of a table found elsewhere that takes precedence over it."""
    return user_table_path(table.device, tables_dir=tables_dir, updating=table, option="--device")


def import_path(device: str, *, runtime: str, tables_dir: str | Path | None = None, force: bool = False) -> Path:
    """Where ``nas profile import --device DEVICE`` writes: a measured ``runtime`` table already there is extended
    by the CSV (the blocks ``--only-missing --export`` wrote); any other table is replaced only with ``force``."""
    target, extends = Path(tables_dir or user_tables_dir()) / f"{device}.json", None
    if target.is_file():
        try:
            existing = read_table(target)
            extends = existing if existing.method == "measured" and existing.runtime == runtime else None
        except TableError:
            pass
    return user_table_path(device, tables_dir=tables_dir, force=force, updating=extends, option="--device")


def profile_space(
    space: Any,
    *,
    device: str,
    path: str | Path,
    runtime: str = "onnxruntime",
    threads: int = 1,
    batch: int = 1,
    policy: TimingPolicy | None = None,
    calibration_networks: int = CALIBRATION_RANDOM,
    save_every: int = 10,
    progress: ProgressFn | None = None,
) -> LatencyTable:
    """Measure every block key of ``space`` into the table at ``path`` (resuming if it exists).

    Args:
        space: a SearchSpace.
        device: device name written in the table (the file should be named ``<device>.json``).
        path: table file; an existing one made with the same runtime/threads/resolution is resumed.
        runtime: backend name (``nas.latency.backends.BACKENDS``).
        threads: intra-op threads of the runtime.
        batch: batch size of the timed inputs.
        policy: timing policy (default: the clock :func:`nas.latency.measure.clock_for` ``threads``).
        calibration_networks: random members measured end to end (beside the space's presets) to fit the
            network-level residual once every key is measured.
        save_every: write the partial table every this many keys.
        progress: called after each key with (done, total, key).

    Returns the table (complete, or partial if interrupted: KeyboardInterrupt is re-raised after saving).
    """
    backend = get_backend(runtime)
    policy = policy or TimingPolicy(clock=clock_for(threads))
    path = Path(path)
    specs = block_specs(space)
    if path.exists():
        table = read_table(path)
        for name, want in (("device", device), ("runtime", backend.name), ("threads", threads),
                           ("resolution", space.resolution), ("batch", batch)):
            if getattr(table, name) != want:
                raise ProfileError(f"{path} exists with {name}={getattr(table, name)!r}, not {want!r}; "
                                   "choose another --device name or remove the file")
    else:
        table = _new_table(device, backend, space, threads=threads, policy=policy, batch=batch)
    overhead = table.provenance.get("call_overhead_ms")
    if overhead is None:
        overhead = round(call_overhead_ms(backend, threads=threads, policy=policy), 5)
        table.provenance["call_overhead_ms"] = overhead
    todo = [k for k in specs if k not in table.entries]
    table.provenance.update(keys_total=len(specs), complete=False)
    started = time.perf_counter()
    spent = float(table.provenance.get("profile_seconds", 0.0))
    done = len(specs) - len(todo)
    try:
        for i, key in enumerate(todo):
            entry = measure_block(specs[key], backend, threads=threads, policy=policy, batch=batch)
            entry["ms"] = round(max(entry["raw_ms"] - overhead, 0.0), 5)
            table.entries[key] = entry
            done += 1
            if progress:
                progress(done, len(specs), key)
            if (i + 1) % save_every == 0:
                table.provenance["profile_seconds"] = round(spent + time.perf_counter() - started, 1)
                save_table(table, path)
    finally:
        table.provenance["profile_seconds"] = round(spent + time.perf_counter() - started, 1)
        save_table(table, path)
    calibrate_table(table, space, backend=backend, threads=threads, policy=policy, count=calibration_networks)
    table.provenance["complete"] = True
    save_table(table, path)
    return table


def profile_missing(table: LatencyTable, space: Any, *, resolution: int | None = None, path: str | Path,
                    policy: TimingPolicy | None = None, save_every: int = 10,
                    progress: ProgressFn | None = None) -> tuple[LatencyTable, int]:
    """Measure here only the block keys of ``space`` at ``resolution`` that ``table`` lacks; save it at ``path``.

    The new entries are timed as ``nas profile`` times blocks (the table's runtime, threads and clock), minus the
    call overhead, times the table's per-kind factor for blocks inside a network (``calibration.scales`` of a
    measured table, ``block_scales`` of a calibrated one). ``path`` may be the table's own file or, for a table
    found elsewhere (the shipped ones), a copy in the user's folder that takes precedence. Interrupted, the
    partial table is saved and a rerun measures the rest. Returns (the table, keys measured).

    Raises:
        ProfileError: the table is estimated, cannot be timed here, or was timed on another machine.
    """
    from nas.latency.host import host_notice, host_status

    where = f"table '{table.device}'"
    if table.method == "estimated":
        raise ProfileError(f"{where} is estimated: its cost model prices missing keys itself (nas tables fit "
                           f"--device {table.device} --space SPACE --resolution R does it ahead of time)")
    backend = timing_backend(table, error=ProfileError, instead="add --export DIR to write the missing blocks, time "
                             "them on the device, then nas profile import CSV")
    if host_status(table) == "differs":
        raise ProfileError(f"{host_notice(table)}: measured here, its missing keys would mix two machines")
    threads = table.threads or 1
    policy = policy or TimingPolicy(**{**table.provenance.get("timing_policy", {}), "clock": table_clock(table)})
    at = resolution or space.resolution
    specs = block_specs(space, resolution=at)
    todo = [key for key in specs if key not in table.entries]
    prov = table.provenance
    if "call_overhead_ms" not in prov or "fingerprint" not in prov:
        prov["call_overhead_ms"] = round(call_overhead_ms(backend, threads=threads, policy=policy), 5)
    overhead = float(prov["call_overhead_ms"])
    scales = (prov.get("calibration", {}).get("scales", {}) if table.method == "measured"
              else prov.get("block_scales", {}))
    origin = f"nas profile --space {space.name} --resolution {at} --only-missing"
    record = {"space": space.name, "resolution": at, "keys": len(todo), "measured": 0, "date": _now(),
              "fingerprint": host_fingerprint(table.runtime, threads=threads).to_dict()}
    prov.setdefault("extensions", []).append(record)
    path = Path(path)
    try:
        for i, key in enumerate(todo, start=1):
            entry = measure_block(specs[key], backend, threads=threads, policy=policy, batch=table.batch)
            scale = float(scales.get(specs[key].kind, 1.0))
            entry.update(ms=round(scale * max(entry["raw_ms"] - overhead, 0.0), 5), origin=origin)
            table.entries[key] = entry
            record["measured"] = i
            if progress:
                progress(i, len(todo), key)
            if i % save_every == 0:
                save_table(table, path)
    finally:
        save_table(table, path)
    return table, len(todo)


def calibrate_table(table: LatencyTable, space: Any, *, backend: LatencyBackend, threads: int,
                    policy: TimingPolicy, count: int = CALIBRATION_RANDOM,
                    progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Measure the calibration networks end to end and fit the residual (see the module docstring).

    The model: ``measured = overhead + c0 + sum_kind scale[kind] * sum(raw_ms - overhead of its blocks)``,
    fitted on relative errors with a ridge pull of every scale toward 1 (the strength chosen by
    leave-one-out over the calibration networks only). It then writes ``ms = scale[kind] * (raw_ms -
    overhead)`` into every entry and ``overhead + c0`` into ``network_overhead_ms``, so a prediction
    stays a plain sum.
    """
    overhead = float(table.provenance["call_overhead_ms"])
    measured: dict[str, float] = table.provenance.get("calibration", {}).get("measured_ms", {})
    cal: dict[str, Any] = {"measured_ms": measured}
    table.provenance["calibration"] = cal
    configs = calibration_members(space, count=count, seed=CALIBRATION_SEED)
    for cfg in configs:
        if cfg.name not in measured:
            ms = time_network(cfg, backend, threads=threads, policy=network_policy(policy)).median_ms
            measured[cfg.name] = round(ms, 4)
            if progress:
                progress(f"calibration network {cfg.name}: {measured[cfg.name]:.2f} ms")
    kinds = sorted({key.split("|", 1)[0] for key in table.entries})
    x, y = [], []
    for cfg in configs:
        row = dict.fromkeys(kinds, 0.0)
        for spec in plan(cfg):
            row[spec.kind] += max(table.entries[spec.key]["raw_ms"] - overhead, 0.0)
        x.append([row[k] for k in kinds])
        y.append(measured[cfg.name] - overhead)
    fit = fit_kind_scales(x, y, kinds)
    for key, entry in table.entries.items():
        scale = fit["scales"].get(key.split("|", 1)[0], 1.0)
        entry["ms"] = round(scale * max(entry["raw_ms"] - overhead, 0.0), 5)
    table.network_overhead_ms = round(overhead + fit["c0_ms"], 5)
    cal.update(
        networks=[c.name for c in configs], seed=CALIBRATION_SEED, count=count,
        model="measured = overhead + c0 + sum_kind scale[kind] * blocks_ms[kind]; relative least squares, "
              "ridge toward scale 1, strength by leave-one-out on these networks",
        **fit,
    )
    return cal


RIDGE_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def fit_kind_scales(x: list[list[float]], y: list[float], kinds: list[str]) -> dict[str, Any]:
    """Per-kind scales and a constant (ms) fitted to networks' measured ms ``y`` from per-kind sums ``x``.

    Returns scales, c0_ms, ridge, mape_before (plain sum), mape_loo (leave-one-out), mape_after (in-sample).
    """
    import numpy as np

    if not y:
        return {"scales": dict.fromkeys(kinds, 1.0), "c0_ms": 0.0, "ridge": None, "mape_before": None,
                "mape_loo": None, "mape_after": None}
    xa, ya = np.asarray(x, float), np.asarray(y, float)

    def solve(rows: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
        w = 1.0 / ya[rows]
        a = np.hstack([xa[rows] * w[:, None], w[:, None]])
        reg = np.sqrt(lam) * np.hstack([np.eye(len(kinds)), np.zeros((len(kinds), 1))])
        sol, *_ = np.linalg.lstsq(np.vstack([a, reg]), np.concatenate([np.ones(rows.sum()),
                                                                          np.sqrt(lam) * np.ones(len(kinds))]),
                                  rcond=None)
        return np.clip(sol[:-1], 0.0, None), max(float(sol[-1]), 0.0)

    def ape(pred: np.ndarray, true: np.ndarray) -> float:
        return float(np.mean(np.abs(pred - true) / true) * 100)

    loo: dict[float, float] = {}
    for lam in RIDGE_GRID:
        preds = []
        for i in range(len(ya)):
            rows = np.ones(len(ya), bool)
            rows[i] = False
            scales, c0 = solve(rows, lam) if rows.any() else (np.ones(len(kinds)), 0.0)
            preds.append(xa[i] @ scales + c0)
        loo[lam] = ape(np.array(preds), ya)
    lam = min(loo, key=loo.__getitem__)
    scales, c0 = solve(np.ones(len(ya), bool), lam)
    return {
        "scales": {k: round(float(s), 4) for k, s in zip(kinds, scales)}, "c0_ms": round(c0, 5), "ridge": lam,
        "mape_before": round(ape(xa.sum(axis=1), ya), 2), "mape_loo": round(loo[lam], 2),
        "mape_after": round(ape(xa @ scales + c0, ya), 2),
    }


# ----------------------------------------------------------------------------- device owners
def export_blocks(space: Any, *, runtime: str, out_dir: str | Path, device: str, limit: int | None = None,
                  resolution: int | None = None, skip: Iterable[str] = (),
                  progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Write every block of ``space`` (at ``resolution``, but the keys in ``skip``) as a model file of ``runtime``
    plus ``manifest.json`` (key -> file).

    Files already there are kept (an interrupted export resumes). The user times each model on their
    device and writes a CSV ``key,ms``, which :func:`import_csv` turns into a ``measured`` table (or adds to it).
    """
    import torch

    from nas.models.builder import build_block, example_input

    backend = get_backend(runtime)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    skipped = set(skip)
    specs = [(k, spec) for k, spec in block_specs(space, resolution=resolution).items() if k not in skipped][:limit]
    blocks = []
    for i, (key, spec) in enumerate(specs):
        path = out_dir / f"{i:04d}_{spec.kind}{backend.file_suffix}"
        if not path.exists():
            torch.manual_seed(0)
            backend.export(build_block(spec).eval(), example_input(spec), path)
            if progress:
                progress(f"{i + 1}/{len(specs)} {path.name}")
        blocks.append({"key": key, "kind": spec.kind, "file": path.name, "input_name": INPUT_NAME,
                       "input_shape": [1, *spec.in_shape]})
    manifest = {
        "schema": 1, "device": device, "runtime": backend.name, "runtime_version": backend.runtime_version(),
        "compute_unit": backend.compute_unit, "space": space.name, "resolution": resolution or space.resolution,
        "batch": 1,
        "date": _now(), "csv_format": "header 'key,ms'; one row per block key; ms = median latency of one call",
        "blocks": blocks,
    }
    write_json(out_dir / "manifest.json", manifest, indent=1)
    return manifest


def import_csv(csv_path: str | Path, *, device: str, runtime: str, space: Any, path: str | Path,
               manifest: str | Path | None = None, compute_unit: str = "all") -> LatencyTable:
    """Turn a CSV of ``key,ms`` measured by the user on their device into a ``measured`` table at ``path``.

    If ``path`` already holds a measured table of ``runtime`` (the blocks exported by ``--only-missing``), the
    CSV's keys are added to it instead.
    """
    import csv
    import json
    import math

    from nas import __version__

    csv_path = Path(csv_path)
    entries: dict[str, dict[str, Any]] = {}
    with csv_path.open(newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh), start=1):
            if not row or row[0].startswith("#") or (lineno == 1 and row[0].strip() == "key"):
                continue
            if len(row) < 2:
                raise ProfileError(f"{csv_path}:{lineno}: expected 'key,ms', got {','.join(row)!r}")
            try:
                ms = float(row[1])
            except ValueError:
                raise ProfileError(f"{csv_path}:{lineno}: ms {row[1]!r} is not a number") from None
            if not math.isfinite(ms) or ms < 0:
                raise ProfileError(f"{csv_path}:{lineno}: ms {row[1]!r} must be a finite number >= 0")
            entries[row[0].strip()] = {"ms": ms}
    if not entries:
        raise ProfileError(f"{csv_path}: no 'key,ms' rows")
    info = json.loads(Path(manifest).read_text()) if manifest else {}
    if Path(path).exists():
        existing = read_table(path)
        if existing.method == "measured" and existing.runtime == runtime:
            added = {k: {**e, "origin": f"nas profile import {csv_path.name}"} for k, e in entries.items()
                     if k not in existing.entries}
            existing.entries.update(added)
            existing.provenance.setdefault("extensions", []).append(
                {"csv": str(csv_path), "space": info.get("space", space.name),
                 "resolution": info.get("resolution", space.resolution), "keys": len(added), "date": _now()})
            save_table(existing, path)
            return existing
    keys = block_specs(space)
    backend_version = info.get("runtime_version", "")
    table = LatencyTable(
        device=device, runtime=runtime, method="measured", resolution=info.get("resolution", space.resolution),
        batch=info.get("batch", 1), threads=None, runtime_version=backend_version, compute_unit=compute_unit,
        entries=entries,
        provenance={"date": _now(), "tool_version": __version__, "source": "user-provided", "csv": str(csv_path),
                    "host": device, "statistic": "as measured by the user", "warmup": "user", "repeats": "user",
                    "space": space.name, "keys_total": len(keys), "keys_missing": len(set(keys) - set(entries)),
                    "keys_unknown": len(set(entries) - set(keys)), "manifest_date": info.get("date")},
    )
    save_table(table, path)
    return table
