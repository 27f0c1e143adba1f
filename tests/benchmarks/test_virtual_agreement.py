"""benchmarks/virtual_agreement.py: the twins' agreement with the recorded sensor, and its skip without data."""

from __future__ import annotations

import sys

from benchmarks import virtual_agreement
from harkd.data import get_dataset
from harkd.data.synth import write_utd_mhad


def test_the_moving_frame_follows_the_simulated_sensor_better_than_the_world_frame(tmp_path):
    write_utd_mhad(tmp_path, subjects=(1,), trials=(1,), actions=(1, 3, 9, 10, 24), seed=0,
                   modalities=("inertial", "skeleton"))
    spec = get_dataset("utd-mhad")
    index = spec.scan(tmp_path)
    found = {frame: virtual_agreement.agreement(spec, index, {1}, {1}, 0.5, frame) for frame in ("segment", "world")}
    assert [len(found["segment"][place]) for place in ("wrist", "thigh")] == [4, 1]
    segment, world = (sum(found[f]["wrist"]) / 4 for f in ("segment", "world"))
    assert segment > 0.7 and segment > world + 0.1


def test_without_data_it_says_so_and_writes_nothing(monkeypatch, capsys):
    monkeypatch.delenv("HARKD_DATA_ROOT", raising=False)
    monkeypatch.setattr(sys, "argv", ["virtual_agreement.py"])
    assert virtual_agreement.main() == 0
    assert capsys.readouterr().out == "skipped: no UTD-MHAD under --root / HARKD_DATA_ROOT (e.g. ../shared/data)\n"
