"""Traced (linearised) curvature products against independent oracles: torch.func.hessian of the flattened loss and
J^T H_out J from explicit Jacobians, column by column through the replayed maps; the memory budget; the fallback."""

import warnings

import pytest
import torch
from torch import nn
from torch.func import functional_call, hessian, jacrev

import lib.curvature.operators
from lib.curvature.operators import GGNOperator, HessianOperator, ResidualOperator
from lib.curvature.traced_maps import trace_linear_map

F64 = torch.float64


def _flat(model, fn, x):
    named = {n: p.detach() for n, p in model.named_parameters()}
    shapes = [p.shape for p in named.values()]

    def f(theta):
        chunks = theta.split([s.numel() for s in shapes])
        return fn(functional_call(model, {n: c.view(s) for n, c, s in zip(named, chunks, shapes, strict=True)}, (x,)))

    return f, torch.cat([p.reshape(-1) for p in named.values()])


def _relu_pool_net():
    # ReLU masks and max-pooling indices are exactly the primal quantities a trace must freeze correctly
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 3)
    ).double()


def _columns(op, V):
    return torch.stack([op.matvec(v) for v in V.T], dim=1)


def test_traced_hessian_ggn_residual_match_oracles_and_replay():
    model, loss = _relu_pool_net(), nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(11, 1, 6, 6, generator=g, dtype=F64), torch.randint(0, 3, (11,), generator=g)
    f, theta = _flat(model, lambda o: loss(o, y), x)
    H_oracle = hessian(f)(theta)
    out_f, _ = _flat(model, lambda o: o, x)
    J = jacrev(out_f)(theta).reshape(11 * 3, -1)
    H_out = hessian(lambda o: loss(o, y))(model(x).detach()).reshape(33, 33)
    G_oracle = J.T @ H_out @ J
    V = torch.randn(theta.numel(), 5, generator=g, dtype=F64)
    for cls, oracle in ((HessianOperator, H_oracle), (GGNOperator, G_oracle), (ResidualOperator, H_oracle - G_oracle)):
        op = cls(model, loss, (x, y), batch_size=4)  # batches of 4, 4, 3: three traced maps
        first = _columns(op, V)
        assert op.traced_batches == 3 and op.traced_bytes > 0
        torch.testing.assert_close(first, oracle @ V, rtol=0, atol=1e-10)
        torch.testing.assert_close(op.matmat(V), first, rtol=0, atol=1e-13)  # replayed, a few columns at once
        direct = cls(model, loss, (x, y), batch_size=4, linearize=False)
        torch.testing.assert_close(_columns(direct, V), first, rtol=0, atol=1e-12)
        assert direct.traced_bytes == 0


def test_traced_products_with_floating_targets():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 2)).double()
    x, t = torch.randn(9, 4, dtype=F64), torch.randn(9, 2, dtype=F64)
    f, theta = _flat(model, lambda o: nn.functional.mse_loss(o, t), x)
    op = HessianOperator(model, nn.MSELoss(), (x, t))
    V = torch.randn(theta.numel(), 3, dtype=F64)
    torch.testing.assert_close(_columns(op, V), hessian(f)(theta) @ V, rtol=0, atol=1e-12)


def test_memory_budget_limits_the_traced_batches():
    model, loss = _relu_pool_net(), nn.CrossEntropyLoss()
    x, y = torch.randn(12, 1, 6, 6, dtype=F64), torch.randint(0, 3, (12,))
    V = torch.randn(sum(p.numel() for p in model.parameters()), 2, dtype=F64)
    reference = HessianOperator(model, loss, (x, y), batch_size=4).matmat(V)
    first = HessianOperator(model, loss, (x[:4], y[:4]))
    first.matmat(V)
    one = first.traced_bytes  # three batches of 4 samples: three maps of one size
    for budget, count in ((0, 0), (one, 1), (2 * one, 2), (10**12, 3)):
        op = HessianOperator(model, loss, (x, y), batch_size=4, linearize_max_bytes=budget)
        torch.testing.assert_close(op.matmat(V), reference, rtol=0, atol=1e-13)
        assert op.traced_batches == count and op.traced_bytes <= budget
    with pytest.raises(ValueError, match="linearize_max_bytes"):
        HessianOperator(model, loss, (x, y), linearize_max_bytes=-1)


def test_budgets_predict_count_only_owned_storage_and_default_to_the_free_memory(monkeypatch, capsys):
    model, loss = _relu_pool_net(), nn.CrossEntropyLoss()
    x, y = torch.randn(12, 1, 6, 6, dtype=F64), torch.randint(0, 3, (12,))
    V = torch.randn(sum(p.numel() for p in model.parameters()), 2, dtype=F64)
    # the maps of batches that are views of one data tensor do not own it: the same bytes as for separate copies
    views = HessianOperator(model, loss, (x, y), batch_size=4)
    views.matmat(V)
    copies = HessianOperator(model, loss, [(x[i:i + 4].clone(), y[i:i + 4].clone()) for i in (0, 4, 8)])
    copies.matmat(V)
    assert views.traced_bytes == copies.traced_bytes > 0
    # a batch predicted not to fit is never traced
    calls = []
    real = lib.curvature.operators.trace_linear_map
    monkeypatch.setattr(lib.curvature.operators, "trace_linear_map", lambda *a, **k: calls.append(1) or real(*a, **k))
    one = views.traced_bytes // 3
    op = HessianOperator(model, loss, (x, y), batch_size=4, linearize_max_bytes=one + one // 2)
    op.matmat(V)
    assert len(calls) == 1 and op.traced_batches == 1
    assert "traced maps for 1 of 3 batches" in capsys.readouterr().err  # the plan, stated once
    op.matmat(V)
    assert capsys.readouterr().err == "" and len(calls) == 1
    # without a budget: a share of the free memory when the first map is traced
    monkeypatch.setattr(lib.curvature.operators, "free_memory_bytes", lambda device: int(2.5 * one / 0.25))
    op = HessianOperator(model, loss, (x, y), batch_size=4)
    op.matmat(V)
    assert op.traced_batches == 2 and "of a budget of" in op.product_plan


def test_a_map_that_cannot_be_traced_falls_back_with_a_warning(monkeypatch):
    model, loss = _relu_pool_net(), nn.CrossEntropyLoss()
    x, y = torch.randn(5, 1, 6, 6, dtype=F64), torch.randint(0, 3, (5,))
    V = torch.randn(sum(p.numel() for p in model.parameters()), 2, dtype=F64)
    reference = HessianOperator(model, loss, (x, y), linearize=False).matmat(V)

    def refuse(*_args, **_kwargs):
        raise RuntimeError("data-dependent control flow")

    monkeypatch.setattr(lib.curvature.operators, "trace_linear_map", refuse)
    op = HessianOperator(model, loss, (x, y))
    with pytest.warns(UserWarning, match="not traced"):
        result = op.matmat(V)
    torch.testing.assert_close(result, reference, rtol=0, atol=1e-13)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tracing is not attempted again, so no second warning
        torch.testing.assert_close(op.matmat(V), reference, rtol=0, atol=1e-13)
    assert op.traced_bytes == 0


def test_trace_runs_the_primal_work_once_and_counts_its_constants():
    calls = []
    theta = torch.randn(30, 30, dtype=F64)

    def product(v):
        calls.append(1)
        A = torch.linalg.matrix_exp(theta / 10) @ torch.tanh(theta)  # v-independent: folded into one constant
        return A @ v

    traced = trace_linear_map(product, torch.zeros(30, dtype=F64))
    assert len(calls) == 1
    A = torch.linalg.matrix_exp(theta / 10) @ torch.tanh(theta)
    for _ in range(3):
        v = torch.randn(30, dtype=F64)
        torch.testing.assert_close(traced(v), A @ v, rtol=0, atol=1e-12)
    assert len(calls) == 1, "replays must not run the Python function again"
    assert traced.nbytes >= A.numel() * A.element_size()


def test_a_shuffling_loader_is_not_replayed_from_stale_maps():
    # a shuffled DataLoader changes what batch i holds from one pass to the next; with a budget that traces only
    # some batches, replaying batch i's old map would mix two partitions of the data (24-37% off H v before)
    model, loss = _relu_pool_net(), nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(24, 1, 6, 6, generator=g, dtype=F64), torch.randint(0, 3, (24,), generator=g)
    f, theta = _flat(model, lambda o: loss(o, y), x)
    H = hessian(f)(theta)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=6, shuffle=True,
                                         generator=torch.Generator().manual_seed(4))
    probe = HessianOperator(model, loss, (x[:6], y[:6]))
    probe.matvec(torch.ones(theta.numel(), dtype=F64))
    op = HessianOperator(model, loss, loader, linearize_max_bytes=probe.traced_bytes)  # one batch traced
    v = torch.randn(theta.numel(), generator=g, dtype=F64)
    torch.testing.assert_close(op.matvec(v), H @ v, rtol=0, atol=1e-10)
    with pytest.warns(UserWarning, match="differs from the batch"):
        second = op.matvec(v)
    torch.testing.assert_close(second, H @ v, rtol=0, atol=1e-10)
    assert op.traced_batches == 0
