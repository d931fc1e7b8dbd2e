"""Every registered mixer, latency backend, proxy, space and sampler passes its contract (nas.testing).

A new entry is tested by registering it: these tests are parametrized over the registries themselves.
"""

from __future__ import annotations

import pytest

from nas import testing
from nas.config import ArchConfig
from nas.latency.backends import BACKENDS, get_backend
from nas.mixers import MIXERS
from nas.proxy import PROXIES, load_dataset
from nas.search.samplers import SAMPLERS
from nas.space import list_spaces, load_space
from nas.testing.contracts import check_backend, check_mixer, check_proxy, check_sampler, check_space


@pytest.mark.parametrize("kind", MIXERS.names())
def test_mixer_contract(kind):
    check_mixer(kind)


@pytest.mark.parametrize("name", [*BACKENDS.names(), "fake"])
def test_backend_contract(name, tmp_path):
    backend = testing.FakeBackend() if name == "fake" else get_backend(name)
    assert backend.name == name
    check_backend(backend, export_dir=tmp_path if name in ("fake", "onnxruntime") else None)


def test_fake_backend_times_are_deterministic_and_grow_with_the_work():
    import torch

    fake = testing.FakeBackend()
    small, large = torch.nn.Linear(8, 8), torch.nn.Linear(8, 512)
    x = torch.randn(1, 8)
    assert fake.measure(small, x).median_ms == fake.measure(small, x).median_ms
    assert fake.measure(large, x).median_ms > fake.measure(small, x).median_ms > 0


PROXY_CFG = {
    "name": "contract", "resolution": 32, "num_classes": 10,
    "stem": {"kind": "conv", "channels": [8], "act": "relu", "norm": "batchnorm"},
    "stages": [{"depth": 1, "channels": 16, "mixer": {"kind": "mhsa", "num_heads": 2},
                "downsample": {"kind": "conv", "stride": 2}, "mlp_ratio": 2.0}],
}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits").subset(max_train=128, max_val=64)


@pytest.mark.parametrize("name", list(PROXIES))
def test_proxy_contract(name, digits):
    options = {key: value for key, value in {"steps": 2, "batch_size": 16}.items() if key in PROXIES[name].OPTIONS}
    check_proxy(name, ArchConfig.from_dict(PROXY_CFG), digits, **options)


@pytest.mark.parametrize("name", list(list_spaces()))
def test_shipped_space_contract(name):
    check_space(load_space(name))


def test_tiny_space_contract(tmp_path):
    check_space(testing.tiny_space(tmp_path))


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_sampler_contract(name, tmp_path):
    check_sampler(name, tmp_path)
