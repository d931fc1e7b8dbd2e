"""Options that name a registry entry (``--proxy``, ``--sampler``): help and completions from the registry.

The help is a template filled from the registry when it is shown: ``{names}`` (the default first, then
the registry's order), ``{default}``, and what a subclass adds. Parsing a command line reads no registry
(the proxy modules import torch), and the value is checked where it is used (``get_proxy``,
``resolve_plan``), whose one-line error names the known entries.
"""

from __future__ import annotations

from typing import Any

import click
from click.shell_completion import CompletionItem

from nas.registry import Registry


def _and(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join(filter(None, [", ".join(names[:-1]), names[-1]])) if names else "none"


class RegistryOption(click.Option):
    """An option whose value is a name of :meth:`registry`; ``help`` is a template (see the module)."""

    def __init__(self, *param_decls: str, **attrs: Any):
        super().__init__(*param_decls, **attrs)
        self.help_template = self.help or ""

    def registry(self) -> tuple[Registry[Any], str]:
        """The registry and its default name (imported here, when needed)."""
        raise NotImplementedError

    def help_fields(self, registry: Registry[Any], default: str) -> dict[str, str]:
        """The fields of the help template."""
        names = [default, *(name for name in registry if name != default)]
        return {"names": ", ".join(names), "default": default}

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        """The help line, its names and defaults read from the registry now."""
        self.help = self.help_template.format(**self.help_fields(*self.registry()))
        return super().get_help_record(ctx)

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        """The registry's names that start with ``incomplete``."""
        registry, _ = self.registry()
        return [CompletionItem(name) for name in registry if name.startswith(incomplete)]


class ProxyOption(RegistryOption):
    """``--proxy``; its template may also use ``{training}``: the proxies that train (multi-fidelity rungs)."""

    def registry(self) -> tuple[Registry[Any], str]:
        """:data:`nas.proxy.PROXIES` (importing it imports torch) and its default."""
        from nas.proxy import DEFAULT_PROXY, PROXIES

        return PROXIES, DEFAULT_PROXY

    def help_fields(self, registry: Registry[Any], default: str) -> dict[str, str]:
        """The names, the default and the training proxies."""
        return {**super().help_fields(registry, default),
                "training": _and([name for name in registry if registry[name].trains])}


class SamplerOption(RegistryOption):
    """``--sampler``."""

    def registry(self) -> tuple[Registry[Any], str]:
        """:data:`nas.search.samplers.SAMPLERS` and its default."""
        from nas.search.samplers import DEFAULT_SAMPLER, SAMPLERS

        return SAMPLERS, DEFAULT_SAMPLER
