"""Training-free proxies, computed at initialisation on real batches of the dataset.

- ``zico``: ZiCo (Li et al., "ZiCo: Zero-shot NAS via inverse Coefficient of Variation on Gradients",
  ICLR 2023). For every conv/linear weight, the per-parameter mean |gradient| over batches divided by its
  standard deviation across batches; score = sum over layers of log(sum over parameters). Shown to beat
  #params and FLOPs on NATS-Bench, TransNAS-Bench and ViT-like spaces.
- ``naswot``: NASWOT (Mellor et al., "Neural Architecture Search without Training", ICML 2021). Binary
  codes of which units each image activates (input > 0 of every activation layer); kernel
  K = sum over layers of (codes c^T + (1 - c)(1 - c)^T) (N_A minus the Hamming distances); score = log|K|.
  For GELU/SiLU/Hardswish the code is the sign of the activation's input, as for ReLU.
- ``synflow``: SynFlow (Tanaka et al., NeurIPS 2020; as a NAS proxy by Abdelfattah et al., ICLR 2021).
  Data-free: parameters made positive, an all-ones input, float64; score = log of sum |theta * dR/dtheta|
  with R the sum of the outputs.
- ``params``: the parameter count in millions, the baseline every proxy must beat.
- ``naswot+params``: log10 of the deployed network's parameter count plus a fitted weight times NASWOT,
  a capacity-aware combination (the default; see benchmarks/proxy_truth.py).
"""

from __future__ import annotations

import copy
import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from nas.config import ArchConfig
from nas.models.builder import build_model
from nas.models.stats import count_params, network_stats
from nas.proxy.base import Proxy, ProxyResult, Stopwatch, proxy_resolution, real_batches, torch_threads, unscorable
from nas.proxy.data import Dataset
from nas.proxy.device import resolve_train_device
from nas.proxy.options import Option
from nas.proxy.registry import register_proxy

ACTIVATIONS = (nn.ReLU, nn.GELU, nn.SiLU, nn.Hardswish, nn.ReLU6, nn.LeakyReLU)


class ZeroCostProxy(Proxy):
    """Base of the training-free proxies: builds the network at init (seeded) and times the scoring, on the
    CPU (see ``scoring_device``; the result's ``details["device"]`` says so).

    Options: ``batch_size`` (images per batch), ``num_batches`` (real training batches used),
    ``resolution`` (requested input side, rounded up to a multiple of the total stride), ``threads``.
    """

    OPTIONS: ClassVar[dict[str, Option]] = {
        **Proxy.OPTIONS,
        "batch_size": Option(int, 64, 0, doc="images per batch"),
        "num_batches": Option(int, 1, 0, doc="real training batches used"),
    }
    batch_size: int
    num_batches: int
    resolution: int
    threads: int | None

    def evaluate(self, cfg: ArchConfig, data: Dataset, *, seed: int = 0,
                 device: torch.device | str | None = None) -> ProxyResult:
        clock = Stopwatch()
        dev = scoring_device(device)
        res = proxy_resolution(cfg, self.resolution)
        details = {"resolution": res, "batch_size": self.batch_size, "num_batches": self.num_batches,
                   "seed": seed, "device": str(dev)}
        with torch_threads(self.threads), clock.running(), torch.random.fork_rng(devices=[]):
            try:
                torch.manual_seed(seed)
                model = build_model(cfg, resolution=res, num_classes=data.num_classes)
                details["params"] = count_params(model)
                batches = real_batches(data, batch_size=self.batch_size, num_batches=self.num_batches,
                                       resolution=res, seed=seed)
                score, parts = self.score_with_parts(cfg, model, batches)
                details.update(parts)
            except Exception as exc:
                reason = unscorable(exc)
                if reason is None:
                    raise
                return self.failed(cfg, reason, clock, **details)
        if not math.isfinite(score):
            return self.failed(cfg, f"non-finite {self.name} score ({score})", clock, **details)
        return self.result(cfg, score, clock, **details)

    def score(self, model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
        """The proxy's score of the freshly initialised ``model`` on ``batches``."""
        raise NotImplementedError

    def score_with_parts(self, cfg: ArchConfig, model: nn.Module,
                         batches: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[float, dict[str, Any]]:
        """The score of ``model`` (``cfg`` built for the proxy) and the parts it is made of, for ``details``."""
        return self.score(model, batches), {}


def scoring_device(device: torch.device | str | None) -> torch.device:
    """Where training-free scores are computed: the CPU, whatever device is asked for (a few passes at
    batch 64 in float64, which not every accelerator has); an unknown or absent device is still refused."""
    if isinstance(device, str):
        resolve_train_device(device)
    return torch.device("cpu")


@register_proxy
class ZiCoProxy(ZeroCostProxy):
    """ZiCo: sum over layers of log(sum_theta mean|g_theta| / std(g_theta)), gradients over 2 batches."""

    name = "zico"
    metric = "ZiCo: log inverse coefficient of variation of the gradients, summed over layers"
    OPTIONS: ClassVar[dict[str, Option]] = {
        **ZeroCostProxy.OPTIONS, "num_batches": Option(int, 2, 2, strict=False, doc="real training batches used")}

    def score(self, model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
        layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        grads: list[list[torch.Tensor]] = [[] for _ in layers]
        model.train()
        for x, y in batches:
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            for i, m in enumerate(layers):
                if m.weight.grad is not None:
                    grads[i].append(m.weight.grad.detach().reshape(-1).double().clone())
        total = 0.0
        for g in grads:
            if len(g) < 2:
                continue
            stack = torch.stack(g)  # (num_batches, P)
            std = stack.std(0, unbiased=False)
            mean_abs = stack.abs().mean(0)
            nz = std != 0
            s = float((mean_abs[nz] / std[nz]).sum())
            if s != 0:
                total += math.log(s)
        return total


@register_proxy
class NaswotProxy(ZeroCostProxy):
    """NASWOT: log-determinant of the binary activation-code kernel summed over activation layers."""

    name = "naswot"
    metric = "NASWOT: log-determinant of the binary activation-code kernel"

    def score(self, model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
        x, _ = batches[0]
        n = x.shape[0]
        kernel = torch.zeros(n, n, dtype=torch.float64)

        def hook(_mod: nn.Module, inputs: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
            codes = (inputs[0].detach().reshape(n, -1) > 0).double()  # (N, units)
            kernel.add_(codes @ codes.t() + (1 - codes) @ (1 - codes).t())

        handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, ACTIVATIONS)]
        model.train()
        try:
            with torch.no_grad():
                model(x)
        finally:
            for h in handles:
                h.remove()
        sign, logdet = torch.linalg.slogdet(kernel)
        return float(logdet) if float(sign) > 0 else float("-inf")


@register_proxy
class SynflowProxy(ZeroCostProxy):
    """SynFlow: log sum |theta * dR/dtheta| with |theta|, an all-ones input, float64 (data-free)."""

    name = "synflow"
    metric = "SynFlow: log of the summed synaptic saliency at initialisation"

    def score(self, model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
        x, _ = batches[0]
        net = copy.deepcopy(model).double().eval()
        with torch.no_grad():
            for p in net.parameters():
                p.abs_()
        net.zero_grad(set_to_none=True)
        out = net(torch.ones((1, *x.shape[1:]), dtype=torch.float64))
        out.sum().backward()
        total = 0.0
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)) and m.weight.grad is not None:
                total += float((m.weight.detach() * m.weight.grad).abs().sum())
        return math.log(total) if total > 0 else float("-inf")


@register_proxy
class ParamsProxy(ZeroCostProxy):
    """The parameter count in millions: the baseline."""

    name = "params"
    metric = "parameters (millions)"
    kind = "count"

    def score(self, model: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
        return count_params(model) / 1e6


@register_proxy
class NaswotParamsProxy(NaswotProxy):
    """NASWOT made capacity-aware: log10(parameters of the deployed network, millions) + weight x NASWOT.

    The weight is the ratio of the two coefficients of a linear fit of the published ImageNet-1k top-1 of the
    16 presets on [log10 params, NASWOT] (CIFAR-10 images, batch 64, 32 px, as the defaults here); fitted
    only on those 16 networks and scored leave-one-out in benchmarks/proxy_truth.py. Parameters are counted
    on ``cfg`` as deployed (its own classes and resolution), not on the proxy's small network.
    """

    name = "naswot+params"
    OPTIONS: ClassVar[dict[str, Option]] = {
        **NaswotProxy.OPTIONS,
        "weight": Option(float, 0.0052, 0, strict=False, doc="NASWOT's weight against log10(parameters)"),
    }
    metric = f"log10(parameters in millions) + {OPTIONS['weight'].default:g} x NASWOT"
    weight: float

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.metric = f"log10(parameters in millions) + {self.weight:g} x NASWOT"

    def score_with_parts(self, cfg: ArchConfig, model: nn.Module,
                         batches: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[float, dict[str, Any]]:
        naswot = self.score(model, batches)
        params, _ = network_stats(cfg)  # remembered: the search's record of the candidate asks for it too
        return math.log10(params / 1e6) + self.weight * naswot, {"naswot": naswot, "deployed_params": params}
