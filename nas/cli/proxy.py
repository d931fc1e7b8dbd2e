"""`nas proxy`: score one architecture with an accuracy proxy (short training or training-free)."""

from __future__ import annotations

import click

from nas.cli.common import emit_json, stderr, stdout


@click.command("proxy")
@click.argument("arch")
@click.option("--data", "data_spec", default="digits", show_default=True,
              help="Dataset: digits (embedded demo), cifar10:DIR or folder:DIR.")
@click.option("--proxy", "proxy_name", default=None,
              help="Proxy name: train, zico, naswot, synflow, params (default: the benchmark's best).")
@click.option("--epochs", type=float, default=None, help="Training budget in epochs (train proxy).")
@click.option("--steps", type=int, default=None, help="Training budget in steps (train proxy).")
@click.option("--resolution", type=int, default=32, show_default=True,
              help="Proxy input side (rounded up to a multiple of the network's stride).")
@click.option("--max-seconds", type=float, default=None, help="Wall-clock cap on training (train proxy).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split, init and data order.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def proxy(arch: str, data_spec: str, proxy_name: str | None, epochs: float | None, steps: int | None,
          resolution: int, max_seconds: float | None, seed: int, as_json: bool) -> None:
    """Score ARCH (a preset name or a config JSON) with an accuracy proxy; higher is better."""
    from nas.cli.common import load_arch
    from nas.errors import UsageError
    from nas.proxy import DEFAULT_PROXY, get_proxy, load_dataset

    name = proxy_name or DEFAULT_PROXY
    options: dict = {"resolution": resolution}
    train_options = {"epochs": epochs, "steps": steps, "max_seconds": max_seconds}
    if name == "train":
        options.update({k: v for k, v in train_options.items() if v is not None})
    elif any(v is not None for v in train_options.values()):
        raise UsageError(f"--epochs/--steps/--max-seconds apply to the train proxy, not '{name}'")
    cfg = load_arch(arch)
    scorer = get_proxy(name, **options)
    data = load_dataset(data_spec, seed=seed)
    if not as_json:
        stderr.print(f"{name} proxy on {data_spec} ({len(data.train_y)} train / {len(data.val_y)} val images)")
    result = scorer.evaluate(cfg, data, seed=seed)
    if as_json:
        emit_json({**result.to_dict(), "data": data_spec, "arch": arch})
    else:
        score = "failed" if result.score is None else f"{result.score:.4f}"
        stdout.print(f"{cfg.name}  proxy={name}  score={score}  seconds={result.seconds:.1f}"
                     + ("" if result.final_loss is None else f"  final_loss={result.final_loss:.4f}")
                     + (f"  ({result.reason})" if result.reason else ""))
    if not result.ok:
        raise click.exceptions.Exit(1)
