"""Library behind the book *Random matrices and the Hessians of neural networks*.

Layers (arrows point down only):

* mathematics -- ``ensembles``, ``laws``, ``spacings``, ``freeprob``, ``spinglass``: NumPy/SciPy, no I/O;
* networks -- ``device``, ``data``, ``models``, ``train``, ``hessian``, ``lanczos``: torch;
* plumbing -- ``cache``, ``batch``, ``plotting``: on-disk results, the papermill runner, the figure style.

Nothing is imported here, so ``import lib.laws`` never pulls in torch.
"""

__version__ = "0.1.0"
