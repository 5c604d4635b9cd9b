"""The one place where the compute device is chosen.

CUDA when present, CPU otherwise; ``RMT_DEVICE`` (e.g. ``cpu`` or ``cuda:1``) overrides the choice, so a reader
can pin a run to the CPU on a GPU machine.
"""

from __future__ import annotations

import os
from functools import cache

import torch


@cache
def default_device() -> torch.device:
    """Return the device every network computation of the library runs on, chosen once per process."""
    requested = os.environ.get("RMT_DEVICE")
    if requested:
        dev = torch.device(requested)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"RMT_DEVICE={requested!r} asks for CUDA, but torch sees no CUDA device")
        return dev
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")
