from __future__ import annotations

import numpy as np
import pytest

import neuroemu


@pytest.fixture
def small_network() -> neuroemu.Network:
    """A 4-6-5-3 feed-forward network with weights that make every layer active."""
    rng = np.random.default_rng(7)
    weights = [rng.normal(0.6, 0.8, size=(6, 4)), rng.normal(0.4, 0.8, size=(5, 6)), rng.normal(0.4, 0.8, size=(3, 5))]
    return neuroemu.Network.from_weights(weights, threshold=1.0, beta=0.8, dt=1e-3)


@pytest.fixture
def small_inputs() -> np.ndarray:
    rng = np.random.default_rng(3)
    return (rng.random((12, 8, 4)) < 0.5).astype(np.float64)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Small tensors: one intra-op thread is fastest, and immune to oversubscribed CI machines."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
