"""CUDA: the differentiable simulator and training give on a GPU what they give on the CPU.

The reference is the CPU path (the C++ engine's schedule pass and the fused replay where they apply),
itself checked against the engine and an independent BPTT in test_torch_simulator.py. Skipped without
CUDA: CI has no GPU; run ``pytest tests/test_cuda.py`` on a machine with one.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

from neuroemu.torch import simulate  # noqa: E402
from test_torch_simulator import _conv_model, frames, grads, mlp  # noqa: E402

F64 = torch.float64


def _weighted_output(res):
    weights = torch.randn(res.output_counts.shape, generator=torch.Generator().manual_seed(1), dtype=F64)
    return (res.output_counts * weights.to(res.output_counts.device)).sum()


def _assert_same_run(cpu, gpu):
    for name in ("spike_counts", "output_counts", "forward_steps", "synops", "layer_spikes"):
        np.testing.assert_array_equal(getattr(gpu, name).detach().cpu().numpy(),
                                      getattr(cpu, name).detach().cpu().numpy(), err_msg=name)


def _cpu_and_gpu(build, x, **options):
    model = build()
    cpu = simulate(model, x, **options)
    g_cpu = grads(model, _weighted_output(cpu))
    model_gpu = build().cuda()
    gpu = simulate(model_gpu, x.cuda(), **options)
    g_gpu = grads(model_gpu, _weighted_output(gpu))
    return cpu, gpu, g_cpu, g_gpu


@pytest.mark.parametrize(
    "build_options,options",
    [
        ({}, {"schedule": "momentum", "group_size": 2}),  # single-spike replay (fused C++ loops on the CPU)
        ({}, {"schedule": "momentum", "group_size": None}),
        ({}, {"schedule": "fifo", "group_size": 1, "max_post_output_steps": 1}),
        ({}, {"schedule": "fifo", "group_size": 2, "prioritize_input": False}),
        ({}, {"schedule": "momentum", "group_size": 3, "first_spike": True}),
        ({}, {"schedule": "sync"}),
        ({"bias": True, "reset": "subtract", "refractory": False}, {"schedule": "momentum", "group_size": 3}),
        ({"sparsity": 0.4}, {"schedule": "fifo", "group_size": 4}),
    ],
)
def test_cuda_simulate_matches_cpu(build_options, options):
    x = torch.from_numpy(frames(5, 6, 5, 6, p=0.5, max_count=2)).double()
    cpu, gpu, g_cpu, g_gpu = _cpu_and_gpu(lambda: mlp((6, 8, 7, 4), 0, **build_options), x, **options)
    _assert_same_run(cpu, gpu)
    assert int(cpu.spike_counts.sum()) > 20
    if options.get("first_spike"):
        torch.testing.assert_close(gpu.first_spike_time.detach().cpu(), cpu.first_spike_time.detach())
    for a, b in zip(g_gpu, g_cpu):
        assert a.device.type == "cuda"
        torch.testing.assert_close(a.cpu(), b, rtol=1e-10, atol=1e-12 * float(b.abs().max()) + 1e-300)
    assert any(float(b.abs().max()) > 0 for b in g_cpu)


def test_cuda_conv_matches_cpu():
    x = torch.from_numpy(frames(2, 4, 5, 36)).double().reshape(4, 5, 1, 6, 6)
    cpu, gpu, g_cpu, g_gpu = _cpu_and_gpu(lambda: _conv_model(3), x, schedule="momentum", group_size=3)
    _assert_same_run(cpu, gpu)
    for a, b in zip(g_gpu, g_cpu):
        torch.testing.assert_close(a.cpu(), b, rtol=1e-10, atol=1e-12 * float(b.abs().max()) + 1e-300)


def test_cuda_random_schedule():
    """The GPU's random stream differs from the CPU's draw for draw; its invariants hold, and a seed
    repeats its run."""
    model = mlp((6, 8, 4), 2).cuda()
    x = torch.from_numpy(frames(3, 4, 6, 6)).double().cuda()
    every = simulate(model, x, schedule="random", group_size=None)
    sync = simulate(model, x, schedule="sync")
    assert torch.equal(every.spike_counts, sync.spike_counts)  # F unlimited is layer-synchronous
    gen = torch.Generator(device="cuda")
    one = simulate(model, x, schedule="random", group_size=1, generator=gen.manual_seed(3))
    again = simulate(model, x, schedule="random", group_size=1, generator=torch.Generator(device="cuda").manual_seed(3))
    _assert_same_run(one, again)
    # F = 1, refractory, prioritised input: one queue entry (one spike) per step after step 0
    assert torch.equal(one.forward_steps, one.spike_counts.sum(dim=2).long() + 1)
    _weighted_output(one).backward()
    assert all(torch.isfinite(p.grad).all() and p.grad.device.type == "cuda" for p in model.parameters())


@pytest.mark.parametrize("schedule,group_size", [("momentum", 4), ("sync", None)])
def test_cuda_training_matches_cpu(schedule, group_size):
    """Two epochs of train() in float64: the GPU's losses and weights equal the CPU's."""
    from neuroemu.training import make_model, train

    results = {}
    for device in ("cpu", "cuda"):
        model = make_model(64, 10, (32,), seed=0, dtype=F64)
        results[device] = train(
            model, dataset="digits", schedule=schedule, group_size=group_size, epochs=2, batch_size=32,
            limit=256, device=device, progress=False, evaluate_schedules=[("sync", None)],
        )
    cpu, gpu = results["cpu"], results["cuda"]
    losses = [[h["loss"] for h in r.history] for r in (cpu, gpu)]
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-9)
    assert losses[0][1] < losses[0][0]
    for a, b in zip(gpu.model.parameters(), cpu.model.parameters()):
        assert a.device.type == "cuda"
        torch.testing.assert_close(a.detach().cpu(), b.detach(), rtol=1e-8, atol=1e-10)
    assert gpu.evaluation.keys() == cpu.evaluation.keys()
    for label in cpu.evaluation:
        assert gpu.evaluation[label]["accuracy"] == pytest.approx(cpu.evaluation[label]["accuracy"])
