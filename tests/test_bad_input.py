"""Every bad argument of the foundation's entry points raises neuroemu's own error, naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

import neuroemu
import neuroemu.datasets
from neuroemu import ConfigError, InputError, NeuroemuTypeError

W = [np.ones((3, 2)), np.ones((2, 3))]


def build(**overrides):
    kwargs = dict(threshold=1.0, beta=0.9, dt=1.0)
    kwargs.update(overrides)
    weights = kwargs.pop("weights", W)
    return neuroemu.Network.from_weights(weights, **kwargs)


NETWORK_CASES = [
    ({"weights": [np.array([[np.nan, 1.0]]), np.ones((2, 1))]}, ConfigError, "weights\\[0\\]"),
    ({"weights": [np.ones((3, 2)), np.array([[np.inf, 1, 1], [1, 1, 1]])]}, ConfigError, "weights\\[1\\]"),
    ({"weights": [np.ones((3, 2)), np.ones((2, 4))]}, ConfigError, "do not chain"),
    ({"weights": [np.ones(3)]}, ConfigError, "2-D"),
    ({"weights": []}, ConfigError, "at least one layer"),
    ({"weights": "abc"}, NeuroemuTypeError, "list"),
    ({"weights": [np.array([["a", "b"]])]}, NeuroemuTypeError, "weights\\[0\\]"),
    ({"weights": [np.zeros((0, 2))]}, ConfigError, "at least one row"),
    ({"threshold": np.nan}, ConfigError, "threshold"),
    ({"threshold": 0.0}, ConfigError, "threshold"),
    ({"threshold": -1.0}, ConfigError, "threshold"),
    ({"threshold": [1.0]}, ConfigError, "threshold lists 1 values"),
    ({"threshold": [np.ones(2), 1.0]}, ConfigError, "threshold of layer 0"),
    ({"dt": 0.0}, ConfigError, "dt"),
    ({"dt": -1.0}, ConfigError, "dt"),
    ({"dt": np.nan}, ConfigError, "dt"),
    ({"dt": "1"}, NeuroemuTypeError, "dt"),
    ({"beta": 1.5}, ConfigError, "beta"),
    ({"beta": -0.1}, ConfigError, "beta"),
    ({"beta": np.nan}, ConfigError, "beta"),
    ({"beta": None}, ConfigError, "exactly one of tau and beta"),
    ({"tau": 1.0}, ConfigError, "exactly one of tau and beta"),
    ({"beta": None, "tau": 0.0}, ConfigError, "tau"),
    ({"beta": None, "tau": -2.0}, ConfigError, "tau"),
    ({"beta": None, "tau": np.nan}, ConfigError, "tau"),
    ({"bias": np.inf}, ConfigError, "bias"),
    ({"reset": "hard"}, ConfigError, "reset"),
    ({"reset": ["zero"]}, ConfigError, "reset"),
    ({"refractory": "yes"}, NeuroemuTypeError, "refractory"),
]


@pytest.mark.parametrize(("overrides", "error", "match"), NETWORK_CASES)
def test_bad_network(overrides, error, match):
    with pytest.raises(error, match=match):
        build(**overrides)


EMULATOR_CASES = [
    ({"schedule": "lifo"}, ConfigError, "schedule"),
    ({"schedule": 3}, NeuroemuTypeError, "schedule"),
    ({"schedule": "momentum", "group_size": 0}, ConfigError, "group_size"),
    ({"schedule": "momentum", "group_size": -3}, ConfigError, "group_size"),
    ({"schedule": "momentum", "group_size": 2.5}, NeuroemuTypeError, "group_size"),
    ({"schedule": "sync", "group_size": 4}, ConfigError, "group_size"),
    ({"schedule": "sync", "prioritize_input": False}, ConfigError, "prioritize_input"),
    ({"schedule": "sync", "max_post_output_steps": 1}, ConfigError, "max_post_output_steps"),
    ({"schedule": "fifo", "max_post_output_steps": -1}, ConfigError, "max_post_output_steps"),
    ({"seed": -1}, ConfigError, "seed"),
    ({"seed": 1.5}, NeuroemuTypeError, "seed"),
    ({"record": "all"}, ConfigError, "record"),
    ({"prioritize_input": "no"}, NeuroemuTypeError, "prioritize_input"),
    ({"max_steps_per_bin": 0}, ConfigError, "max_steps_per_bin"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), EMULATOR_CASES)
def test_bad_emulator(kwargs, error, match):
    with pytest.raises(error, match=match):
        neuroemu.Emulator(build(), **kwargs)


def test_emulator_needs_a_network():
    with pytest.raises(NeuroemuTypeError, match="network"):
        neuroemu.Emulator(W)


RUN_CASES = [
    (np.ones((4, 3)), ConfigError, "input channels"),
    (np.ones(4), ConfigError, "2-D"),
    (np.ones((2, 4, 2)), ConfigError, "2-D"),
    (np.full((4, 2), -1.0), ConfigError, "negative"),
    (np.full((4, 2), np.nan), ConfigError, "NaN"),
    (np.full((4, 2), np.inf), ConfigError, "NaN or infinite"),
    (np.array([[0, 0], [0, 0], [1, np.nan]], dtype=np.float32), InputError, r"NaN.*bin 2, channel 1"),
    (np.array([[0, 0], [0, -2.0]]), InputError, r"negative.*bin 1, channel 1"),
    (np.array([["a", "b"]]), NeuroemuTypeError, "frames"),
    (np.ones((4, 2), dtype=complex), NeuroemuTypeError, "frames"),
    ([[1, 2], [3]], NeuroemuTypeError, "frames"),
    (None, NeuroemuTypeError, "frames"),
]


@pytest.mark.parametrize(("frames", "error", "match"), RUN_CASES)
def test_bad_frames(frames, error, match):
    with pytest.raises(error, match=match):
        neuroemu.Emulator(build()).run(frames)


BATCH_CASES = [
    ({"inputs": np.ones((4, 2))}, ConfigError, "3-D"),
    ({"inputs": np.ones((2, 4, 5))}, ConfigError, "input channels"),
    ({"inputs": -np.ones((2, 4, 2))}, ConfigError, "negative"),
    ({"threads": 0}, ConfigError, "threads"),
    ({"threads": 1.5}, NeuroemuTypeError, "threads"),
    ({"first_index": -1}, ConfigError, "first_index"),
    ({"labels": [0]}, ConfigError, "labels"),
    ({"labels": [0, 2]}, ConfigError, "labels"),
    ({"labels": [0, -1]}, ConfigError, "labels"),
    ({"labels": [0.0, 1.0]}, NeuroemuTypeError, "labels"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), BATCH_CASES)
def test_bad_batch(kwargs, error, match):
    args = {"inputs": np.ones((2, 4, 2))}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        neuroemu.Emulator(build()).run_batch(**args)


def test_errors_are_builtin_subclasses():
    assert issubclass(neuroemu.ConfigError, ValueError)
    assert issubclass(neuroemu.InputError, ValueError)
    assert issubclass(neuroemu.NeuroemuTypeError, TypeError)


def test_runaway_activity_is_an_error_not_a_hang():
    # subtract reset without refractoriness: a potential of 1e9 would take 1e9 forward steps to drain
    net = neuroemu.Network.from_weights(
        [np.array([[1e9]])], threshold=1.0, beta=1.0, dt=1.0, reset="subtract", refractory=False
    )
    with pytest.raises(ConfigError, match="max_steps_per_bin"):
        neuroemu.Emulator(net, schedule="fifo", max_steps_per_bin=10_000).run(np.ones((1, 1)))
    with pytest.raises(ConfigError, match="forward steps"):
        neuroemu.Emulator(net, schedule="fifo").run(np.ones((1, 1)))


def _tiny():
    return neuroemu.Network.from_weights([np.ones((2, 2))], threshold=1.0, beta=1.0, dt=1.0)


# The other public entry points: hardware, deployment, timed mode, datasets, files, import, sweeps.
OTHER_ENTRY_POINTS = [
    ("Hardware.preset", lambda: neuroemu.Hardware.preset("nochip"), ConfigError, "nochip"),
    ("Hardware.from_toml", lambda: neuroemu.Hardware.from_toml("/nonexistent.toml"), ConfigError, "nonexistent"),
    ("deploy: not a network", lambda: neuroemu.deploy("x", "loihi"), NeuroemuTypeError, "network"),
    ("deploy: bits", lambda: neuroemu.deploy(_tiny(), "loihi", quantize_bits=0), ConfigError, "quantize_bits"),
    ("timed: group size", lambda: neuroemu.Emulator(_tiny(), schedule="momentum", group_size=2, mode="timed",
                                                    hardware="loihi"), ConfigError, "group_size"),
    ("timed: no hardware", lambda: neuroemu.Emulator(_tiny(), mode="timed"), ConfigError, "hardware"),
    ("timed: no latencies", lambda: neuroemu.Emulator(_tiny(), mode="timed", hardware="seneca"), ConfigError,
     "latency"),
    ("Emulator: mode", lambda: neuroemu.Emulator(_tiny(), mode="fast"), ConfigError, "mode"),
    ("run_events: channel", lambda: neuroemu.Emulator(_tiny()).run_events(np.array([[0.0, 5]]), 1.0), ConfigError,
     "channels"),
    ("digits: encoding", lambda: neuroemu.datasets.digits(encoding="foo"), ConfigError, "encoding"),
    ("digits: split", lambda: neuroemu.datasets.digits(split="val"), ConfigError, "split"),
    ("digits: bins", lambda: neuroemu.datasets.digits(bins=0), ConfigError, "bins"),
    ("nmnist: path", lambda: neuroemu.datasets.nmnist("/nonexistent"), neuroemu.DatasetError, "nonexistent"),
    ("Network.load: foreign file", lambda: neuroemu.Network.load(__file__), neuroemu.NetworkFileError, "not a"),
    ("Network.from_torch: not a model", lambda: neuroemu.Network.from_torch(object(), (2,), dt=1.0),
     neuroemu.ModelImportError, "nn.Sequential"),
    ("Grid: no models", lambda: neuroemu.Grid.from_dict({"models": []}), ConfigError, "models"),
    ("pretrained: name", lambda: __import__("neuroemu.training").training.pretrained("nope"), ConfigError, "name"),
]


@pytest.mark.parametrize(("call", "error", "match"), [c[1:] for c in OTHER_ENTRY_POINTS],
                         ids=[c[0] for c in OTHER_ENTRY_POINTS])
def test_bad_input_to_other_entry_points(call, error, match):
    with pytest.raises(error, match=match):
        call()
