"""Hypothesis fuzzing of the compiled module's surface: random shapes, dtypes, values and options.

Whatever arrives, `_core` answers with a result or a ValueError/TypeError (neuroemu.ConfigError is a
ValueError); it never crashes the interpreter. The ASan/UBSan CI step runs this module too.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from neuroemu import _core

FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1.0, 0.5, -1.0, 1e308, 5e-324]),
)


@st.composite
def core_networks(draw):
    n_inputs = draw(st.integers(-1, 5))
    sizes = draw(st.lists(st.integers(-1, 5), min_size=0, max_size=3))
    n = max(sum(max(s, 0) for s in sizes), 0) + draw(st.integers(-1, 1))
    n = max(n, 0)
    arrays = [draw(hnp.arrays(np.float64, n, elements=FLOATS)) for _ in range(3)]
    flags = [draw(hnp.arrays(np.uint8, n)) for _ in range(2)]
    projections = []
    for _ in range(draw(st.integers(0, 3))):
        source = draw(st.integers(-2, len(sizes)))
        target = draw(st.integers(-1, len(sizes)))
        rows = draw(st.integers(0, 6))
        indptr = np.sort(draw(hnp.arrays(np.int64, rows + 1, elements=st.integers(-1, 8))))
        nnz = draw(st.integers(0, 8))
        indices = draw(hnp.arrays(np.int32, nnz, elements=st.integers(-2, 6)))
        weights = draw(hnp.arrays(np.float64, nnz, elements=FLOATS))
        projections.append((source, target, indptr, indices, weights))
    return n_inputs, sizes, arrays, flags, projections


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(core_networks())
def test_network_constructor_never_crashes(spec):
    n_inputs, sizes, (threshold, beta, bias), (subtract, refractory), projections = spec
    try:
        net = _core.Network(n_inputs, sizes, threshold, beta, bias, subtract, refractory, projections)
    except (ValueError, TypeError, OverflowError):
        return
    assert net.n_neurons == sum(sizes)
    assert net.n_inputs == n_inputs


def _valid_network(n_inputs: int, sizes: list[int], seed: int):
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    projections = []
    previous = n_inputs
    for layer, size in enumerate(sizes):
        dense = rng.normal(0.5, 1.0, size=(size, previous)) * (rng.random((size, previous)) < 0.7)
        indptr = np.concatenate([[0], np.cumsum((dense != 0).sum(axis=0))]).astype(np.int64)
        sources, targets = np.nonzero(dense.T)
        projections.append((layer - 1, layer, indptr, targets.astype(np.int32), dense.T[sources, targets]))
        previous = size
    return _core.Network(
        n_inputs,
        sizes,
        rng.uniform(0.2, 1.5, n),
        rng.uniform(0.0, 1.0, n),
        np.where(rng.random(n) < 0.2, rng.normal(size=n), 0.0),
        (rng.random(n) < 0.5).astype(np.uint8),
        (rng.random(n) < 0.5).astype(np.uint8),
        projections,
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    n_inputs=st.integers(1, 4),
    seed=st.integers(0, 2**16),
    schedule=st.integers(-1, 4),
    group_size=st.integers(-2, 6),
    prioritize=st.booleans(),
    post_output=st.integers(-2, 3),
    max_steps=st.integers(-1, 50),
    record=st.integers(-1, 3),
    threads=st.integers(-1, 3),
    data=st.data(),
)
def test_run_batch_never_crashes(
    sizes, n_inputs, seed, schedule, group_size, prioritize, post_output, max_steps, record, threads, data
):
    net = _valid_network(n_inputs, sizes, seed)
    shape = data.draw(
        st.one_of(
            st.tuples(st.integers(0, 3), st.integers(0, 4), st.just(n_inputs)),
            hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4),
        )
    )
    dtype = data.draw(st.sampled_from([np.float64, np.float32, np.int64, np.uint8, np.bool_]))
    inputs = data.draw(hnp.arrays(dtype, shape))
    try:
        out = _core.run_batch(
            net, schedule, group_size, prioritize, seed, post_output, max_steps, record, inputs, threads, 0
        )
    except (ValueError, TypeError, OverflowError):
        return
    samples, bins = inputs.shape[0], inputs.shape[1]
    assert out["output_counts"].shape == (samples, bins, sizes[-1])
    assert np.all(out["forward_steps"] >= 1) or bins == 0 or samples == 0
    assert np.all(out["population_spikes"] >= 0)
