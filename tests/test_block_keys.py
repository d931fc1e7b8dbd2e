"""Block keys stay byte-identical: the shipped latency tables are indexed by them.

A key is ``kind|input shape|sorted arguments``; the planner builds it from each mixer's declared block
arguments. Every key of every preset (at its published resolution) and of a seeded sample of the default
space must be an entry of the shipped tables, and a few keys are pinned letter for letter.
"""

from __future__ import annotations

import pytest

from nas.latency.table import load_table
from nas.models.plan import plan
from nas.models.presets import PRESETS, get_preset
from nas.space_members import sample_members

PINNED = {
    ("deit-tiny", "mhsa"): "mhsa|197x192|act=gelu,attn_bias=0,attn_ratio=1,dim=192,extra_tokens=1,ffn=mlp,"
                           "grid=14x14,key_dim=0,layer_scale=0,mlp_ratio=4,norm=layernorm,num_heads=3,qkv_bias=1",
    ("litv2-s", "hilo"): "hilo|196x384|act=gelu,alpha=0.9,dim=384,extra_tokens=0,ffn=convffn,grid=14x14,"
                         "layer_scale=0,mlp_ratio=4,norm=layernorm,num_heads=12,qkv_bias=1,window=2",
    ("litv2-s", "identity"): "identity|3136x96|act=gelu,dim=96,extra_tokens=0,ffn=convffn,grid=56x56,"
                             "layer_scale=0,mlp_ratio=4,norm=layernorm",
    ("mobilevit-xxs", "mobilevit"): "mobilevit|48x32x32|act=silu,depth=2,dim=64,fusion=1,kernel_size=3,"
                                    "mlp_ratio=2,norm=layernorm,num_heads=4,patch_size=2",
    ("mobilevit-xxs", "mbconv"): "mbconv|16x128x128|act=silu,expand_ratio=2,kernel_size=3,norm=batchnorm,"
                                 "out_chs=16",
    ("mobilevitv2-0.5", "separable"): "separable|128x32x32|act=silu,depth=2,dim=64,kernel_size=3,mlp_ratio=2,"
                                      "norm=layernorm2d,patch_size=2",
    ("efficientformer-l1", "pool"): "pool|48x56x56|act=gelu,layer_scale=1e-05,mlp_ratio=4,norm=batchnorm,"
                                    "pool_size=3",
}


@pytest.mark.parametrize(("preset", "kind"), list(PINNED), ids=[f"{p}-{k}" for p, k in PINNED])
def test_pinned_keys(preset, kind):
    assert next(s.key for s in plan(get_preset(preset)) if s.kind == kind) == PINNED[(preset, kind)]


@pytest.fixture(scope="module")
def iphone12():
    return load_table("iphone12")


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_key_is_in_the_shipped_table(name, iphone12):
    missing = [s.key for s in plan(get_preset(name)) if s.key not in iphone12.entries]
    assert not missing, missing[:3]


def test_a_seeded_sample_of_the_space_is_in_the_shipped_tables(default_space, iphone12):
    x86 = load_table("x86-2core-ort")
    for _, cfg in sample_members(default_space, samples=150, seed=11):
        keys = [s.key for s in plan(cfg)]
        assert all(k in iphone12.entries for k in keys), [k for k in keys if k not in iphone12.entries][:3]
        assert all(k in x86.entries for k in keys), [k for k in keys if k not in x86.entries][:3]
