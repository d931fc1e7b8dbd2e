"""What a candidate network is, for the search: its identity, a one-line summary, its size."""

from __future__ import annotations

from nas.config import ArchConfig


def summarize(cfg: ArchConfig) -> str:
    """One line: stem, then each stage as mixer x depth @ channels, and the resolution."""
    stem = f"{cfg.stem.kind}{cfg.stem.patch_size if cfg.stem.kind == 'patch' else ''}"
    stages = " ".join(f"{s.mixer.kind}x{s.depth}@{s.channels}" for s in cfg.stages)
    family = cfg.choices.get("family") or cfg.name
    return f"{family}: {stem} | {stages} | {cfg.resolution}px"


def arch_hash(cfg: ArchConfig) -> str:
    """Short hash of the network a config builds (its name and notes aside)."""
    import hashlib

    return hashlib.sha256(cfg.replace(name="", notes="").to_json().encode()).hexdigest()[:16]


def model_stats(cfg: ArchConfig) -> tuple[int, int]:
    """(parameters, MACs) of ``cfg`` at its deploy resolution, batch 1."""
    from nas.models.builder import build_model
    from nas.models.stats import count_macs, count_params

    model = build_model(cfg)
    return count_params(model), count_macs(model, (1, cfg.in_chans, cfg.resolution, cfg.resolution))
