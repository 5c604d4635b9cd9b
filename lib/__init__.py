"""Library behind the book *Random matrices and the Hessians of neural networks*.

Layers, one folder each, bottom to top; a module imports only its own layer and those below it
(``tests/test_layers.py`` checks this from the imports), and nothing is imported here, so ``import lib.rmt.laws``
never pulls in torch.

``lib.rmt``
    Mathematics, NumPy/SciPy only, no I/O: ``checks``, ``levels`` · ``ensembles``, ``sparse_ensembles`` ·
    ``laws`` semicircle and Marchenko-Pastur · ``freeprob`` products, free sums, random features · ``spacings``,
    ``gap_probability``, ``unfolding``, ``rigidity`` local statistics and their laws · ``level_statistics`` genuine
    and null-space levels of a spectrum and their statistics · ``measures`` spectra as measures, KS and W1
    distances, smoothed densities · ``law_fits`` fits of the laws to spectra · ``spinglass`` p-spin complexity ·
    ``true_loss`` paper 1's random-function model · ``correlation_fits`` its gradient correlation fitted ·
    ``budget`` training-budget fits.
``lib.curvature``
    Curvature of a loss, torch only, no data sets, training or cache: ``device`` · ``parameter_space`` the
    selected parameters as a flat vector and the model as a function of it · ``operators`` Hessian, GGN and
    residual products (``traced_maps`` replays them; ``autodiff`` forward-mode helpers) · ``exact_structured`` and
    ``dense`` exact Hessians and batch spectra · ``lanczos`` Lanczos, SLQ, Hutchinson · ``ggn_rank`` exact GGN ranks
    and their bounds.
``lib.nets``
    ``data`` data sets · ``models`` the model zoo · ``train`` seeded, resumable, cached training · ``cache`` the
    on-disk cache.
``lib.experiments``
    The papers' experiments, the only users of the cache: ``batch_hessians`` paper 1's E1-E8 · ``true_loss_model``
    and ``true_loss_networks`` its random-function model against published and network spectra ·
    ``gradient_decorrelation`` · ``training_budget`` · ``network_spectra`` paper 2's spectra, fits and width sweep ·
    ``mode_connectivity`` · ``deep_features`` (a data set that needs training, registered with ``lib.nets.data``).
``lib.book``
    ``fingerprint`` what a chapter depends on · ``profiles`` · ``batch`` the papermill runner (``python -m
    lib.batch``) · ``render`` the book · ``verdicts`` verdict tables · ``verdict_rules`` the decision rules ·
    ``law_checks`` calibrated KS checks of sampled spectra against a law · ``foundation_claims``,
    ``paper1_claims``, ``paper2_claims`` the verdicts of each chapter · ``published`` the papers' reference numbers ·
    ``benchmark_results`` the recorded benchmarks · ``plotting`` the figure style.

A process started with ``RMT_LIB_ROOT=<checkout>`` (the batch runner's kernels are) may import only
``<checkout>/lib``: importing this package from anywhere else raises :class:`ImportError`, so a chapter never runs
on another clone's ``lib`` than the one the runner fingerprinted.
"""

import os as _os
from pathlib import Path as _Path

__version__ = "0.1.0"
LIB_ROOT_VARIABLE = "RMT_LIB_ROOT"


def _check_checkout() -> None:
    """Raise ImportError when ``RMT_LIB_ROOT`` names a checkout whose ``lib`` is not this package."""
    root = _os.environ.get(LIB_ROOT_VARIABLE)
    here = _Path(__file__).resolve().parent
    if root and here != (_Path(root) / "lib").resolve():
        raise ImportError(
            f"lib imported from {here}, but {LIB_ROOT_VARIABLE}={root} asks for {_Path(root) / 'lib'}: "
            f"put {root} first on PYTHONPATH (python -m lib.batch does this for its kernels)"
        )


_check_checkout()
