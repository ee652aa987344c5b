"""snnTorch, layer-synchronous, on CPU: the time-stepped peer of the engine's ``schedule="sync"``.

The workload's torch layers (Linear / Conv2d / Flatten) with ``snntorch.Leaky(beta, threshold,
reset_mechanism="zero")`` after each stage, run the way snnTorch's tutorials run inference: a batch of
samples, a Python loop over time steps, each stage's layer then ``Leaky`` with an explicit membrane
state, under ``torch.inference_mode()``. For the large sparse network (no dense ``Linear`` fits) each
stage is one ``torch.sparse_csr`` matrix product with the same ``Leaky``. snnTorch ``Leaky`` with
``reset_mechanism="zero"`` gives exactly the engine's spike trains in the sync schedule
(docs/import.md); ``run_all.py`` checks it in float64 before timing float32.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

SNN_BATCH = 128


class _SparseLinear:
    """``y = x @ W.T`` with W a (n_out, n_in) ``torch.sparse_csr`` matrix (a Linear that fits in memory)."""

    def __init__(self, torch: Any, matrix: Any, dtype: Any) -> None:
        coo = matrix.tocsr()
        self.torch = torch
        self.w = torch.sparse_csr_tensor(
            torch.from_numpy(coo.indptr.astype(np.int64)),
            torch.from_numpy(coo.indices.astype(np.int64)),
            torch.from_numpy(coo.data).to(dtype),
            size=coo.shape,
        )

    def __call__(self, x: Any) -> Any:
        return (self.w @ x.T).T


class SnnTorchRunner:
    """Layer-synchronous snnTorch model of a workload (see the module docstring)."""

    def __init__(self, torch: Any, workload: Any, dtype: Any, sparse: bool | None = None) -> None:
        import snntorch as snn

        self.torch = torch
        self.dtype = dtype
        self.input_shape = workload.input_shape
        self.sparse = workload.torch_layers is None and workload.dense_bytes() > 2**30 if sparse is None else sparse
        stages: list[list[Any]] = []
        if workload.torch_layers is not None:
            stage: list[Any] = []
            for layer in workload.torch_layers:
                stage.append(copy.deepcopy(layer).to(dtype))
                if not isinstance(layer, torch.nn.Flatten):
                    stages.append(stage)
                    stage = []
        elif self.sparse:
            stages = [[_SparseLinear(torch, m, dtype)] for m in workload.sparse]
        else:
            for m in workload.sparse:
                lin = torch.nn.Linear(m.shape[1], m.shape[0], bias=False)
                with torch.no_grad():
                    lin.weight.copy_(torch.from_numpy(m.toarray()))
                stages.append([lin.to(dtype)])
        self.stages = stages
        self.lifs = [
            snn.Leaky(beta=workload.beta, threshold=workload.threshold, reset_mechanism="zero").to(dtype)
            for _ in stages
        ]

    def run(self, x: np.ndarray) -> np.ndarray:
        """x: (B, T, n_in) event counts. Returns spikes per sample, bin and layer, (B, T, L) int64."""
        torch = self.torch
        b, t_bins, _ = x.shape
        with torch.inference_mode():
            xt = torch.as_tensor(x, dtype=self.dtype)
            mems = [lif.init_leaky() for lif in self.lifs]
            counts = torch.zeros(b, t_bins, len(self.stages), dtype=self.dtype)
            for t in range(t_bins):
                cur = xt[:, t].reshape(b, *self.input_shape)
                for k, (stage, lif) in enumerate(zip(self.stages, self.lifs)):
                    for layer in stage:
                        cur = layer(cur)
                    spk, mems[k] = lif(cur, mems[k])
                    cur = spk.to(self.dtype)  # snnTorch returns float32 spikes whatever the membrane's dtype
                    counts[:, t, k] = cur.reshape(b, -1).sum(dim=1)
            return counts.to(torch.int64).numpy()

    def run_batched(self, x: np.ndarray, batch: int = SNN_BATCH) -> np.ndarray:
        return np.concatenate([self.run(x[i : i + batch]) for i in range(0, len(x), batch)])
