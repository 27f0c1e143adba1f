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


def flip(path, start, count=64):
    data = bytearray(path.read_bytes())
    data[start:start + count] = bytes(b ^ 0xFF for b in data[start:start + count])
    path.write_bytes(bytes(data))


def test_flipped_bytes_are_caught_by_the_checksum(tmp_path):
    path = atomic_save({"w": torch.randn(10_000)}, tmp_path / "last.pt")
    flip(path, path.stat().st_size // 2)
    assert torch.load(path, weights_only=False)["w"].shape == (10_000,)  # torch alone loads other weights
    with pytest.raises(DataError) as err:
        load_checkpoint(path)
    assert str(err.value) == f"{path}: cannot read checkpoint: the file is damaged (its content no longer matches its checksum)"


def test_a_damaged_record_header_is_a_clear_error(tmp_path):
    path = atomic_save({"w": torch.randn(10)}, tmp_path / "best.pt")
    flip(path, 0, 8)  # the first record's header
    with pytest.raises(DataError, match=r"best\.pt: cannot read checkpoint: the file is damaged"):
        load_checkpoint(path)


def test_a_record_name_that_no_longer_decodes_is_a_clear_error(tmp_path):
    import zipfile

    path = atomic_save({"w": torch.randn(10), "v": torch.randn(10)}, tmp_path / "last.pt")
    record = zipfile.ZipFile(path).infolist()[1]
    data = bytearray(path.read_bytes())
    data[record.header_offset + 30] = 0x9E  # the name's first byte: invalid UTF-8
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as err:
        load_checkpoint(path)
    assert str(err.value) == (f"{path}: cannot read checkpoint: the file is damaged (a record's header no longer "
                              "matches the zip directory)")


def test_checksums_are_written_even_when_switched_off(tmp_path):
    if not hasattr(torch.serialization, "set_crc32_options"):
        pytest.skip("this torch always writes checksums")
    torch.serialization.set_crc32_options(False)
    try:
        path = atomic_save({"w": torch.randn(1000)}, tmp_path / "last.pt")
    finally:
        torch.serialization.set_crc32_options(True)
    assert torch.equal(load_checkpoint(path)["w"], torch.load(path, weights_only=False)["w"])
    flip(path, path.stat().st_size // 2)
    with pytest.raises(DataError, match="no longer matches its checksum"):
        load_checkpoint(path)


def test_a_legacy_format_checkpoint_loads_without_checksums(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"w": torch.arange(4)}, path, _use_new_zipfile_serialization=False)
    assert torch.equal(load_checkpoint(path)["w"], torch.arange(4))


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    import errno

    from harkd.engine import checkpoint

    path = atomic_save({"w": torch.zeros(3)}, tmp_path / "last.pt")

    def full(obj, handle, *args, **kwargs):
        handle.write(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", full)
    with pytest.raises(OSError):
        atomic_save({"w": torch.ones(3)}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["w"], torch.zeros(3))
