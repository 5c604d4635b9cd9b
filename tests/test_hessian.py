"""Curvature operators and exact Hessians against independent oracles: torch.func.hessian of the flattened loss,
the closed-form softmax-regression Hessian, quadratic losses, and J^T H_out J built from explicit Jacobians."""

import copy

import numpy as np
import pytest
import torch
from torch import nn
from torch.func import functional_call, hessian, jacrev
from torch.utils.data import DataLoader, TensorDataset

from lib.curvature.dense import batch_hessian_spectra, exact_ggn, exact_hessian, paper_batch_spectra
from lib.curvature.operators import GGNOperator, HessianOperator, ResidualOperator

F64 = torch.float64


def _flat_loss(model, loss_fn, x, y, names=None):
    """theta -> loss, with theta the flattened (selected) parameters: the oracle's view of the network."""
    named = {n: p.detach() for n, p in model.named_parameters()}
    names = list(named) if names is None else names
    shapes = [named[n].shape for n in names]

    def f(theta):
        params, i = dict(named), 0
        for n, s in zip(names, shapes, strict=True):
            params[n] = theta[i : i + s.numel()].view(s)
            i += s.numel()
        return loss_fn(functional_call(model, params, (x,)), y)

    return f, torch.cat([named[n].reshape(-1) for n in names])


def _oracle(model, loss_fn, x, y, names=None):
    f, theta = _flat_loss(model, loss_fn, x, y, names)
    return hessian(f)(theta)


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 5), nn.Softplus(), nn.Linear(5, 4)).double()


def _classification(n=23, d=6, c=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=F64), torch.randint(0, c, (n,), generator=g)


def _eye(p):
    return torch.eye(p, dtype=F64)


@pytest.mark.parametrize("backend", ["func", "autograd"])
def test_mlp_hessian_matches_torch_func_with_sample_weighted_batches(backend):
    model, (x, y), loss = _mlp(), _classification(), nn.CrossEntropyLoss()
    op = HessianOperator(model, loss, (x, y), batch_size=5, backend=backend, device="cpu")  # last batch has 3
    P = op.shape[0]
    assert op.shape == (P, P) and op.dtype == F64 and op.device.type == "cpu" and op.num_samples == 23
    torch.testing.assert_close(op.matmat(_eye(P)), _oracle(model, loss, x, y), rtol=0, atol=1e-12)
    assert op.loss == pytest.approx(loss(model(x), y).item(), rel=1e-12)


def test_conv_net_hessian_matches_torch_func():
    torch.manual_seed(2)
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(3 * 3 * 3, 3)
    ).double()
    x = torch.randn(9, 1, 6, 6, dtype=F64)
    y = torch.randint(0, 3, (9,))
    H = exact_hessian(model, nn.CrossEntropyLoss(), x, y, device="cpu", block=17)
    torch.testing.assert_close(H, _oracle(model, nn.CrossEntropyLoss(), x, y), rtol=0, atol=1e-12)


class _HeadFirst(nn.Module):
    """A conv net whose classifier is registered before its feature layers: parameter order is not forward order."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(8)
        self.head = nn.Linear(2 * 2 * 2, 3)
        self.features = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())

    def forward(self, x):
        return self.head(self.features(x))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("order", ["forward", "head-first"])
def test_lower_triangle_assembly_matches_oracles_on_batches(order, reduction):
    """The generic dense path computes only the lower block triangle (each tensor's columns from the operator
    restricted to the tensors from it on) and mirrors it: it must still equal torch.func.hessian of the whole loss
    (and J^T H_out J, and their difference) over weighted batches, whatever order the tensors are registered in."""
    from lib.curvature.dense import dense_matrix

    torch.manual_seed(9)
    model = (nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3))
             if order == "forward" else _HeadFirst()).double().eval()
    x = torch.randn(11, 1, 6, 6, dtype=F64)
    y = torch.randint(0, 3, (11,))
    loss = nn.CrossEntropyLoss(reduction=reduction)
    # batches of 4, 4 and 3: the loss over the data is sum_b w_b loss_b, w_b = n_b / N (batch means) or 1 / N (sums)
    weights = [(len(y[i:i + 4]) if reduction == "mean" else 1) / 11 for i in range(0, 11, 4)]
    expected = sum(w * _oracle(model, loss, x[i:i + 4], y[i:i + 4]) for w, i in zip(weights, range(0, 11, 4),
                                                                                      strict=True))
    kwargs = {"batch_size": 4, "reduction": reduction, "device": "cpu"}
    H = dense_matrix(HessianOperator(model, loss, (x, y), **kwargs), block=5)
    torch.testing.assert_close(H, expected, rtol=0, atol=1e-12)
    assert torch.equal(H, H.T)
    columns = {kind: dense_matrix(cls(model, loss, (x, y), backend="autograd", **kwargs))  # whole columns
               for kind, cls in (("ggn", GGNOperator), ("residual", ResidualOperator))}
    for kind, cls in (("ggn", GGNOperator), ("residual", ResidualOperator)):
        torch.testing.assert_close(dense_matrix(cls(model, loss, (x, y), **kwargs)), columns[kind], rtol=0,
                                   atol=1e-12)
    torch.testing.assert_close(columns["ggn"] + columns["residual"], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", ["func", "autograd"])
def test_regression_net_mse_hessian_matches_torch_func(backend):
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 7), nn.SiLU(), nn.Linear(7, 2)).double()
    x = torch.randn(15, 4, dtype=F64)
    y = torch.randn(15, 2, dtype=F64)
    H = exact_hessian(model, nn.MSELoss(), x, y, backend=backend, device="cpu")
    torch.testing.assert_close(H, _oracle(model, nn.MSELoss(), x, y), rtol=0, atol=1e-12)


def test_softmax_regression_closed_form():
    """H = (1/N) sum_n (diag p_n - p_n p_n^T) kron x~_n x~_n^T, x~ = (x, 1), for W (C x d) then b (C)."""
    torch.manual_seed(4)
    n, d, c = 40, 5, 3
    model = nn.Linear(d, c).double()
    x, y = _classification(n, d, c, seed=5)
    p = torch.softmax(model(x), dim=1).detach()
    xt = torch.cat([x, torch.ones(n, 1, dtype=F64)], dim=1)
    A = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
    full = torch.einsum("nab,ni,nj->aibj", A, xt, xt).reshape(c * (d + 1), c * (d + 1)) / n
    order = [a * (d + 1) + i for a in range(c) for i in range(d)] + [a * (d + 1) + d for a in range(c)]
    expected = full[order][:, order]
    torch.testing.assert_close(exact_hessian(model, nn.CrossEntropyLoss(), x, y), expected, rtol=0, atol=1e-13)
    # a linear model has no residual: H = G
    torch.testing.assert_close(exact_ggn(model, nn.CrossEntropyLoss(), x, y), expected, rtol=0, atol=1e-13)


def test_quadratic_loss_gives_its_matrix():
    """L(w) = mean_n (a_n . w - t_n)^2 / 2 has H = A^T A / N exactly."""
    torch.manual_seed(6)
    model = nn.Linear(7, 1, bias=False).double()
    a = torch.randn(30, 7, dtype=F64)
    t = torch.randn(30, 1, dtype=F64)
    H = exact_hessian(model, lambda o, y: 0.5 * ((o - y) ** 2).mean(), a, t)
    torch.testing.assert_close(H, a.T @ a / 30, rtol=0, atol=1e-13)


def test_backends_agree_on_probe_block_with_eval_batchnorm():
    torch.manual_seed(7)
    model = nn.Sequential(nn.Linear(6, 10), nn.BatchNorm1d(10), nn.GELU(), nn.Linear(10, 4)).double()
    model.train()(torch.randn(64, 6, dtype=F64))  # non-trivial running statistics
    x, y = _classification(31)
    V = torch.randn(sum(p.numel() for p in model.parameters()), 6, dtype=F64)
    ops = [HessianOperator(model, nn.CrossEntropyLoss(), (x, y), batch_size=8, backend=b) for b in ("func", "autograd")]
    torch.testing.assert_close(ops[0].matmat(V), ops[1].matmat(V), rtol=0, atol=1e-10)
    torch.testing.assert_close(ops[0].matvec(V[:, 2]), ops[0].matmat(V)[:, 2], rtol=0, atol=1e-12)
    assert model.training, "the operator must restore the model's mode"


@pytest.mark.parametrize("backend", ["func", "autograd"])
def test_ggn_equals_jacobian_oracle_and_h_is_g_plus_r(backend):
    model, (x, y), loss = _mlp(), _classification(12), nn.CrossEntropyLoss()
    f, theta = _flat_loss(model, lambda o, _: o, x, y)
    J = jacrev(f)(theta).reshape(12 * 4, -1)  # (N C) x P
    out = model(x).detach()
    H_out = hessian(lambda o: loss(o, y))(out).reshape(12 * 4, 12 * 4)
    G_oracle = J.T @ H_out @ J
    kwargs = {"backend": backend, "batch_size": 5}
    P = theta.numel()
    G = GGNOperator(model, loss, (x, y), **kwargs).matmat(_eye(P))
    R = ResidualOperator(model, loss, (x, y), **kwargs).matmat(_eye(P))
    torch.testing.assert_close(G, G_oracle, rtol=0, atol=1e-12)
    torch.testing.assert_close(G + R, _oracle(model, loss, x, y), rtol=0, atol=1e-12)


def test_parameter_subset_is_the_diagonal_block():
    model, (x, y), loss = _mlp(), _classification(), nn.CrossEntropyLoss()
    names = ["2.weight", "2.bias"]
    block = exact_hessian(model, loss, x, y, params=["2"])
    torch.testing.assert_close(block, _oracle(model, loss, x, y, names), rtol=0, atol=1e-12)


def test_dataloader_and_tensors_give_the_same_products():
    model, (x, y), loss = _mlp(), _classification(), nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(x, y), batch_size=6, shuffle=False)
    V = torch.randn(sum(p.numel() for p in model.parameters()), 3, dtype=F64)
    a = HessianOperator(model, loss, loader).matmat(V)
    b = HessianOperator(model, loss, (x, y)).matmat(V)
    c = HessianOperator(model, loss, iter(list(loader))).matmat(V)  # a one-shot iterator is kept
    torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    torch.testing.assert_close(c, b, rtol=0, atol=1e-12)


def test_float32_model_in_float64_and_dropout_in_eval_mode():
    torch.manual_seed(8)
    model = nn.Sequential(nn.Linear(6, 8), nn.Dropout(0.5), nn.Tanh(), nn.Linear(8, 4))  # float32, train mode
    x, y = _classification()
    x = x.float()
    H = exact_hessian(model, nn.CrossEntropyLoss(), x, y)  # dropout off: deterministic
    eval_copy = copy.deepcopy(model).double().eval()
    torch.testing.assert_close(H, _oracle(eval_copy, nn.CrossEntropyLoss(), x.double(), y), rtol=0, atol=1e-12)
    assert H.dtype == F64 and next(model.parameters()).dtype == torch.float32


def test_batch_spectra_of_softmax_regression_respect_the_rank_bound():
    torch.manual_seed(9)
    d, c, b = 12, 4, 5
    model = nn.Linear(d, c).double()
    x, y = _classification(23, d, c, seed=10)
    spectra = batch_hessian_spectra(model, nn.CrossEntropyLoss(), (x, y), b)
    assert len(spectra) == 5 and list(spectra.batch_sizes) == [5, 5, 5, 5, 3]
    assert list(spectra.rank_bounds) == [b * (c - 1)] * 4 + [3 * (c - 1)]
    for i, eigs in enumerate(spectra):
        xb, yb = x[i * b : (i + 1) * b], y[i * b : (i + 1) * b]
        expected = torch.linalg.eigvalsh(_oracle(model, nn.CrossEntropyLoss(), xb, yb)).numpy()
        np.testing.assert_allclose(eigs, expected, rtol=0, atol=1e-13)
        assert np.sum(np.abs(eigs) > 1e-10 * np.abs(eigs).max()) == spectra.rank_bounds[i]
    ggn = batch_hessian_spectra(model, nn.CrossEntropyLoss(), (x, y), b, curvature="ggn", max_batches=2)
    assert len(ggn) == 2 and ggn.curvature == "ggn"


def test_mse_output_rank_and_drop_last():
    torch.manual_seed(11)
    model = nn.Sequential(nn.Linear(3, 20), nn.Tanh(), nn.Linear(20, 2)).double()
    x = torch.randn(10, 3, dtype=F64)
    spectra = batch_hessian_spectra(model, nn.MSELoss(), (x, torch.randn(10, 2, dtype=F64)), 4, curvature="ggn")
    spectra_dropped = batch_hessian_spectra(
        model, nn.MSELoss(), (x, torch.randn(10, 2, dtype=F64)), 4, curvature="ggn", drop_last=True
    )
    assert list(spectra.rank_bounds) == [8, 8, 4] and len(spectra_dropped) == 2
    for eigs, bound in zip(spectra, spectra.rank_bounds, strict=True):
        assert np.sum(eigs > 1e-10 * eigs.max()) == bound


def test_clear_errors():
    model, (x, y), loss = _mlp(), _classification(), nn.CrossEntropyLoss()
    with pytest.raises(ValueError, match="BatchNorm"):
        HessianOperator(nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4)), loss, (x.float(), y), train_mode=True)
    with pytest.raises(ValueError, match="dropout"):
        HessianOperator(nn.Sequential(nn.Linear(6, 4), nn.Dropout(0.1)), loss, (x.float(), y), train_mode=True)
    with pytest.raises(ValueError, match="not finite"):
        HessianOperator(model, lambda o, t: loss(o, t) / 0.0, (x, y))
    with pytest.raises(ValueError, match="empty"):
        HessianOperator(model, loss, (x[:0], y[:0]))
    with pytest.raises(ValueError, match="empty"):
        HessianOperator(model, loss, [])
    with pytest.raises(ValueError, match="differ in length"):
        HessianOperator(model, loss, (x, y[:-1]))
    with pytest.raises(ValueError, match="matches no parameter"):
        HessianOperator(model, loss, (x, y), params=["9"])
    frozen = _mlp()
    frozen[0].weight.requires_grad_(False)
    with pytest.raises(ValueError, match="do not require gradients"):
        HessianOperator(frozen, loss, (x, y), params=["0"])
    for p in frozen.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="requires_grad"):
        HessianOperator(frozen, loss, (x, y))
    op = HessianOperator(model, loss, (x, y))
    with pytest.raises(ValueError, match="shape"):
        op.matvec(torch.zeros(3, dtype=F64))
    with pytest.raises(ValueError, match="shape"):
        op.matmat(torch.zeros(op.shape[0], dtype=F64))
    with pytest.raises(ValueError, match="backend"):
        HessianOperator(model, loss, (x, y), backend="jax")
    with pytest.raises(ValueError, match="scalar"):
        HessianOperator(model, nn.CrossEntropyLoss(reduction="none"), (x, y))
    with pytest.raises(ValueError, match="batch_size"):
        batch_hessian_spectra(model, loss, (x, y), 0)


# ---- the structured exact Hessian (lib.curvature.exact_structured) against torch.func.hessian ------------------
def _structured_cases():
    torch.manual_seed(11)
    g = torch.Generator().manual_seed(12)
    x, y = _classification(19, 6, 4, seed=13)
    yield "tanh-softplus-ce", _mlp(), nn.CrossEntropyLoss(), x, y
    no_bias = nn.Sequential(nn.Linear(6, 5, bias=False), nn.Sigmoid(), nn.Linear(5, 5), nn.ELU(),
                            nn.Linear(5, 3, bias=False), nn.Tanh()).double()  # activation after the last layer
    yield "no-bias-mse", no_bias, nn.MSELoss(), x, torch.randn(19, 3, generator=g, dtype=F64)
    yield "softmax-regression", nn.Sequential(nn.Flatten(), nn.Linear(12, 4)).double(), nn.CrossEntropyLoss(), \
        torch.randn(19, 3, 4, generator=g, dtype=F64), y
    relu = nn.Sequential(nn.Linear(6, 9), nn.ReLU(), nn.Dropout(0.3), nn.Linear(9, 4)).double()
    yield "relu-dropout-sum", relu, nn.CrossEntropyLoss(reduction="sum"), x, y


@pytest.mark.parametrize("case", list(_structured_cases()), ids=lambda c: c[0])
def test_structured_hessian_matches_torch_func(case):
    from lib.curvature.exact_structured import sequential_hessian

    _, model, loss, x, y = case
    expected = _oracle(model.eval(), loss, x, y)
    H = sequential_hessian(model, loss, x, y)
    assert H is not None, "the fast path must apply to Linear + elementwise networks"
    torch.testing.assert_close(H, expected, rtol=0, atol=1e-12)
    assert torch.equal(H, H.T)
    torch.testing.assert_close(exact_hessian(model, loss, x, y, device="cpu"), expected, rtol=0, atol=1e-12)


def test_structured_hessian_weights_batches_and_casts_float32():
    from lib.curvature.dense import dense_matrix

    model, (x, y), loss = _mlp().float(), _classification(), nn.CrossEntropyLoss()
    op = HessianOperator(model, loss, (x.float(), y), batch_size=5, dtype=F64, device="cpu")  # last batch has 3
    reference = copy.deepcopy(model).double()  # the float32 parameters and inputs, exactly, in float64
    torch.testing.assert_close(dense_matrix(op), _oracle(reference, loss, x.float().double(), y), rtol=0, atol=1e-12)


def test_structured_hessian_falls_back_where_it_does_not_apply():
    from lib.curvature.exact_structured import sequential_hessian

    model, (x, y) = _mlp(), _classification()

    def coupled(o, t):  # the square of a batch mean couples the samples: D is not block diagonal
        return nn.functional.cross_entropy(o, t) + o.mean() ** 2

    assert sequential_hessian(model, coupled, x, y) is None
    torch.testing.assert_close(exact_hessian(model, coupled, x, y), _oracle(model, coupled, x, y), rtol=0, atol=1e-12)
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 3)).double()
    assert sequential_hessian(conv, nn.CrossEntropyLoss(), torch.randn(5, 1, 4, 4, dtype=F64), y[:5]) is None
    frozen = _mlp()
    frozen[0].bias.requires_grad_(False)
    assert sequential_hessian(frozen, nn.CrossEntropyLoss(), x, y) is None


def test_structured_hessian_in_small_chunks(monkeypatch):
    """Chunking over samples, output units and input units (the memory bounds for large P) changes nothing."""
    import lib.curvature.exact_structured as structured

    monkeypatch.setattr(structured, "_CHUNK_FLOATS", 50)
    monkeypatch.setattr(structured, "_BLOCK_FLOATS", 200)
    model, (x, y), loss = _mlp(), _classification(), nn.CrossEntropyLoss()
    torch.testing.assert_close(structured.sequential_hessian(model, loss, x, y), _oracle(model, loss, x, y),
                               rtol=0, atol=1e-12)


def test_paper_batch_spectra_is_the_summed_loss_hessian_and_the_unscaled_ggn():
    # paper 1's scripts: Hessian of b * mean loss in float32, GGN (1/b) sum J J^T (no factor 2 of the squared error);
    # oracle: torch.func.hessian of the summed loss in float64, and J from torch.func.jacrev
    cross_entropy, mse = torch.nn.functional.cross_entropy, torch.nn.functional.mse_loss
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 3))
    x, y = torch.randn(8, 6), torch.randint(0, 3, (8,))
    spectra = paper_batch_spectra(model, cross_entropy, (x, y), 4)
    assert spectra.eigenvalues.dtype == np.float32 and spectra.eigenvalues.shape == (2, 21)
    assert list(spectra.rank_bounds) == [8, 8]  # b (C - 1)
    params = {k: v.detach().double() for k, v in model.named_parameters()}
    for k, start in enumerate((0, 4)):
        xb, yb = x[start : start + 4].double(), y[start : start + 4]

        def summed(p, xb=xb, yb=yb):
            return cross_entropy(functional_call(model, p, (xb,)), yb, reduction="sum")

        h = hessian(summed)(params)
        names = list(params)
        dense = torch.cat([torch.cat([h[a][b].reshape(params[a].numel(), params[b].numel()) for b in names], 1)
                           for a in names])
        np.testing.assert_allclose(spectra.eigenvalues[k], np.linalg.eigvalsh(dense.numpy()), atol=1e-5)

    reg = nn.Sequential(nn.Linear(6, 4), nn.Tanh(), nn.Linear(4, 1))
    target = torch.randn(8, 1)
    ggn = paper_batch_spectra(reg, mse, (x, target), 8, curvature="ggn")
    p64 = {k: v.detach().double() for k, v in reg.named_parameters()}
    jac = jacrev(lambda p: functional_call(reg, p, (x.double(),)).ravel())(p64)
    j = torch.cat([jac[k].reshape(8, -1) for k in p64], 1)
    np.testing.assert_allclose(ggn.eigenvalues[0], np.linalg.eigvalsh((j.T @ j / 8).numpy()), atol=1e-5)
