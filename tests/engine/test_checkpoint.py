import random

import numpy as np
import pytest
import torch

from harkd.engine.checkpoint import atomic_save, capture_rng_state, load_checkpoint, restore_rng_state
from harkd.errors import DataError


def test_atomic_save_roundtrip_and_no_temp_left(tmp_path):
    path = atomic_save({"w": torch.arange(3)}, tmp_path / "run" / "last.pt")
    assert torch.equal(load_checkpoint(path)["w"], torch.arange(3))
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = atomic_save({"w": torch.randn(100)}, tmp_path / "last.pt")
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(DataError, match=r"last\.pt: cannot read checkpoint"):
        load_checkpoint(path)
    with pytest.raises(DataError, match=r"missing\.pt: checkpoint not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_rng_state_restores_every_generator():
    state = capture_rng_state()
    first = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == first
