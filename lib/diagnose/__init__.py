"""Diagnose your own network: the book's curvature diagnostics for any trained ``torch.nn.Module``.

The top layer of ``lib`` (above ``lib.book``): :func:`diagnose` returns a :class:`Report` (spectra of H = G + R,
null space against the GGN rank bound and the round-off floor, batch-Hessian local statistics with chapter 3's
calibrated rule, law fits with bulk and atom separated); ``python -m lib.diagnose`` loads a model file saved with
``torch.save`` and data from an ``.npz``, checks them, and writes an HTML report (chapter 10 executed on them) and
a JSON summary.
"""

from lib.diagnose.analysis import diagnose, plan_spectra, roundoff_floor
from lib.diagnose.loading import DiagnoseError, check_inputs, load_data, load_factory, load_model, resolve_loss
from lib.diagnose.report import Report

__all__ = ["DiagnoseError", "Report", "check_inputs", "diagnose", "load_data", "load_factory", "load_model",
           "plan_spectra", "resolve_loss", "roundoff_floor"]
