"""The proxy registry: every module of ``nas.proxy`` may hold proxies, each class marked ``@register_proxy``.

A new proxy is one module in this package (and its test): the registry imports every module of the
package on its first use, so ``nas search --proxy NAME``, ``nas proxy --proxy NAME`` and both commands'
``--help`` find it with no other edit. What the CLI and the search need to know of a proxy (``name``,
``metric``, ``kind``, ``trains``, ``options``) are attributes of its class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from nas.registry import Registry

if TYPE_CHECKING:
    from nas.proxy.base import Proxy

P = TypeVar("P", bound="type[Proxy]")

PROXIES: Registry[type[Proxy]] = Registry("proxy", plugins="nas.proxy")


def register_proxy(cls: P) -> P:
    """Class decorator: register the :class:`~nas.proxy.base.Proxy` subclass ``cls`` under its ``name``.

    Raises:
        DuplicateNameError: another proxy has that name.
    """
    return PROXIES.register()(cls)
