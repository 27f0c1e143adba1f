"""Shared fixtures: the real-data root and a small synthetic UTD-MHAD dataset."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from harkd.data.registry import DATA_ROOT_ENV  # noqa: E402  (defined once, in the data layer)


@pytest.fixture(scope="session")
def real_data_root() -> Path:
    """Root holding the real datasets (``UTD-MHAD/``, ...); skips when absent."""
    root = os.environ.get(DATA_ROOT_ENV)
    if not root:
        pytest.skip(f"real-data test skipped: set {DATA_ROOT_ENV} to the data root (e.g. ../shared/data)")
    path = Path(root)
    if not path.is_dir():
        pytest.skip(f"real-data test skipped: {DATA_ROOT_ENV}={root} is not a directory")
    return path


@pytest.fixture(scope="session")
def utd_root(real_data_root: Path) -> Path:
    """The real UTD-MHAD folder; skips when it is not under the data root."""
    path = real_data_root / "UTD-MHAD"
    if not path.is_dir():
        pytest.skip(f"real-data test skipped: {path} not found")
    return path


@pytest.fixture(scope="session")
def synth_utd(tmp_path_factory) -> Path:
    """A small synthetic UTD-MHAD dataset in the real layout (4 subjects, 2 trials, 6 actions)."""
    from harkd.data.synth import write_utd_mhad

    root = tmp_path_factory.mktemp("synth-utd")
    write_utd_mhad(root, subjects=(1, 2, 3, 4), trials=(1, 2), actions=(1, 2, 3, 10, 22, 24), seed=0, depth_size=(60, 80))
    return root
