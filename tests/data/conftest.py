"""Fixtures of tests/data: a tiny valid UTD-MHAD-layout dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from utdfiles import write_recording


@pytest.fixture
def small_utd(tmp_path: Path) -> Path:
    """Valid tiny dataset: actions 1, 2; subjects 1-4; trials 1, 2 (16 recordings, all modalities)."""
    root = tmp_path / "UTD"
    for a in (1, 2):
        for s in (1, 2, 3, 4):
            for t in (1, 2):
                write_recording(root, f"a{a}_s{s}_t{t}", frames=4 + s + t)
    return root
