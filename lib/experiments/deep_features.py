"""The ``deep_features`` data set: penultimate-layer activations of a conv net trained here.

Paper 1 (Baskerville, Granziol & Keating 2022, experiment E3) fits softmax regression to ImageNet ResNet-34
features of CIFAR-10; those need pretrained weights that cannot be fetched offline, so the book stands in the
50 penultimate units of LeNet-small trained on a packaged image set (mnist5k by default). The set is registered
with :func:`lib.nets.data.register` when ``lib.experiments`` is imported: it needs the training code, which the
data layer must not import.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from lib.nets import data
from lib.nets.train import TrainConfig, train

_EVAL_CHUNK = 1024  # samples per forward pass


def penultimate_features(model: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """Activations entering the last layer of a zoo model (``model[:-1](x)``), in eval mode, on the CPU."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = torch.cat([model[:-1](chunk.to(device)).cpu() for chunk in x.split(_EVAL_CHUNK)])
    model.train(was_training)
    return out


def deep_features(seed: int, root: str | Path | None, source: str = "mnist5k",
                  epochs: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train LeNet-small on ``source`` (``epochs`` epochs, cached by ``lib.nets.train``) and return its
    penultimate activations on the train and test splits of ``source``, with their labels."""
    source, epochs = str(source), int(epochs)
    src = data.info(source)
    if src.task != "classification" or src.input_shape is None or len(src.input_shape) != 3:
        raise ValueError(f"deep_features needs an image classification source, got {source!r}")
    config = TrainConfig(model="lenet_small", dataset=source, dataset_kwargs={"seed": seed}, epochs=epochs,
                         lr=0.02, schedule="linear_decay")
    result = train(config, root=root, progress=False)
    x_tr, y_tr = data.load(source, "train", root, seed=seed)
    x_te, y_te = data.load(source, "test", root, seed=seed)
    return (penultimate_features(result.model, x_tr).numpy(), y_tr.numpy(),
            penultimate_features(result.model, x_te).numpy(), y_te.numpy())


data.register(
    data.DatasetInfo("deep_features", "classification", 10, (50,),
                     "penultimate layer (50 units) of LeNet-small trained here on the source set (mnist5k)",
                     "as the source data set", True),
    deep_features, options=("source", "epochs"),
)
