"""Behaviour pin: shipped configs resolve to the same config.yaml and train with the same first training
losses as when the pin was written (tests/golden/behaviour_pin.json).

The runs go through the CLI (`harkd train` / `harkd distill`) on the synthetic UTD-MHAD release, so the pin
holds whatever the code's inner structure. A deliberate behaviour change regenerates the pin, and the commit
says why:

    PYTHONPATH=src OMP_NUM_THREADS=1 python tests/test_behaviour_pin.py --regenerate
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "behaviour_pin.json"
FIRST_LOSSES = 10
COMMON = ["train.epochs=4", "train.batch_size=4", "schedule.warmup_epochs=1"]
# (run name, command, config under configs/utd_mhad, extra overrides); teachers come before their students.
RUNS = [
    ("skeleton", "train", "skeleton_stgcn.yaml", []),
    ("acc_cnn1d", "train", "acc_cnn1d.yaml", []),
    ("gafboth", "train", "acc_gafboth_aug_resnet18.yaml", []),
    ("depth_tsn", "train", "depth_tsn.yaml", ["data.modalities.depth.frames=4", "data.modalities.depth.size=[32,32]"]),
    ("depth_trn", "train", "depth_trn.yaml", ["data.modalities.depth.frames=4", "data.modalities.depth.size=[32,32]"]),
    ("accgyro_sakdn", "train", "accgyro_sakdn_teacher.yaml", ["semantic.source=none"]),  # no GloVe files here
    ("fusion", "train", "skel_acc_fusion.yaml", []),
    ("skel2acc_kd", "distill", "distill/skel2acc_kd.yaml", ["teachers.0.run={skeleton}"]),
    ("skel2acc_consistent", "distill", "distill/skel2acc_consistent.yaml", ["teachers.0.run={skeleton}"]),
    ("depth2gaf_dask", "distill", "distill/depth2gaf_dask.yaml", ["teachers.0.run={depth_trn}"]),
    ("accgyro2depth_sakdn", "distill", "distill/accgyro2depth_sakdn.yaml",
     ["teachers.0.run={accgyro_sakdn}", "data.modalities.depth.frames=4", "data.modalities.depth.size=[32,32]"]),
    ("pskd_stage2", "distill", "distill/pskd_stage2.yaml", ["teachers.0.run={fusion}"]),
]


def _record_losses(monkeypatch_setattr) -> list[float]:
    """Every ``Tensor.backward`` call's loss value, in order (the training steps)."""
    losses: list[float] = []
    original = torch.Tensor.backward

    def backward(self, *args, **kwargs):
        losses.append(float(self.detach()))
        return original(self, *args, **kwargs)

    monkeypatch_setattr(torch.Tensor, "backward", backward)
    return losses


def run_all(data_root: Path, work: Path, monkeypatch_setattr) -> dict:
    """Train every pinned run; returns {name: {"config": config.yaml text, "losses": [...]}}."""
    from harkd.cli.main import main

    out, dirs = {}, {}
    for name, command, config, extra in RUNS:
        run_dir = work / name
        losses = _record_losses(monkeypatch_setattr)
        overrides = [o.format(**dirs) for o in [*COMMON, f"data.root={data_root}", *extra]]
        args = [command, str(ROOT / "configs" / "utd_mhad" / config), "--run-dir", str(run_dir),
                "--evaluate", "none", "--deterministic"]
        for o in overrides:
            args += ["--set", o]
        assert main(args) == 0, f"{command} {config} failed"
        text = (run_dir / "config.yaml").read_text()
        for path, tag in ((str(work), "<runs>"), (str(data_root), "<data>")):
            text = text.replace(path, tag)
        out[name] = {"config": text, "losses": losses[:FIRST_LOSSES]}
        dirs[name] = str(run_dir)
    return out


@pytest.fixture(scope="module")
def pinned_runs(synth_utd, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    torch.set_num_threads(1)
    try:
        yield run_all(synth_utd, tmp_path_factory.mktemp("pin"), mp.setattr)
    finally:
        mp.undo()


@pytest.mark.parametrize("name", [r[0] for r in RUNS])
def test_config_and_first_losses_are_pinned(pinned_runs, name):
    golden = json.loads(GOLDEN.read_text())[name]
    got = pinned_runs[name]
    assert got["config"] == golden["config"]
    assert len(got["losses"]) == FIRST_LOSSES
    assert got["losses"] == pytest.approx(golden["losses"], rel=1e-4, abs=1e-6)


def test_the_pin_covers_every_run():
    assert sorted(json.loads(GOLDEN.read_text())) == sorted(r[0] for r in RUNS)


if __name__ == "__main__" and "--regenerate" in sys.argv:
    import tempfile

    from harkd.data.synth import write_utd_mhad

    torch.set_num_threads(1)
    mp = pytest.MonkeyPatch()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_utd_mhad(data, subjects=(1, 2, 3, 4), trials=(1, 2), actions=(1, 2, 3, 10, 22, 24), seed=0,
                       depth_size=(60, 80))  # the conftest synth_utd fixture
        pins = run_all(data, Path(tmp) / "runs", mp.setattr)
    mp.undo()
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text(json.dumps(pins, indent=1) + "\n")
    print(f"wrote {GOLDEN} ({len(pins)} runs)")
