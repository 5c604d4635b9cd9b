"""The full-data HVP sharded over two gloo processes on CPU equals the single-process one, and Lanczos on top of
it gives the same Ritz values on every rank."""

import os
import socket

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from lib.curvature.lanczos import lanczos
from lib.curvature.operators import HessianOperator


def _problem():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 9), nn.Tanh(), nn.Linear(9, 3)).double()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(37, 5, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (37,), generator=g)
    V = torch.randn(sum(p.numel() for p in model.parameters()), 4, generator=g, dtype=torch.float64)
    return model, (x, y), V


def _products(distributed: bool) -> tuple[np.ndarray, np.ndarray, float]:
    model, data, V = _problem()
    # batches of 8: 5 batches (last one short), shared 3 / 2 between the ranks
    op = HessianOperator(model, nn.CrossEntropyLoss(), data, batch_size=8, device="cpu", distributed=distributed)
    return op.matmat(V).numpy(), lanczos(op, 12, seed=2).ritz_values, op.loss


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        products, ritz, loss = _products(distributed=True)
        np.savez(os.path.join(out_dir, f"rank{rank}.npz"), products=products, ritz=ritz, loss=loss)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_gloo_hvp_equals_single_process(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    single_products, single_ritz, single_loss = _products(distributed=False)
    for rank in range(2):
        result = np.load(tmp_path / f"rank{rank}.npz")
        # the sum is split into two partial sums, so only the summation order differs
        np.testing.assert_allclose(result["products"], single_products, rtol=0, atol=1e-13)
        np.testing.assert_allclose(result["ritz"], single_ritz, rtol=0, atol=1e-12)
        assert abs(float(result["loss"]) - single_loss) < 1e-13
    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in range(2)]
    assert np.array_equal(ranks[0]["ritz"], ranks[1]["ritz"])  # every rank runs the same Lanczos
