"""The shipped depth motion map configs end to end on the synthetic UTD-MHAD release, through the CLI: the depth
model alone, the skeleton + depth fusion, and the depth model as VSKD teacher, ensemble member and SAKDN student."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs" / "utd_mhad"
SHORT = ["train.epochs=2", "train.batch_size=8", "schedule.warmup_epochs=1", "data.val_subjects=null",
         "data.val_fraction=0"]
SMALL_DMM = ["data.modalities.depth.size=32"]


def _run(command: str, config: str, run_dir: Path, root: Path, *extra: str) -> Path:
    from harkd.cli.main import main

    args = [command, str(CONFIGS / config), "--run-dir", str(run_dir), "--evaluate", "none"]
    for override in [*SHORT, f"data.root={root}", *extra]:
        args += ["--set", override]
    assert main(args) == 0, f"harkd {command} {config} failed"
    return run_dir


def _losses(run_dir: Path) -> list[float]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line)["train_loss"] for line in lines if line.strip()]


@pytest.fixture(scope="module")
def vision_runs(synth_utd, tmp_path_factory):
    torch.set_num_threads(1)
    work = tmp_path_factory.mktemp("vision")
    runs = {"depth": _run("train", "depth_dmm.yaml", work / "depth", synth_utd, *SMALL_DMM),
            "skeleton": _run("train", "skeleton_stgcn_aug.yaml", work / "skeleton", synth_utd),
            "accgyro": _run("train", "accgyro_sakdn_teacher.yaml", work / "accgyro", synth_utd,
                            "semantic.source=none")}
    return work, runs


def test_depth_motion_map_model_trains_and_evaluates(vision_runs, synth_utd):
    from harkd.engine.evaluate import evaluate_run

    _, runs = vision_runs
    losses = _losses(runs["depth"])
    assert len(losses) == 2 and np.isfinite(losses).all()
    result = evaluate_run(runs["depth"], "test", "last")
    assert 0.0 <= result["accuracy"] <= 1.0
    config = (runs["depth"] / "config.yaml").read_text()
    assert "dmm_resnet" in config and "crop: body" in config


def test_skeleton_depth_fusion_trains_and_teaches_the_accelerometer_student(vision_runs, synth_utd):
    work, _ = vision_runs
    fusion = _run("train", "skel_depth_fusion.yaml", work / "fusion", synth_utd, *SMALL_DMM)
    assert np.isfinite(_losses(fusion)).all()
    student = _run("distill", "distill/skel2acc_kd.yaml", work / "fusion_student", synth_utd,
                   f"teachers.0.run={fusion}")
    assert np.isfinite(_losses(student)).all()


@pytest.mark.parametrize("config", ["distill/depth2acc_kd.yaml", "distill/depth2acc_dask.yaml"])
def test_depth_motion_map_teacher_distils_into_the_accelerometer_student(vision_runs, synth_utd, config):
    work, runs = vision_runs
    run = _run("distill", config, work / Path(config).stem, synth_utd, f"teachers.0.run={runs['depth']}")
    assert np.isfinite(_losses(run)).all()


def test_skeleton_depth_ensemble_teaches_the_accelerometer_student(vision_runs, synth_utd):
    work, runs = vision_runs
    run = _run("distill", "distill/skeldepth2acc_ensemble.yaml", work / "ensemble", synth_utd,
               f"teachers.0.run={runs['skeleton']}", f"teachers.1.run={runs['depth']}")
    assert np.isfinite(_losses(run)).all()
    import yaml

    teachers = yaml.safe_load((run / "config.yaml").read_text())["teachers"]
    assert [t["run"] for t in teachers] == [str(runs["skeleton"]), str(runs["depth"])]


@pytest.mark.parametrize("config", ["distill/accgyro2dmm_kd.yaml", "distill/accgyro2dmm_sakdn.yaml"])
def test_sensor_teacher_distils_into_the_depth_motion_map_student(vision_runs, synth_utd, config):
    work, runs = vision_runs
    run = _run("distill", config, work / Path(config).stem, synth_utd, f"teachers.0.run={runs['accgyro']}",
               *SMALL_DMM)
    assert np.isfinite(_losses(run)).all()


def test_a_distilled_student_teaches_in_turn(vision_runs, synth_utd):
    """A distill run (its student) is a teacher too: the large-student -> device-student path of issue 15."""
    from harkd.distillation.teachers import load_teacher, read_teacher_run
    from harkd.engine.checkpoint import load_checkpoint

    work, runs = vision_runs
    first = _run("distill", "distill/depth2acc_kd.yaml", work / "first_student", synth_utd,
                 f"teachers.0.run={runs['depth']}")
    second = _run("distill", "distill/skel2acc_kd_mini.yaml", work / "second_student", synth_utd,
                  f"teachers.0.run={first}")
    assert np.isfinite(_losses(second)).all()
    teacher = read_teacher_run(first, "last")
    assert teacher.input == "inertial" and teacher.weights == "student."
    loaded = load_teacher(teacher, {"inertial": torch.zeros(3, 128)}).model
    saved = {k.removeprefix("student."): v for k, v in load_checkpoint(first / "last.pt")["task"].items()
             if k.startswith("student.")}
    assert saved.keys() == loaded.state_dict().keys()
    assert all(torch.equal(v, saved[k]) for k, v in loaded.state_dict().items())
