"""Paper 1's training-budget experiment at laptop size: the best test loss and error of runs of budget T.

Paper 1 (Baskerville, Granziol & Keating, arXiv:2102.06740 v1-v3; the authors' notebook ``Exponential Hardness of
True Loss``) trains ResNet-50 on ImageNet for several epoch budgets T with the learning rate divided by 10 at T/3
and 2T/3, and records per run the best validation loss (and error) and the epoch t at which it occurred, to be
fitted with y(t) = a + b exp(c t) (``lib.rmt.budget``). ``budget_runs`` repeats that for a model of the zoo, and
``aicc_null`` caches the parametric bootstrap that calibrates the exponential-versus-power-law comparison.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from lib.nets.cache import load_or_compute
from lib.nets.train import TrainConfig, train
from lib.rmt import budget

__all__ = ["aicc_null", "budget_runs"]


def budget_runs(
    dataset: str, model: str, width: float, budgets: Sequence[int], seeds: Sequence[int], lr: float
) -> pd.DataFrame:
    """One row per (budget T, seed): the best test loss and test error over the epochs of a run of T epochs and
    the epochs completed when each was reached (``t_loss``, ``t_error`` >= 1; the paper's t is the 0-based index),
    and the best training loss (mean loss over the training split, without weight decay) with its epoch
    (``best_train_loss``, ``t_train``): the quantity optimisation drives down, free of overfitting.

    Each run trains ``model`` (hidden-width multiplier ``width``) on ``dataset`` with SGD from ``lr`` and the step
    schedule (lr / 10 at T/3 and 2T/3; ``lib.nets.train``, cached there); the error is 1 - test accuracy.
    """
    records = []
    for T in budgets:
        for seed in seeds:
            config = TrainConfig(model=model, dataset=dataset, model_kwargs={"width": width}, epochs=T, lr=lr,
                                 schedule="step", seed=seed)
            history = train(config, progress=False).history
            i_loss, best_loss = budget.best_per_run([history["test_loss"][1:]])  # index 0 of [1:] is epoch 1
            i_err, best_acc = budget.best_per_run([history["test_acc"][1:]], mode="max")
            i_train, best_train = budget.best_per_run([history["train_loss"][1:]])
            records.append({"T": T, "seed": seed, "best_loss": float(best_loss[0]), "t_loss": int(i_loss[0]) + 1,
                            "best_error": 1 - float(best_acc[0]), "t_error": int(i_err[0]) + 1,
                            "best_train_loss": float(best_train[0]), "t_train": int(i_train[0]) + 1})
    return pd.DataFrame(records)


def aicc_null(
    t: ArrayLike, exponential: budget.CurveFit, power: budget.CurveFit, replicas: int, seed: int
) -> dict[str, np.ndarray]:
    """``lib.rmt.budget.aicc_difference_null`` of the fits at the points ``t`` (Delta AICc = AICc(exponential) -
    AICc(power law) under the fitted exponential and under the fitted power law), cached under "budget_aicc_null"
    by the points, both fits' parameters and residual sums, ``replicas`` and ``seed``."""
    t_list = [float(x) for x in np.asarray(t, dtype=float)]
    key = dict(t=t_list, fits=[[fit.model, [float(p) for p in fit.params], float(fit.rss)]
                               for fit in (exponential, power)], replicas=replicas, seed=seed)
    return load_or_compute("budget_aicc_null", key,
                           lambda: budget.aicc_difference_null(t_list, exponential, power, replicas, seed))
