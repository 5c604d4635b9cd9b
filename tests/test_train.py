"""Training: paper 1's schedule and SGD update, determinism, cache hits, resume, corrupt checkpoints, errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_data import write_cifar

from lib.nets import models
from lib.nets import train as tr
from lib.nets.data import load

REAL_RUN_EPOCH = tr._run_epoch
TINY = {"dataset": "mnist5k", "dataset_kwargs": {"n": 200, "n_test": 100}, "lr": 0.05}


@pytest.fixture(autouse=True)
def _cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RMT_DEVICE", "cpu")
    tr.default_device.cache_clear()


def _weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach().cpu().clone() for p in model.state_dict().values()]


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(_weights(a), _weights(b), strict=True))


def test_defaults_are_paper_1() -> None:
    c = tr.TrainConfig()
    assert (c.optimizer, c.lr, c.momentum, c.weight_decay, c.batch_size, c.epochs, c.seed, c.schedule) == (
        "sgd", 0.003, 0.9, 5e-4, 128, 300, 1, "linear_decay")
    assert c.checkpoint_epochs == (0, 300)


def test_linear_decay_schedule_values() -> None:
    # paper1.md 1.2: 1 up to t = 0.5, linear to 0.01 at t = 0.9, then 0.01 (lr 3e-5 for the last 30 epochs)
    assert tr.lr_factor("linear_decay", 150, 300) == 1.0
    assert tr.lr_factor("linear_decay", 210, 300) == pytest.approx(1 - 0.99 * 0.2 / 0.4)
    assert tr.lr_factor("linear_decay", 270, 300) == pytest.approx(0.01)
    assert all(tr.lr_factor("linear_decay", e, 300) == 0.01 for e in range(271, 300))


def test_step_schedule_values() -> None:
    assert [tr.lr_factor("step", e, 9) for e in range(9)] == pytest.approx([1] * 3 + [0.1] * 3 + [0.01] * 3)
    assert tr.lr_factor("constant", 7, 9) == 1.0


def test_one_full_batch_step_is_sgd_with_coupled_weight_decay(tmp_path: Path) -> None:
    """After one step from w0 on the whole batch: w1 = w0 - lr (grad L(w0) + wd w0) (momentum buffer = first g)."""
    config = tr.TrainConfig(model="logistic", dataset="digits", dataset_kwargs={"n": 100}, epochs=1,
                            batch_size=100, lr=0.1, weight_decay=0.01, schedule="constant")
    result = tr.train(config, cache_dir=tmp_path, progress=False)
    x, y = load("digits", "train", n=100)
    torch.manual_seed(1)
    w0 = models.build("logistic", (1, 8, 8), 10)
    grads = torch.autograd.grad(F.cross_entropy(w0(x), y), list(w0.parameters()))
    for p0, g, p1 in zip(w0.parameters(), grads, result.model.parameters(), strict=True):
        torch.testing.assert_close(p1.detach(), p0.detach() - 0.1 * (g + 0.01 * p0.detach()))
    assert _same(result.checkpoint(0), w0)  # epoch 0 is the seeded initialisation


def test_deterministic_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tr.TrainConfig(model="mlp", epochs=3, checkpoints=(1,), **TINY)
    a = tr.train(config, cache_dir=tmp_path / "a", progress=False)
    b = tr.train(config, cache_dir=tmp_path / "b", progress=False)
    assert _same(a.model, b.model)  # bit for bit on the CPU
    assert a.history["epoch"].tolist() == [0, 1, 2, 3]
    assert a.history["train_loss"][-1] < a.history["train_loss"][0]
    x, y = load("mnist5k", "test", n=100)
    with torch.no_grad():
        acc = (a.model(x).argmax(1) == y).double().mean().item()
    assert a.history["test_acc"][-1] == pytest.approx(acc)

    def refuse(*args: object) -> None:
        raise AssertionError("a cached run must not train")

    monkeypatch.setattr(tr, "_run_epoch", refuse)
    c = tr.train(config, cache_dir=tmp_path / "a", progress=False)
    assert _same(c.model, a.model) and not c.model.training
    assert (c.history["test_loss"] == a.history["test_loss"]).all()
    assert not _same(c.checkpoint(1), c.checkpoint(3))
    with pytest.raises(ValueError, match="not checkpointed"):
        c.checkpoint(2)


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, epochs_done: int) -> list[int]:
    """Make `_run_epoch` raise KeyboardInterrupt once `epochs_done` epochs ran; returns the epochs run."""
    ran: list[int] = []

    def run(model, opt, data, config, epoch):
        if len(ran) == epochs_done:
            raise KeyboardInterrupt
        ran.append(epoch)
        REAL_RUN_EPOCH(model, opt, data, config, epoch)

    monkeypatch.setattr(tr, "_run_epoch", run)
    return ran


def _count_epochs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    return _interrupt_after(monkeypatch, 10**9)


@pytest.mark.parametrize("via", ["checkpoint", "latest"])
def test_resume_after_interruption(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, via: str) -> None:
    config = tr.TrainConfig(model="mlp", epochs=4, checkpoints=(2,) if via == "checkpoint" else (), **TINY)
    reference = tr.train(config, cache_dir=tmp_path / "ref", progress=False)
    if via == "latest":
        monkeypatch.setattr(tr, "RESUME_EVERY_S", 0.0)
    _interrupt_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        tr.train(config, cache_dir=tmp_path / "run", progress=False)
    ran = _count_epochs(monkeypatch)
    resumed = tr.train(config, cache_dir=tmp_path / "run", progress=False)
    assert ran == ([2, 3] if via == "checkpoint" else [3])
    assert _same(resumed.model, reference.model)
    assert (resumed.history["train_loss"] == reference.history["train_loss"]).all()
    assert not (resumed.directory / "latest.pt").exists()


def test_resume_with_dropout_on_cifar_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """VGG-16 has dropout: the RNG state in the checkpoint makes the resumed run identical."""
    write_cifar(tmp_path / "data")
    config = tr.TrainConfig(model="vgg16", model_kwargs={"width": 1 / 32}, dataset="cifar10", epochs=3,
                            checkpoints=(1,), batch_size=8, lr=0.01)
    reference = tr.train(config, root=tmp_path / "data", cache_dir=tmp_path / "ref", progress=False)
    _interrupt_after(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        tr.train(config, root=tmp_path / "data", cache_dir=tmp_path / "run", progress=False)
    monkeypatch.undo()
    tr.default_device.cache_clear()
    resumed = tr.train(config, root=tmp_path / "data", cache_dir=tmp_path / "run", progress=False)
    assert _same(resumed.model, reference.model)


def test_corrupt_checkpoint_is_reported_and_recomputed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tr.TrainConfig(model="logistic", epochs=2, checkpoints=(1,), **TINY)
    first = tr.train(config, cache_dir=tmp_path, progress=False)
    path = first.directory / "epoch-00001.pt"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.warns(RuntimeWarning, match="epoch-00001.pt.*SHA-256"):
        model = first.checkpoint(1)  # recomputed, never the damaged bytes
    assert _same(model, tr.train(config, cache_dir=tmp_path / "fresh", progress=False).checkpoint(1))
    (first.directory / "epoch-00002.pt").write_bytes(b"garbage")
    ran = _count_epochs(monkeypatch)
    with pytest.warns(RuntimeWarning, match="epoch-00002.pt"):
        again = tr.train(config, cache_dir=tmp_path, progress=False)
    assert ran == [1] and _same(again.model, first.model)


def test_regression_with_mse(tmp_path: Path) -> None:
    config = tr.TrainConfig(model="bike_mlp", dataset="diabetes", epochs=3, lr=0.01, schedule="step")
    result = tr.train(config, cache_dir=tmp_path, progress=False)
    assert config.loss_name == "mse" and result.history["train_loss"][-1] < result.history["train_loss"][0]
    assert torch.isnan(torch.as_tensor(result.history["train_acc"])).all()


def test_progress_bar_shows_loss_and_accuracy(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    tr.train(tr.TrainConfig(model="logistic", epochs=1, **TINY), cache_dir=tmp_path, progress=True)
    err = capsys.readouterr().err
    assert "loss=" in err and "acc=" in err


def test_bad_configurations(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown model"):
        tr.TrainConfig(model="gpt")
    with pytest.raises(ValueError, match="unknown data set"):
        tr.TrainConfig(dataset="imagenet")
    with pytest.raises(ValueError, match="regression"):
        tr.TrainConfig(dataset="diabetes", loss="cross_entropy")
    with pytest.raises(ValueError, match="schedule"):
        tr.TrainConfig(schedule="cosine")
    with pytest.raises(ValueError, match="num_classes"):
        tr.TrainConfig(model_kwargs={"num_classes": 3})
    with pytest.raises(ValueError, match="outside"):
        tr.TrainConfig(epochs=3, checkpoints=(5,))
    with pytest.raises(ValueError, match="does not accept"):
        tr.train(tr.TrainConfig(model="lenet_small", dataset="mnist1d", epochs=1), cache_dir=tmp_path)
    with pytest.raises(FloatingPointError, match="non-finite|nan|inf"):
        tr.train(tr.TrainConfig(model="bike_mlp", dataset="diabetes", epochs=2, lr=1e4), cache_dir=tmp_path,
                 progress=False)


def test_user_features_set_their_number_of_classes(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((30, 8))
    y = np.arange(30) % 3
    np.savez(tmp_path / "features.npz", x_train=x, y_train=y, x_test=x[:6], y_test=y[:6])
    config = tr.TrainConfig(model="logistic", dataset="features", epochs=1, shuffle=False)
    result = tr.train(config, root=tmp_path, cache_dir=tmp_path / "cache", progress=False)
    assert result.model[-1].out_features == 3 and models.num_params(result.model) == 9 * 3


def test_zero_epochs_is_the_seeded_initialisation(tmp_path: Path) -> None:
    """Paper 1's "untrained" models: ``--epochs 0`` stores the initial weights of seed 1."""
    result = tr.train(tr.TrainConfig(model="mlp", epochs=0, **TINY), cache_dir=tmp_path, progress=False)
    torch.manual_seed(1)
    assert _same(result.model, models.build("mlp", (1, 28, 28), 10))
    assert result.history["epoch"].tolist() == [0]


def test_padded_mnist_feeds_vgg16(tmp_path: Path) -> None:
    """``pad_to=32`` in dataset_kwargs gives MNIST the 32x32 input VGG-16 halves five times."""
    config = tr.TrainConfig(model="vgg16", model_kwargs={"width": 1 / 16}, epochs=0, dataset="mnist5k",
                            dataset_kwargs={"n": 20, "n_test": 10, "pad_to": 32})
    result = tr.train(config, cache_dir=tmp_path, progress=False)
    assert result.model[0].in_channels == 1 and result.history["epoch"].tolist() == [0]
    with pytest.raises(ValueError, match="does not accept"):
        tr.train(tr.TrainConfig(model="vgg16", epochs=0, dataset="mnist5k", dataset_kwargs={"n": 20, "n_test": 10}),
                 cache_dir=tmp_path, progress=False)


def test_a_run_cached_under_another_thread_count_is_flagged(tmp_path: Path) -> None:
    config = tr.TrainConfig(model="logistic", dataset="digits", dataset_kwargs={"n": 100, "n_test": 50}, epochs=1)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        tr.train(config, cache_dir=tmp_path, progress=False)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # same thread count: served silently
            tr.train(config, cache_dir=tmp_path, progress=False)
        torch.set_num_threads(2)
        with pytest.warns(RuntimeWarning, match="1 thread"):
            tr.train(config, cache_dir=tmp_path, progress=False)
    finally:
        torch.set_num_threads(threads)
