"""Teacher feedback: a teacher near chance on the recordings it teaches is warned about; a missing
teacher run names the command (and config) that trains it."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from harkd.cli.main import main
from harkd.distillation.teachers import config_writing, training_command, warn_near_chance
from harkd.engine.checkpoint import atomic_save, load_checkpoint
from harkd.errors import DataWarning

from tinyteachers import INERTIAL, skeleton_teacher

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def teacher_run(synth_utd, tmp_path_factory):
    return skeleton_teacher(synth_utd, tmp_path_factory.mktemp("teacher"))


def distill_yaml(path: Path, teacher: dict, root=None, out="runs") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({
        "name": "student", "seed": 0, "output_dir": str(out),
        "data": {"dataset": "utd-mhad", "root": None if root is None else str(root),
                 "modalities": {"inertial": INERTIAL}, "cache": False},
        "teachers": [teacher],
        "student": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8], "depths": [1]}},
        "losses": [{"name": "ce"}, {"name": "kd"}], "train": {"epochs": 1, "batch_size": 8},
    }))
    return path


def teacher_yaml(path: Path, name: str, **extra) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"name": name, "data": {"modalities": {"skeleton": {"frames": 16}}},
                                    "model": {"name": "stgcn", "input": "skeleton"}, **extra}))
    return path


def test_a_teacher_near_chance_is_one_warning(teacher_run, synth_utd, tmp_path, capsys):
    blank = tmp_path / "blank_teacher"
    shutil.copytree(teacher_run, blank)
    ckpt = load_checkpoint(blank / "best.pt")
    ckpt["task"] = {k: v.zero_() if v.is_floating_point() else v for k, v in ckpt["task"].items()}
    atomic_save(ckpt, blank / "best.pt")  # every logit 0: always the first class
    config = distill_yaml(tmp_path / "kd.yaml", {"run": str(blank)}, synth_utd, tmp_path / "runs")
    assert main(["distill", str(config), "--evaluate", "none"]) == 0
    teacher, = json.loads((tmp_path / "runs" / "student" / "teachers.json").read_text())["teachers"]
    n = teacher["recordings"]
    assert teacher["accuracy"] == pytest.approx(1 / 6)  # the synthetic set: 6 actions, as many recordings each
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("harkd: warning:")]
    assert warnings == [f"harkd: warning: teacher {blank} is near chance on the {n} training recordings it teaches: "
                        "accuracy 16.7%, and always answering the most frequent class scores 16.7%; its soft targets "
                        f"carry little knowledge: check how it trained ({blank / 'metrics.jsonl'})"]


def test_near_chance_is_measured_against_the_most_frequent_class():
    labels = [0] * 6 + [1] * 2 + [2] * 2  # always answering class 0 scores 60 %
    report = {"teachers": [{"run": "runs/a", "recordings": 10, "accuracy": 0.63},  # under 60 % + 10 % of 40 %
                           {"run": "runs/b", "recordings": 10, "accuracy": 0.65},
                           {"run": "runs/c", "recordings": 0, "note": "cross-fitted teacher: no stored logits"}]}
    with pytest.warns(DataWarning) as caught:
        warn_near_chance(report, labels)
    assert [str(w.message) for w in caught] == [
        "teacher runs/a is near chance on the 10 training recordings it teaches: accuracy 63.0%, and always "
        "answering the most frequent class scores 60.0%; its soft targets carry little knowledge: check how it "
        "trained (runs/a/metrics.jsonl)"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A working directory with configs/ (teacher configs) and no runs yet."""
    monkeypatch.chdir(tmp_path)
    teacher_yaml(tmp_path / "configs" / "utd" / "skel_teacher.yaml", "skel_teacher")
    teacher_yaml(tmp_path / "configs" / "utd" / "elsewhere.yaml", "skel_other", output_dir="elsewhere")
    return tmp_path


@pytest.mark.parametrize("teacher, message", [
    ({"run": "runs/skel_teacher"},  # found under configs/ by name and output_dir
     "runs/skel_teacher/config.yaml: teacher run is incomplete: not found; train it with: "
     "harkd train configs/utd/skel_teacher.yaml --run-dir runs/skel_teacher"),
    ({"run": "runs/skel_teacher_select-on-test"},
     "runs/skel_teacher_select-on-test/config.yaml: teacher run is incomplete: not found; train it with: "
     "harkd train configs/utd/skel_teacher.yaml --run-dir runs/skel_teacher_select-on-test --select-on-test"),
    ({"run": "runs/other", "config": "configs/utd/skel_teacher.yaml"},  # declared by the teacher entry
     "runs/other/config.yaml: teacher run is incomplete: not found; train it with: "
     "harkd train configs/utd/skel_teacher.yaml --run-dir runs/other"),
    ({"run": "runs/skel_other"},  # that name writes elsewhere/skel_other
     "runs/skel_other/config.yaml: teacher run is incomplete: not found; train it with harkd train CONFIG "
     "--run-dir runs/skel_other (no config under ./configs writes runs/skel_other; a teacher entry's 'config:' "
     "names it)"),
    ({"folds": ["runs/skel_teacher", "runs/fold_b"]},
     "runs/skel_teacher/config.yaml: teacher run is incomplete: not found; train it with: "
     "harkd train configs/utd/skel_teacher.yaml --run-dir runs/skel_teacher"),
])
def test_a_missing_teacher_run_names_the_command_that_trains_it(project, capsys, teacher, message):
    assert main(["distill", str(distill_yaml(project / "kd.yaml", teacher))]) == 2
    assert capsys.readouterr().err == f"harkd: error: {message}\n"


def test_a_started_teacher_run_is_resumed_from_its_own_config(project, teacher_run, capsys):
    shutil.copytree(teacher_run, project / "runs" / "t")
    (project / "runs" / "t" / "best.pt").unlink()  # killed before its first validated epoch
    assert main(["distill", str(distill_yaml(project / "kd.yaml", {"run": "runs/t"}))]) == 2
    assert capsys.readouterr().err == ("harkd: error: runs/t/best.pt: teacher run is incomplete: not found; train it "
                                       "with: harkd train runs/t/config.yaml --run-dir runs/t\n")


def test_every_teacher_of_the_shipped_distill_configs_has_a_shipped_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no runs here, whatever the checkout holds
    (tmp_path / "configs").symlink_to(REPO / "configs")
    checked = 0
    for path in sorted((REPO / "configs").rglob("distill/*.yaml")):
        for teacher in yaml.safe_load(path.read_text()).get("teachers", []):
            for run in [teacher["run"]] if "run" in teacher else teacher["folds"]:
                assert config_writing(Path(run)) is not None, f"{path.name}: no shipped config trains {run}"
                checked += 1
    assert checked >= 30
    assert training_command(Path("runs/utd_skeleton_stgcn_aug_all")) == (
        "harkd train configs/utd_mhad/skeleton_stgcn_aug_all.yaml --run-dir runs/utd_skeleton_stgcn_aug_all")
    assert training_command(Path("runs/utd_skeleton_stgcn_aug_s2")) == (  # a teacher of another seed (ensembles)
        "harkd train configs/utd_mhad/skeleton_stgcn_aug.yaml --set seed=2 --run-dir runs/utd_skeleton_stgcn_aug_s2")
    assert config_writing(Path("runs/utd_no_such_config_s2")) is None
    assert training_command(Path("runs/utd_skel2acc_patient")) == (  # a distilled student teaching in turn
        "harkd distill configs/utd_mhad/distill/skel2acc_patient.yaml --run-dir runs/utd_skel2acc_patient")
