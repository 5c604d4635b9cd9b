"""Diagnose your own network: the book's curvature diagnostics for any trained ``torch.nn.Module``.

The top layer of ``lib`` (above ``lib.book``): :func:`diagnose` returns a :class:`Report` (spectra of H = G + R,
null space against the GGN rank bound and the round-off floor, batch-Hessian local statistics with chapter 3's
calibrated rule, law fits with bulk and atom separated); ``python -m lib.diagnose`` loads a model file saved with
``torch.save`` and data from an ``.npz``, checks them, and writes an HTML report (chapter 10 executed on them) and
a JSON summary.
"""

import importlib
from typing import Any

#: the public names and their modules, imported on first use (PEP 562): ``python -m lib.diagnose`` checks its
#: arguments before torch is loaded
_EXPORTS = {"diagnose": "analysis", "plan_spectra": "analysis", "roundoff_floor": "analysis",
            "DiagnoseError": "loading", "check_inputs": "loading", "load_data": "loading", "load_factory": "loading",
            "load_model": "loading", "resolve_loss": "loading", "Report": "report"}

__all__ = ["DiagnoseError", "Report", "check_inputs", "diagnose", "load_data", "load_factory", "load_model",
           "plan_spectra", "resolve_loss", "roundoff_floor"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"lib.diagnose.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'lib.diagnose' has no attribute {name!r}")
