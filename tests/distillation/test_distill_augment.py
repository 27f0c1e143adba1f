"""Training-time randomness in distillation: a teacher reading the student's modality sees the
student's (augmented) view and is not cached; a modality only teachers read gets their evaluation view."""

import pytest

from harkd.distillation import distill_experiment, load_distill_config
from harkd.distillation.experiment import resolve_config
from harkd.engine.experiment import load_run
from harkd.errors import ConfigError

from tinyteachers import train_teacher

INERTIAL = {"sensor": "acc", "length": 64, "normalize": True}
AUGMENT = {"scale": 0.1, "rotate": 10}


def _acc_teacher(root, out, inertial):
    return train_teacher(root, out, "inertial", inertial, {"name": "imu_cnn1d", "args": {"widths": [8, 16], "depths": [1, 1]}})


@pytest.fixture(scope="module")
def acc_teacher(synth_utd, tmp_path_factory):
    return _acc_teacher(synth_utd, tmp_path_factory.mktemp("acc-teacher"), INERTIAL)


def _student(root, teacher, tmp_path, inertial):
    return load_distill_config(data={
        "name": "student", "seed": 1, "output_dir": str(tmp_path),
        "data": {"dataset": "utd-mhad", "root": str(root), "modalities": {"inertial": inertial}, "cache": False},
        "teachers": [{"run": str(teacher)}],
        "student": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8, 16], "depths": [1, 1]}},
        "losses": [{"name": "ce"}, {"name": "kd"}], "optim": {"lr": 3e-3}, "train": {"epochs": 1, "batch_size": 8},
    })


def test_student_augmentation_is_shared_with_the_teacher(synth_utd, acc_teacher, tmp_path):
    cfg = _student(synth_utd, acc_teacher, tmp_path, {**INERTIAL, "augment": AUGMENT})
    assert resolve_config(cfg).data.modalities["inertial"]["augment"] == AUGMENT
    run_dir = distill_experiment(cfg, tmp_path / "aug", log=lambda m: None)
    _, _, task, _ = load_run(run_dir, whole=True)
    assert task.cacheable == [False]  # its input is random in training: outputs change every epoch
    plain = distill_experiment(_student(synth_utd, acc_teacher, tmp_path, INERTIAL), tmp_path / "plain",
                               log=lambda m: None)
    assert load_run(plain, whole=True)[2].cacheable == [True]


def test_other_transform_options_still_conflict(synth_utd, acc_teacher, tmp_path):
    cfg = _student(synth_utd, acc_teacher, tmp_path, {**INERTIAL, "length": 32, "augment": AUGMENT})
    with pytest.raises(ConfigError, match="modality 'inertial' is read by teacher"):
        resolve_config(cfg)


def test_a_modality_only_teachers_read_gets_their_evaluation_view(synth_utd, tmp_path):
    teacher = _acc_teacher(synth_utd, tmp_path / "t", {**INERTIAL, "augment": AUGMENT})
    cfg = load_distill_config(data={
        "name": "skel-student", "seed": 1, "output_dir": str(tmp_path),
        "data": {"dataset": "utd-mhad", "root": str(synth_utd), "modalities": {"skeleton": {"frames": 16}},
                 "cache": False},
        "teachers": [{"run": str(teacher)}],
        "student": {"name": "stgcn", "input": "skeleton", "args": {"widths": [8, 16], "strides": [1, 2]}},
        "losses": [{"name": "ce"}, {"name": "kd"}], "optim": {"lr": 3e-3}, "train": {"epochs": 1, "batch_size": 8},
    })
    assert resolve_config(cfg).data.modalities["inertial"] == INERTIAL  # augmentation off for the teacher
    run_dir = distill_experiment(cfg, tmp_path / "s", log=lambda m: None)
    assert load_run(run_dir, whole=True)[2].cacheable == [True]
