"""Token mixers, one module each (see :mod:`nas.mixers.base` for what a mixer declares).

Every module of this package registers its mixer in :data:`MIXERS` when imported, and importing the
package imports them all (they are light: dataclasses, no torch). A mixer defined elsewhere registers
itself the same way, with ``@register_mixer``, once its module is imported.
"""

from __future__ import annotations

import importlib
import pkgutil

from nas.mixers.base import (
    MIXERS,
    MapMixer,
    MixerConfig,
    TokenMixer,
    block_kind_of,
    make_mixer,
    mixer_of_block,
    register_mixer,
)

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["MIXERS", "MapMixer", "MixerConfig", "TokenMixer", "block_kind_of", "make_mixer", "mixer_of_block",
           "register_mixer"]
