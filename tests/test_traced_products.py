"""Traced (linearised) curvature products against independent oracles: torch.func.hessian of the flattened loss and
J^T H_out J from explicit Jacobians, column by column through the replayed maps, with primal passes kept or
recomputed; what is kept (compact boundaries, memory independent of the data size); the memory budget; the
fallback."""

import warnings

import pytest
import torch
from torch import nn
from torch.func import functional_call, hessian, jacrev
from torch.fx.experimental.proxy_tensor import make_fx

import lib.curvature.operators
from lib.curvature.operators import GGNOperator, HessianOperator, ResidualOperator
from lib.curvature.traced_maps import trace_split_map

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


def _mnist_conv_net():
    # two conv/ReLU/pool stages on 28 x 28 inputs, the shape of the benchmark's conv net at a smaller width
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(128, 16), nn.ReLU(), nn.Linear(16, 10))


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
        op = cls(model, loss, (x, y), batch_size=4)  # batches of 4, 4, 3: two traced maps, three kept primal passes
        first = _columns(op, V)
        assert op.traced_batches == 3 and op.traced_bytes > 0 and len(op._split_maps) == 2
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


def _kept_bytes(model, loss, x, y, V):
    """(bytes of the traced maps' constants, bytes one kept batch of 4 adds) for batches of 4."""
    none = HessianOperator(model, loss, (x, y), batch_size=4, linearize_max_bytes=0)
    none.matmat(V)
    one = HessianOperator(model, loss, (x[:4], y[:4]))
    one.matmat(V)
    return none.traced_bytes, one.traced_bytes - none.traced_bytes


def test_memory_budget_limits_the_kept_batches():
    model, loss = _relu_pool_net(), nn.CrossEntropyLoss()
    x, y = torch.randn(12, 1, 6, 6, dtype=F64), torch.randint(0, 3, (12,))
    V = torch.randn(sum(p.numel() for p in model.parameters()), 2, dtype=F64)
    reference = HessianOperator(model, loss, (x, y), batch_size=4, linearize=False).matmat(V)
    base, one = _kept_bytes(model, loss, x, y, V)
    assert base > 0 and one > 0
    for budget, count in ((0, 0), (base + one, 1), (base + 2 * one, 2), (10**12, 3)):
        op = HessianOperator(model, loss, (x, y), batch_size=4, linearize_max_bytes=budget)
        torch.testing.assert_close(op.matmat(V), reference, rtol=0, atol=1e-13)
        torch.testing.assert_close(op.matmat(V), reference, rtol=0, atol=1e-13)  # kept or recomputed: the same
        assert op.traced_batches == count and (op.traced_bytes <= budget or count == 0)
    with pytest.raises(ValueError, match="linearize_max_bytes"):
        HessianOperator(model, loss, (x, y), linearize_max_bytes=-1)


def test_memory_without_kept_passes_does_not_grow_with_the_data():
    # past the budget every product recomputes each batch's primal pass: what is held is the traced map alone
    model, loss = _relu_pool_net(), nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(40, 1, 6, 6, generator=g, dtype=F64), torch.randint(0, 3, (40,), generator=g)
    V = torch.randn(sum(p.numel() for p in model.parameters()), 3, generator=g, dtype=F64)
    held = []
    for n in (8, 40):
        op = HessianOperator(model, loss, (x[:n], y[:n]), batch_size=4, linearize_max_bytes=0)
        direct = HessianOperator(model, loss, (x[:n], y[:n]), batch_size=4, linearize=False)
        torch.testing.assert_close(op.matmat(V), direct.matmat(V), rtol=0, atol=1e-13)
        held.append(op.traced_bytes)
        assert op.traced_batches == 0 and "kept for 0 of" in op.product_plan
    assert held[0] == held[1] > 0


def test_kept_passes_are_compact_against_the_forward_activations():
    # masks for the ReLUs, narrow pooling indices, no copies of the input: the target is at most 1.5 times
    # the forward activations per sample (it was 4.4 with the whole primal pass folded into constants)
    model = _mnist_conv_net()
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    op = HessianOperator(model, nn.CrossEntropyLoss(), (x, y), batch_size=32)
    op.matvec(torch.randn(op.shape[0]))
    maps = sum(m.nbytes for m in op._split_maps.values())
    per_sample = (op.traced_bytes - maps) / x.shape[0]
    forward = op.activation_numel() / 32 * 4
    assert op.traced_batches == 2 and per_sample <= 1.5 * forward
    kept = [t for packed, _, _ in op._kept.values() for t in packed if isinstance(t, torch.Tensor)]
    assert any(t.dtype == torch.bool for t in kept) and any(t.dtype == torch.int16 for t in kept)
    assert not any(t.dtype == torch.int64 for t in kept)


def test_tangent_graph_skips_gradient_accumulators_and_equals_the_unsplit_trace():
    # autograd accumulates a conv net's input gradients into zeros_like(t) + u; adding an exact zero changes no bit,
    # so the split map, which never materialises those zeros, must equal the whole traced graph replayed as recorded
    model = _mnist_conv_net()
    x, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    op = HessianOperator(model, nn.CrossEntropyLoss(), (x, y), batch_size=32)
    whole = make_fx(lambda xb, yb, w: op._vector_product(xb, yb)(w))(x, y, torch.zeros(op.shape[0]))
    targets = [n.target for n in whole.graph.nodes]
    assert targets.count(torch.ops.aten.zeros_like.default) >= 3  # the accumulators are there to be skipped
    for seed in range(3):
        v = torch.randn(op.shape[0], generator=torch.Generator().manual_seed(seed))
        assert torch.equal(op.matvec(v), whole(x, y, v))
    (split,) = op._split_maps.values()
    assert not any(n.target is torch.ops.aten.zeros_like.default for n in split.tangent.graph.nodes)


def test_relu_masks_applied_after_max_pooling_are_exact_and_pool_sized():
    # overlapping, padded windows (a position can be the maximum of several windows) and plain 2 x 2 ones: the
    # products must be bit for bit those of the trace as recorded (masking multiplies by 0 or 1, the scatter adds in
    # the same order), match torch.func.hessian, and no ReLU mask may be read or kept at the convolutions' resolution
    torch.manual_seed(3)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1),
                          nn.Conv2d(4, 5, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(20, 3)).double()
    loss = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(6, 2, 12, 12, generator=g, dtype=F64), torch.randint(0, 3, (6,), generator=g)
    op = HessianOperator(model, loss, (x, y))
    whole = make_fx(lambda xb, yb, w: op._vector_product(xb, yb)(w))(x, y, torch.zeros(op.shape[0], dtype=F64))
    f, theta = _flat(model, lambda o: loss(o, y), x)
    V = torch.randn(theta.numel(), 3, generator=g, dtype=F64)
    for v in V.T:
        assert torch.equal(op.matvec(v), whole(x, y, v))
    torch.testing.assert_close(_columns(op, V), hessian(f)(theta) @ V, rtol=1e-9, atol=1e-11)
    (split,) = op._split_maps.values()
    unpooled = {(6, 4, 12, 12), (6, 5, 4, 4)}  # the two ReLU outputs, before pooling
    read = [tuple(n.args[0].meta["val"].shape) for n in split.tangent.graph.nodes
            if n.target is torch.ops.aten.threshold_backward.default and "val" in n.args[0].meta]
    assert read and not unpooled & set(read)
    masks = [tuple(t.shape) for packed, _, _ in op._kept.values() for t in packed
             if isinstance(t, torch.Tensor) and t.dtype == torch.bool]
    assert (6, 5, 2, 2) in masks and not unpooled & set(masks)


@pytest.mark.parametrize("kind", ["batchnorm_conv", "mlp"])
def test_traced_products_match_direct_ones(kind):
    torch.manual_seed(6)
    if kind == "mlp":
        model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 7), nn.ReLU(), nn.Linear(7, 3)).double()
        x = torch.randn(10, 5, dtype=F64)
    else:  # BatchNorm in eval mode (running statistics set away from their defaults), ReLU, max-pooling
        model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(12, 3)).double()
        model[1].running_mean.normal_()
        model[1].running_var.uniform_(0.5, 2.0)
        x = torch.randn(10, 2, 6, 6, dtype=F64)
    y = torch.randint(0, 3, (10,))
    V = torch.randn(sum(p.numel() for p in model.parameters()), 4, dtype=F64)
    for cls in (HessianOperator, GGNOperator, ResidualOperator):
        direct = cls(model, nn.CrossEntropyLoss(), (x, y), batch_size=4, linearize=False).matmat(V)
        for budget in (None, 0):  # primal passes kept, and recomputed for every product
            op = cls(model, nn.CrossEntropyLoss(), (x, y), batch_size=4, linearize_max_bytes=budget)
            for _ in range(2):
                product = op.matmat(V)
                assert float((product - direct).norm() / direct.norm()) < 1e-12


def test_budgets_predict_count_only_owned_storage_and_default_to_the_free_memory(monkeypatch, capsys):
    model, loss = _relu_pool_net(), nn.CrossEntropyLoss()
    x, y = torch.randn(12, 1, 6, 6, dtype=F64), torch.randint(0, 3, (12,))
    V = torch.randn(sum(p.numel() for p in model.parameters()), 2, dtype=F64)
    # the passes kept for batches that are views of one data tensor do not own it: the same bytes as for copies
    views = HessianOperator(model, loss, (x, y), batch_size=4)
    views.matmat(V)
    copies = HessianOperator(model, loss, [(x[i:i + 4].clone(), y[i:i + 4].clone()) for i in (0, 4, 8)])
    copies.matmat(V)
    assert views.traced_bytes == copies.traced_bytes > 0
    # one trace for every batch of a shape; a batch predicted not to fit is not kept, and the plan says so once
    calls = []
    real = lib.curvature.operators.trace_split_map
    monkeypatch.setattr(lib.curvature.operators, "trace_split_map", lambda *a, **k: calls.append(1) or real(*a, **k))
    base, one = _kept_bytes(model, loss, x, y, V)
    calls.clear()
    op = HessianOperator(model, loss, (x, y), batch_size=4, linearize_max_bytes=base + one + one // 2)
    op.matmat(V)
    assert len(calls) == 1 and op.traced_batches == 1
    assert "primal passes kept for 1 of 3 batches" in capsys.readouterr().err  # the plan, stated once
    op.matmat(V)
    assert capsys.readouterr().err == "" and len(calls) == 1
    # without a budget: a share of the free memory when the first pass is kept
    monkeypatch.setattr(lib.curvature.operators, "free_memory_bytes", lambda device: int((base + 2.5 * one) / 0.25))
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

    monkeypatch.setattr(lib.curvature.operators, "trace_split_map", refuse)
    op = HessianOperator(model, loss, (x, y))
    with pytest.warns(UserWarning, match="not traced"):
        result = op.matmat(V)
    torch.testing.assert_close(result, reference, rtol=0, atol=1e-13)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tracing is not attempted again, so no second warning
        torch.testing.assert_close(op.matmat(V), reference, rtol=0, atol=1e-13)
    assert op.traced_bytes == 0


def test_trace_runs_once_per_shape_and_keeps_parameter_constants_once():
    calls = []
    theta = torch.randn(30, 30, dtype=F64)

    def product(x, v):
        calls.append(1)
        A = torch.linalg.matrix_exp(theta / 10) @ torch.tanh(theta)  # parameter-only: a constant, computed once
        return (x[:, None] * A) @ v  # depends on the batch: the primal pass

    split = trace_split_map(product, (torch.randn(30, dtype=F64),), torch.zeros(30, dtype=F64), external=[theta])
    assert len(calls) == 1
    A = torch.linalg.matrix_exp(theta / 10) @ torch.tanh(theta)
    for _ in range(3):  # other batches of the same shape: the same map, no new trace
        x, V = torch.randn(30, dtype=F64), torch.randn(30, 4, dtype=F64)
        torch.testing.assert_close(split.apply(split.boundary(x), V), (x[:, None] * A) @ V, rtol=0, atol=1e-12)
    assert len(calls) == 1, "replays must not run the Python function again"
    assert split.nbytes >= A.numel() * A.element_size()


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
    op = HessianOperator(model, loss, loader, linearize_max_bytes=probe.traced_bytes)  # one batch kept
    v = torch.randn(theta.numel(), generator=g, dtype=F64)
    torch.testing.assert_close(op.matvec(v), H @ v, rtol=0, atol=1e-10)
    with pytest.warns(UserWarning, match="differs from the batch"):
        second = op.matvec(v)
    torch.testing.assert_close(second, H @ v, rtol=0, atol=1e-10)
    assert op.traced_batches == 0
