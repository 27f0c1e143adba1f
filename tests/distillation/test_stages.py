"""Multi-stage distillation in one config (``stages:``): each stage a run directory started from the last."""

import json
from pathlib import Path

import pytest
import yaml

from harkd.cli.main import main
from harkd.distillation import distill_experiment, load_distill_config
from harkd.distillation.config import read_stage
from harkd.distillation.experiment import stage_config
from harkd.errors import ConfigError

from tinyteachers import INERTIAL, skeleton_teacher

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "utd_mhad" / "distill"


@pytest.fixture(scope="module")
def teacher_run(synth_utd, tmp_path_factory):
    return skeleton_teacher(synth_utd, tmp_path_factory.mktemp("teacher"))


def staged(root, teacher, out, **extra) -> dict:
    return {
        "name": "chain", "seed": 1, "output_dir": str(out),
        "data": {"dataset": "utd-mhad", "root": str(root), "modalities": {"inertial": INERTIAL}, "cache": False},
        "teachers": [{"run": str(teacher)}],
        "student": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8, 16], "depths": [1, 1]}},
        "losses": [{"name": "ce"}, {"name": "kd", "args": {"temperature": 4}}],
        "optim": {"lr": 3e-3}, "schedule": {"name": "cosine", "warmup_epochs": 1}, "train": {"epochs": 2, "batch_size": 8},
        "stages": [{"teachers": [0], "epochs": 2}, {"teachers": [0], "epochs": 1, "losses": [{"name": "ce"}],
                                                     "schedule": {"warmup_epochs": 0}}],
        **extra,
    }


def losses(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k != "seconds"}
            for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("name, loss", [("pskd", "acs"), ("pskd_noacs", "kd")])
def test_pskd_is_one_file_and_each_stage_runs_alone_as_the_chain_runs_it(name, loss):
    cfg = load_distill_config(CONFIGS / f"{name}.yaml")
    teachers = ["runs/utd_skeleton_stgcn", "runs/utd_skel_acc_fusion", "runs/utd_acc_cnn1d"]
    for i, (teacher, warmup) in enumerate(zip(teachers, (3, 1, 1))):
        chained = stage_config(cfg, i, None)
        assert (chained.name, [t.run for t in chained.teachers], chained.train.epochs, chained.schedule.warmup_epochs,
                [t.name for t in chained.losses]) == (f"utd_{name}_stage{i + 1}", [teacher], 20, warmup, ["ce", loss])
        alone = load_distill_config(data=read_stage(CONFIGS / f"{name}.yaml", f"stage{i + 1}"))
        assert alone.to_dict() == chained.to_dict()
        assert "stages" not in alone.to_dict()  # a single-stage config.yaml reads as before


def test_a_stage_alone_keeps_a_folds_teachers_default_checkpoint():
    # overrides apply to the stage as written: an unset checkpoint stays unset, so folds take their own default
    data = read_stage(CONFIGS / "pskd.yaml", "stage2")
    cfg = load_distill_config(data=data, overrides=["teachers.0.run=null", "teachers.0.folds=[a, b]"])
    assert cfg.teachers[0].checkpoint == "last" and cfg.teachers[0].folds == ["a", "b"]


@pytest.mark.parametrize("kind, config, stage, message", [
    ("distill", "pskd.yaml", "stage9", "{path}: --stage stage9: no such stage; its stages are stage1, stage2, stage3"),
    ("distill", "skel2acc_kd.yaml", "stage1", "{path}: --stage stage1: this config has no stages (run it without "
                                              "--stage)"),
    ("train", "../acc_cnn1d.yaml", "stage1", "--stage stage1: a training config has no stages"),
])
def test_a_wrong_stage_name_is_refused_with_the_file_named(kind, config, stage, message, tmp_path):
    from harkd.recipes import run_config

    path = CONFIGS / config
    with pytest.raises(ConfigError) as err:
        run_config(path, tmp_path / "run", kind=kind, stage=stage)
    assert str(err.value) == message.format(path=path)
    assert not (tmp_path / "run").exists()


def test_each_stage_starts_from_the_last_and_the_chain_resumes(synth_utd, teacher_run, tmp_path, capsys):
    path = tmp_path / "chain.yaml"
    path.write_text(yaml.safe_dump(staged(synth_utd, teacher_run, tmp_path / "runs")))
    assert main(["distill", str(path), "--evaluate", "none"]) == 0
    top = tmp_path / "runs" / "chain"
    assert capsys.readouterr().out.strip().splitlines()[-1] == f"run directory: {top / 'stage2'}"
    assert yaml.safe_load((top / "config.yaml").read_text())["stages"][1]["losses"] == [
        {"name": "ce", "weight": 1.0, "student": "logits", "teacher": "logits", "teacher_index": 0,
         "teacher_branches": None, "ensemble": False, "args": {}}]
    second = yaml.safe_load((top / "stage2" / "config.yaml").read_text())
    assert second["name"] == "chain_stage2" and second["init_from"] == str(top / "stage1") and "stages" not in second
    assert second["train"]["epochs"] == 1 and second["schedule"]["warmup_epochs"] == 0

    # the same as the two stages run by hand, stage 2 with init_from
    cfg = load_distill_config(path)
    first = distill_experiment(stage_config(cfg, 0, None), tmp_path / "hand1", log=lambda m: None)
    by_hand = distill_experiment(stage_config(cfg, 1, first), tmp_path / "hand2", log=lambda m: None)
    assert losses(top / "stage1") == losses(first) and losses(top / "stage2") == losses(by_hand)
    # and as one stage alone from the command line (--stage, init_from set by the user)
    alone = tmp_path / "alone"
    assert main(["distill", str(path), "--stage", "stage2", "--set", f"init_from={first}", "--run-dir", str(alone),
                 "--evaluate", "none"]) == 0
    assert losses(alone) == losses(by_hand)

    # stopped in stage 2: the rerun trains stage 2 only, from stage 1's weights
    stage1 = (top / "stage1" / "last.pt").read_bytes()
    expected = losses(top / "stage2")
    for name in ("last.pt", "best.pt", "metrics.jsonl", "run.json"):
        (top / "stage2" / name).unlink()
    assert main(["distill", str(path), "--evaluate", "none"]) == 0
    assert (top / "stage1" / "last.pt").read_bytes() == stage1 and len(losses(top / "stage1")) == 2
    assert losses(top / "stage2") == expected


@pytest.mark.parametrize("extra, message", [
    ({"stages": [{"teachers": [1], "epochs": 1}]}, "config: stages[0].teachers: 1 is not an index of the 1 teachers"),
    ({"stages": []}, "config: stages: an empty list names no stage; remove the key for a single-stage run"),
    ({"train": {"refit": "last"}},
     "config: train.refit refits one run; a multi-stage run ('stages') cannot: remove train.refit"),
    ({"init_from": "runs/x"}, "config: init_from starts a single-stage run; in a multi-stage run stage 1 starts from "
                              "scratch and every later stage from the one before: remove init_from"),
    ({"stages": [{"teachers": [0], "epochs": 1, "name": "a"}, {"teachers": [0], "epochs": 1, "name": "a"}]},
     "config: stages[1].name: 'a' names an earlier stage too; give each stage its own"),
    ({"stages": [{"teachers": [], "epochs": 1}]},
     "config key 'stages[0]': teachers: a stage needs at least one teacher (an index into the config's teachers)"),
    ({"stages": [{"teachers": [0], "epochs": 0}]}, "config key 'stages[0].epochs': must be in [1, 100000], got 0"),
    ({"stages": [{"teachers": [0], "epochs": 10**12}]},
     "config key 'stages[0].epochs': must be in [1, 100000], got 1000000000000"),
    ({"stages": [{"teachers": [0], "epochs": 1, "bogus": 1}]},
     "unknown config key 'bogus' (valid: epochs, losses, name, schedule, teachers) in 'stages[0]'"),
    ({"stages": [{"teachers": [0], "epochs": 1, "schedule": {"warmup": 1}}]},
     "stages[0]: unknown config key 'warmup'; did you mean 'warmup_epochs'? (valid: gamma, milestones, "
     "min_lr_ratio, name, warmup_epochs) in 'schedule'"),
])
def test_a_wrong_stage_is_refused_before_any_training(synth_utd, teacher_run, tmp_path, extra, message):
    data = staged(synth_utd, teacher_run, tmp_path / "runs")
    if "train" in extra:
        extra = {"train": {**data["train"], **extra["train"]}}
    with pytest.raises(ConfigError) as err:
        distill_experiment(load_distill_config(data={**data, **extra}), log=lambda m: None)
    assert str(err.value) == message
    assert not (tmp_path / "runs").exists()
