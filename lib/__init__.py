"""Library behind the book *Random matrices and the Hessians of neural networks*.

Layers (arrows point down only; nothing is imported here, so ``import lib.rmt.laws`` never pulls in torch):

Mathematics (NumPy/SciPy, no I/O)
    ``checks`` shared parameter checks · ``levels`` spectrum checks · ``ensembles`` GOE/GUE/GSE, beta-Hermite,
    Wishart, Poisson samplers · ``laws`` semicircle and Marchenko-Pastur · ``spacings`` spacings, ratios and their
    laws · ``gap_probability`` the exact Gaudin-Mehta law · ``unfolding`` · ``rigidity`` number variance and
    Delta_3 · ``freeprob`` products, free sums, nonlinear random features · ``sparse_ensembles`` percolated
    ensembles · ``spinglass`` p-spin complexity · ``true_loss`` paper 1's random-function model · ``budget``
    training-budget fits.
Networks (torch)
    ``device`` · ``data`` · ``models`` · ``train`` · ``cache`` (on-disk results) · ``hvp`` curvature products
    (replayed from ``traced_maps``) · ``hessian`` operators, exact Hessians and batch spectra · ``lanczos`` Lanczos,
    SLQ, Hutchinson · ``hessian_statistics`` paper 1's experiments E1-E8 · ``gradient_correlation`` ·
    ``spectral_fits`` fits of the laws to network spectra · ``network_spectra`` paper 2's experiments (spectra at
    checkpoints, exact GGN ranks against the width formula) · ``mode_connectivity``.
Plumbing
    ``fingerprint`` what a chapter depends on · ``profiles`` parameter profiles · ``batch`` the papermill runner ·
    ``book`` the renderer · ``verdicts`` claim-by-claim verdict tables · ``plotting`` the figure style.
"""

__version__ = "0.1.0"
