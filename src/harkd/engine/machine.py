"""A one-line description of this machine for benchmark records."""

from __future__ import annotations

import os
import platform
from pathlib import Path

__all__ = ["cpu_model", "machine_description"]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_description() -> str:
    """Platform, CPU, core count, Python and torch versions with torch's thread count."""
    import torch

    return (f"{platform.platform()}, {cpu_model()}, {os.cpu_count()} CPUs, python {platform.python_version()}, "
            f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
