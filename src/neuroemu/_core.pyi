# Hand-written stub of the compiled engine module (bindings/). Private: use the neuroemu package.
from typing import Any

import numpy as np
from numpy.typing import NDArray

class Network:
    def __init__(
        self,
        n_inputs: int,
        population_sizes: list[int],
        threshold: NDArray[np.float64],
        beta: NDArray[np.float64],
        bias: NDArray[np.float64],
        subtract_reset: NDArray[np.uint8],
        refractory: NDArray[np.uint8],
        projections: list[tuple[int, int, NDArray[np.int64], NDArray[np.int32], NDArray[np.float64]]],
    ) -> None: ...
    @property
    def n_inputs(self) -> int: ...
    @property
    def n_neurons(self) -> int: ...
    @property
    def n_populations(self) -> int: ...
    @property
    def n_outputs(self) -> int: ...
    @property
    def n_synapses(self) -> int: ...

def run_batch(
    network: Network,
    schedule: int,
    group_size: int,
    prioritize_input: bool,
    seed: int,
    max_post_output_steps: int,
    max_steps_per_bin: int,
    record: int,
    inputs: NDArray[Any],  # float64, float32, uint8 or bool, C-contiguous
    threads: int,
    first_index: int,
) -> dict[str, Any]: ...

def kernel_set() -> str: ...

class HardwareModel:
    def __init__(
        self,
        network: Network,
        core_first: NDArray[np.int32],
        tiles: NDArray[np.int32],
        latencies_ps: NDArray[np.int64],
        dt_ps: int,
        input_port: NDArray[np.int32],
    ) -> None: ...
    @property
    def n_cores(self) -> int: ...

TIMED_TOTALS: tuple[str, ...]

def run_timed(
    network: Network,
    model: HardwareModel,
    schedule: int,
    seed: int,
    record: int,
    trace: bool,
    continuous_leak: bool,
    prioritize_input: bool,
    max_deliveries_per_bin: int,
    frames: NDArray[Any] | None,  # float64, float32, uint8 or bool, C-contiguous, read in place
    event_times: NDArray[np.int64],
    event_channels: NDArray[np.int32],
    event_ptr: NDArray[np.int64],
    bins: int,
    threads: int,
    first_index: int,
) -> dict[str, Any]: ...

# the training simulator's schedule record and fused replay loops (neuroemu.torch)
def run_batch_record(
    network: Network,
    schedule: int,
    group_size: int,
    prioritize_input: bool,
    seed: int,
    max_post_output_steps: int,
    max_steps_per_bin: int,
    inputs: NDArray[Any],  # float64, float32, uint8 or bool, C-contiguous
    threads: int,
    first_index: int,
) -> dict[str, Any]: ...
def single_spike_forward(
    weights: NDArray[Any],
    source_delivery: NDArray[np.int32],
    base: NDArray[Any],
    theta: NDArray[Any],
    spike_step: NDArray[np.int32],
    surrogate: int,
    parameter: float,
    dense: bool,
    slopes: NDArray[Any],
    v_end: NDArray[Any],
) -> None: ...
def single_spike_backward(
    grad_output: NDArray[Any] | None,
    back: NDArray[Any] | None,
    back_tail: NDArray[Any] | None,
    delivery: NDArray[np.int32] | None,
    alive: NDArray[np.uint8] | None,
    spike_step: NDArray[np.int32],
    grad_v: NDArray[Any],
    slopes: NDArray[Any],
    grad_base: NDArray[Any],
    grad_theta: NDArray[Any],
    source_delivery: NDArray[np.int32] | None,
    grad_weights: NDArray[Any] | None,
) -> None: ...
