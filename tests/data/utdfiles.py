"""Helpers writing small UTD-MHAD-layout .mat files into tmp dirs (imported by tests/data)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

FOLDERS = {"inertial": ("Inertial", "inertial", "d_iner"), "skeleton": ("Skeleton", "skeleton", "d_skel"),
           "depth": ("Depth", "depth", "d_depth")}


def key_seed(key: str) -> int:
    return sum(ord(c) * (i + 1) for i, c in enumerate(key))


def make_array(modality: str, key: str, frames: int) -> np.ndarray:
    """Deterministic content derived from the key, in the file layout (time last for skel/depth)."""
    rng = np.random.default_rng(key_seed(key))
    if modality == "inertial":
        return rng.normal(size=(frames * 3, 6))
    if modality == "skeleton":
        return rng.normal(size=(20, 3, frames))
    depth = np.zeros((240, 320, frames), np.uint16)
    depth[100:140, 150:170, :] = rng.integers(500, 4000, size=(40, 20, frames), dtype=np.uint16)
    return depth


def write_mat(path: Path, **variables) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, variables, do_compression=True)
    return path


def write_recording(root: Path, key: str, modalities=("inertial", "skeleton", "depth"), frames: int = 5) -> None:
    for m in modalities:
        folder, suffix, var = FOLDERS[m]
        write_mat(root / folder / f"{key}_{suffix}.mat", **{var: make_array(m, key, frames)})
