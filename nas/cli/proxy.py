"""`nas proxy`: score one architecture with an accuracy proxy (short training or training-free)."""

from __future__ import annotations

import click

from nas.cli.choices import ProxyOption
from nas.cli.common import emit_json, stderr, stdout


@click.command("proxy")
@click.argument("arch")
@click.option("--data", "data_spec", default=None,
              help="Dataset: digits (embedded demo), cifar10:DIR or folder:DIR  [default: digits]")
@click.option("--proxy", "proxy_name", cls=ProxyOption, default=None,
              help="Proxy: {names}  [default: {default}, the search's default]")
@click.option("--proxy-opt", "proxy_opt", multiple=True, metavar="KEY=VALUE",
              help="Proxy option, repeatable (e.g. steps=60, batch_size=32); as `nas search --proxy-opt`.")
@click.option("--steps", type=int, default=None, help="Training budget in steps (training proxies).")
@click.option("--epochs", type=float, default=None,
              help="Training budget in passes over the training split (training proxies; sets the steps).")
@click.option("--resolution", type=int, default=None,
              help="Proxy input side, rounded up to a multiple of the network's stride  [default: 32]")
@click.option("--max-seconds", type=float, default=None, help="Wall-clock cap on training (training proxies).")
@click.option("--train-device", default="auto", show_default=True,
              help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the split, init and data order.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def proxy(arch: str, data_spec: str | None, proxy_name: str | None, proxy_opt: tuple[str, ...],
          steps: int | None, epochs: float | None, resolution: int | None, max_seconds: float | None,
          train_device: str, seed: int, as_json: bool) -> None:
    """Score ARCH (a preset name or a config JSON) with an accuracy proxy; higher is better.

    Without options this computes exactly the signal `nas search` uses by default.
    """
    from nas.cli.common import load_arch
    from nas.errors import UsageError
    from nas.proxy import (
        DEFAULT_DATA,
        DEFAULT_PROXY,
        PROXIES,
        get_proxy,
        load_dataset,
        parse_option_pairs,
        resolve_train_device,
    )
    from nas.proxy.train import epochs_to_steps

    name = proxy_name or DEFAULT_PROXY
    data_spec = data_spec or DEFAULT_DATA
    options = parse_option_pairs(proxy_opt)
    shortcuts = {"steps": steps, "max_seconds": max_seconds}
    if name in PROXIES and not PROXIES[name].trains and (epochs is not None or any(
            v is not None for v in shortcuts.values())):
        raise UsageError(f"--epochs/--steps/--max-seconds apply to training proxies, not '{name}'")
    if epochs is not None and not epochs > 0:
        raise UsageError(f"--epochs must be > 0, got {epochs:g}")
    if epochs is not None and steps is not None:
        raise UsageError("give --epochs or --steps, not both")
    options.update({k: v for k, v in {**shortcuts, "resolution": resolution}.items() if v is not None})
    scorer = get_proxy(name, **options)  # refuses unknown names and bad options before any work
    device = resolve_train_device(train_device)
    cfg = load_arch(arch)
    data = load_dataset(data_spec, seed=seed)
    if epochs is not None:
        options["steps"] = epochs_to_steps(epochs, train_images=len(data.train_y),
                                           batch_size=scorer.options["batch_size"])
        scorer = get_proxy(name, **options)
    if not as_json:
        budget = f", {scorer.options['steps']} steps" if scorer.trains else ""
        on = (f"on {data_spec}: {len(data.train_y)} train / {len(data.val_y)} val images, {device}"
              if scorer.runs_network else "from the architecture alone (no data, nothing run)")
        stderr.print(f"{name} proxy ({scorer.metric}{budget}) {on}", soft_wrap=True, markup=False)
    if scorer.trains and not as_json:
        result = scorer.evaluate(cfg, data, seed=seed, device=device, on_rung=_print_rung)
    else:
        result = scorer.evaluate(cfg, data, seed=seed, device=device)
    if as_json:
        emit_json({**result.to_dict(), "options": scorer.options, "data": data_spec, "arch": arch})
    else:
        score = "failed" if result.score is None else f"{result.score:.4f}"
        stdout.print(f"{cfg.name}  proxy={name}  score={score} ({result.kind}: {result.metric})  "
                     f"cpu_seconds={result.cpu_seconds:.1f}"
                     + ("" if result.final_loss is None else f"  final_loss={result.final_loss:.4f}")
                     + (f"  ({result.reason})" if result.reason else ""), soft_wrap=True, markup=False)
    if not result.ok:
        raise click.exceptions.Exit(1)


def _print_rung(result) -> None:
    score = "failed" if result.score is None else f"{result.score:.4f}"
    stderr.print(f"  {result.details['steps']}/{result.details['budget_steps']} steps: {score}  "
                 f"({result.cpu_seconds:.1f} CPU-s)", soft_wrap=True, markup=False)
