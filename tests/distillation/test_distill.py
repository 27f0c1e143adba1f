"""Distillation end to end on synthetic data: teacher run -> paired DistillTask -> student run."""

import json
import re
import shutil

import pytest
import torch
import yaml

from harkd.cli.main import main
from harkd.distillation import DistillTask, distill_experiment, load_distill_config
from harkd.engine.config import load_config
from harkd.engine.experiment import load_run, train_experiment
from harkd.errors import ConfigError

from tinyteachers import INERTIAL, SKELETON, skeleton_teacher



@pytest.fixture(scope="module")
def teacher_run(synth_utd, tmp_path_factory):
    return skeleton_teacher(synth_utd, tmp_path_factory.mktemp("teacher"))


def distill_data(root, teacher, tmp_path, losses, **extra):
    return {
        "name": "student", "seed": 1, "output_dir": str(tmp_path),
        "data": {"dataset": "utd-mhad", "root": str(root), "modalities": {"inertial": INERTIAL}, "cache": False},
        "teachers": [{"run": str(teacher)}],
        "student": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8, 16], "depths": [1, 1]}},
        "losses": losses,
        "optim": {"lr": 3e-3}, "train": {"epochs": 2, "batch_size": 8}, **extra,
    }


KD_FITNET = [{"name": "ce"}, {"name": "kd", "weight": 0.5, "args": {"temperature": 4}},
             {"name": "fitnet", "weight": 0.1, "student": "pool", "teacher": "pool"}]


def test_distill_cli_end_to_end(synth_utd, teacher_run, tmp_path, capsys):
    path = tmp_path / "distill.yaml"
    path.write_text(yaml.safe_dump(distill_data(synth_utd, teacher_run, tmp_path, KD_FITNET)))
    assert main(["distill", str(path)]) == 0
    run_dir = tmp_path / "student"
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["kind"] == "distill"
    calibration = json.loads((run_dir / "teachers.json").read_text())  # written by `harkd distill` itself
    assert [t["name"] for t in calibration["teachers"]] == ["teacher"]
    assert 0 <= calibration["teachers"][0]["mean_p_true"] <= 1
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["data"]["modalities"]["skeleton"] == SKELETON  # the teacher's transforms, resolved
    teacher_meta = json.loads((teacher_run / "run.json").read_text())
    assert meta["normalization"]["skeleton"] == teacher_meta["normalization"]["skeleton"]
    records = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {"train_ce", "train_kd", "train_fitnet", "train_loss"} <= set(records[-1])
    ckpt = torch.load(run_dir / "last.pt", weights_only=False)
    assert not any(k.startswith("_teachers") for k in ckpt["task"])  # teachers are not checkpointed
    assert any(k.startswith("losses.fitnet") for k in ckpt["task"])  # the learned regressor is
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--json", "--no-plots"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["num_samples"] == len(meta["split"]["test"])


def test_batches_pair_teacher_and_student_inputs_by_recording(synth_utd, teacher_run, tmp_path):
    """The student input and the teacher input of every batch row come from the same recording."""
    from harkd.distillation.experiment import DISTILL
    from harkd.engine.recipe import prepare_plan

    prepared = prepare_plan(DISTILL.plan(load_distill_config(data=distill_data(synth_utd, teacher_run, tmp_path,
                                                                                KD_FITNET))))
    train = prepared.datasets["train"]
    loader = torch.utils.data.DataLoader(train, batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(0))
    batch = next(iter(loader))
    for row, key in enumerate(batch["key"]):
        alone = train[train.keys.index(key)]
        assert torch.equal(batch["inertial"][row], alone["inertial"])
        assert torch.equal(batch["skeleton"][row], alone["skeleton"])


def test_teacher_is_frozen_and_cache_reuses_outputs(synth_utd, teacher_run, tmp_path):
    run_dir = distill_experiment(load_distill_config(data=distill_data(synth_utd, teacher_run, tmp_path, KD_FITNET)),
                                 tmp_path / "r", log=lambda m: None)
    _, _, task, prepared = load_run(run_dir, whole=True)
    assert isinstance(task, DistillTask)
    teacher = task.teachers[0]
    before = [p.clone() for p in teacher.parameters()]
    task.train()
    assert not teacher.training and all(not p.requires_grad for p in teacher.parameters())
    batch = torch.utils.data.default_collate([prepared.datasets["train"][i] for i in range(4)])
    first = task(batch)
    first["loss"].backward()
    assert all(p.grad is None for p in teacher.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters()))
    assert task.cache.misses == 4 and task.cache.hits == 0
    cached = task.teacher_outputs(batch)
    assert task.cache.hits == 4
    task.cacheable = [False]
    fresh = task.teacher_outputs(batch)
    for name in cached[0]:
        torch.testing.assert_close(cached[0][name], fresh[0][name])


@pytest.mark.parametrize("losses, message", [
    ([{"name": "kd", "teacher": "nope"}], "losses[0].teacher: teacher 0 has no feature 'nope'"),
    ([{"name": "fitnet", "student": "layer9"}], "losses[0].student: the student has no feature 'layer9'"),
    ([{"name": "kd", "teacher_index": 3}], "losses[0].teacher_index 3 is out of range (1 teachers)"),
    ([{"name": "kdd"}], "unknown loss 'kdd'; did you mean 'kd'?"),
])
def test_bad_loss_terms_are_clear(synth_utd, teacher_run, tmp_path, losses, message):
    cfg = load_distill_config(data=distill_data(synth_utd, teacher_run, tmp_path, losses))
    with pytest.raises(ConfigError, match=re.escape(message)):
        distill_experiment(cfg, tmp_path / "bad", log=lambda m: None)


@pytest.mark.parametrize("weight, message", [
    (-1, "config key 'losses[1].weight': must be in [0, 1000000], got -1.0"),  # a negative weight maximises the term
    (1e300, "config key 'losses[1].weight': must be in [0, 1000000], got 1e+300"),
])
def test_loss_weights_are_bounded_when_the_config_is_read(tmp_path, weight, message):
    data = distill_data(tmp_path, tmp_path / "teacher", tmp_path, [{"name": "ce"}, {"name": "kd", "weight": weight}])
    with pytest.raises(ConfigError) as err:
        load_distill_config(data=data)
    assert str(err.value) == message


def test_teacher_trained_on_test_subjects_is_refused(synth_utd, teacher_run, tmp_path):
    leaky = tmp_path / "leaky-teacher"
    shutil.copytree(teacher_run, leaky)
    meta = json.loads((leaky / "run.json").read_text())
    meta["split"]["train"] += meta["split"]["test"][:3]  # as if trained under another protocol
    (leaky / "run.json").write_text(json.dumps(meta))
    cfg = load_distill_config(data=distill_data(synth_utd, leaky, tmp_path, [{"name": "kd"}]))
    with pytest.raises(ConfigError, match=r"trained or selected on 3 of the student's test recordings"):
        distill_experiment(cfg, tmp_path / "leak", log=lambda m: None)


def test_conflicting_teacher_transform_and_missing_teacher(synth_utd, teacher_run, tmp_path):
    data = distill_data(synth_utd, teacher_run, tmp_path, [{"name": "kd"}])
    data["data"]["modalities"]["skeleton"] = {"frames": 8}
    with pytest.raises(ConfigError, match=re.escape("modality 'skeleton' is read by teacher")):
        distill_experiment(load_distill_config(data=data), tmp_path / "c", log=lambda m: None)
    data = distill_data(synth_utd, tmp_path / "no-such-run", tmp_path, [{"name": "kd"}])
    with pytest.raises(Exception, match=r"no-such-run/config.yaml: teacher run is incomplete"):
        distill_experiment(load_distill_config(data=data), tmp_path / "m", log=lambda m: None)


def test_multi_teacher_acs_term_sees_every_teacher(synth_utd, teacher_run, tmp_path):
    data = distill_data(synth_utd, teacher_run, tmp_path, [{"name": "ce"}, {"name": "acs", "teacher_index": "all"}])
    data["teachers"] = [{"run": str(teacher_run)}, {"run": str(teacher_run), "checkpoint": "last"}]
    run_dir = distill_experiment(load_distill_config(data=data), tmp_path / "acs", log=lambda m: None)
    record = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["train_acs"] > 0
    _, _, task, _ = load_run(run_dir, whole=True)
    assert len(task.teachers) == 2 and task.terms[1].teachers == (0, 1)


def test_fused_teacher_and_progressive_stage(synth_utd, teacher_run, tmp_path):
    """PSKD building blocks: a late-fusion skeleton+accelerometer teacher, then a stage started from the last."""
    fused_cfg = load_config(data={
        "name": "fused", "seed": 0, "output_dir": str(tmp_path),
        "data": {"dataset": "utd-mhad", "root": str(synth_utd), "cache": False,
                 "modalities": {"skeleton": SKELETON, "inertial": INERTIAL}},
        "model": {"name": "late_fusion", "input": ["skeleton", "inertial"], "args": {"branches": {
            "skeleton": {"name": "stgcn", "args": {"widths": [8, 16], "strides": [1, 2]}},
            "inertial": {"name": "imu_cnn1d", "args": {"widths": [8, 16], "depths": [1, 1]}}}}},
        "optim": {"lr": 3e-3}, "train": {"epochs": 2, "batch_size": 8},
    })
    fused = train_experiment(fused_cfg, log=lambda m: None)
    stage1 = distill_data(synth_utd, fused, tmp_path, [{"name": "ce"}, {"name": "kd"},
                                                       {"name": "fitnet", "student": "pool", "teacher": "inertial.pool"}])
    stage1_dir = distill_experiment(load_distill_config(data=stage1), tmp_path / "stage1", log=lambda m: None)
    stage2 = distill_data(synth_utd, teacher_run, tmp_path, [{"name": "ce"}, {"name": "kd"}], init_from=str(stage1_dir))
    stage2["train"]["epochs"] = 1
    start = torch.load(stage1_dir / "best.pt", weights_only=False)["task"]
    cfg2 = load_distill_config(data=stage2)
    from harkd.distillation.experiment import DISTILL, build_distill_task
    from harkd.engine.recipe import prepare_plan

    plan = DISTILL.plan(cfg2)
    task = build_distill_task(plan, prepare_plan(plan))
    for name, value in task.student.state_dict().items():
        torch.testing.assert_close(value, start[f"student.{name}"])
    bad = distill_data(synth_utd, teacher_run, tmp_path, [{"name": "ce"}], init_from=str(fused))
    with pytest.raises(ConfigError, match="init_from .*: its model does not match the student"):
        distill_experiment(load_distill_config(data=bad), tmp_path / "bad-init", log=lambda m: None)
