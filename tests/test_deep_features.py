"""The ``deep_features`` data set, registered with ``lib.nets.data`` by ``lib.experiments``."""

import pytest
import torch

from lib.experiments import deep_features  # noqa: F401  (registers the set)
from lib.nets import data


def test_deep_features_are_penultimate_relu_activations() -> None:
    x, y = data.load("deep_features", "test", n=40, epochs=1)
    assert x.shape == (40, 50) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert float(x.min()) >= 0.0 and float(x.max()) > 0.0  # the 50 units follow a ReLU
    assert torch.bincount(y).tolist() == [4] * 10


def test_deep_features_refuse_unknown_options_and_sources() -> None:
    with pytest.raises(ValueError, match="options are"):
        data.load("deep_features", "test", colour="red")
    with pytest.raises(ValueError, match="image classification source"):
        data.load("deep_features", "test", source="diabetes")


def test_a_built_in_set_cannot_be_replaced() -> None:
    with pytest.raises(ValueError, match="built in"):
        data.register(data.info("digits"), lambda seed, root: None)
