"""The Python API (``harkd.train``, ``harkd.distill``, ...) on the synthetic UTD-MHAD data."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import harkd
from harkd.engine.config import DataConfig, ExperimentConfig, ModelConfig, OptimConfig
from harkd.errors import ConfigError, DataError, InputError

ROOT = Path(__file__).resolve().parents[1]
SKELETON = {"frames": 16, "normalize": True}
INERTIAL = {"sensor": "acc", "length": 64}
STGCN = {"name": "stgcn", "input": "skeleton", "args": {"widths": [8, 16], "strides": [1, 2]}}
CNN = {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8, 16], "depths": [1, 1]}}


def data(root) -> dict:
    return {"dataset": "utd-mhad", "root": str(root), "modalities": {"skeleton": SKELETON, "inertial": INERTIAL},
            "cache": False}


def student_config(root, out, name="student") -> dict:
    return {"name": name, "output_dir": str(out), "data": data(root), "student": CNN, "seed": 1,
            "losses": [{"name": "ce"}, {"name": "kd", "args": {"temperature": 4}}],
            "train": {"epochs": 1, "batch_size": 8}}


@pytest.fixture(scope="module")
def teacher(synth_utd, tmp_path_factory):
    out = tmp_path_factory.mktemp("api-teacher")
    return harkd.train({"name": "teacher", "output_dir": str(out), "data": data(synth_utd), "model": STGCN,
                        "train": {"epochs": 1, "batch_size": 8}}, log=lambda m: None, progress=False)


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_readme_example_distils_a_student(synth_utd, tmp_path, monkeypatch, capsys):
    code = readme_example()
    assert len(code.strip().splitlines()) <= 15
    (tmp_path / "synthetic-utd").symlink_to(synth_utd)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {})
    accuracy = float(capsys.readouterr().out.strip().splitlines()[-1])
    assert 0 <= accuracy <= 1
    meta = json.loads((tmp_path / "runs" / "acc_student" / "run.json").read_text())
    assert meta["kind"] == "distill"
    saved = yaml.safe_load((tmp_path / "runs" / "acc_student" / "config.yaml").read_text())
    assert saved["teachers"] == [{"run": "runs/skeleton_teacher", "folds": None, "checkpoint": "best", "name": None,
                                 "config": None}]


def test_the_readme_examples_dataset_command_writes_what_the_example_reads(tmp_path):
    """The command in the example's comment, on one action and trial: a valid `harkd synth` call, no depth."""
    from harkd.cli.main import main

    command = re.search(r"# (harkd synth .*)", readme_example()).group(1).split()
    assert command[:4] == ["harkd", "synth", "utd-mhad", "synthetic-utd"] and "--no-depth" in command
    out = tmp_path / "synthetic-utd"
    assert main([*command[1:3], str(out), *command[4:], "--actions", "1", "--trials", "1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["Inertial", "Skeleton"]
    assert len(list((out / "Skeleton").glob("*.mat"))) == 4  # --subjects 4


WRONG_KEY = "unknown config key 'bogus' (valid: lr, momentum, name, nesterov, weight_decay) in 'optim'"
WRONG_LR = "config key 'optim.lr': must be in (0, 1000000], got -1.0"


def train_dict(root, optim) -> dict:
    return {"name": "t", "data": {"dataset": "utd-mhad", "root": str(root), "modalities": {"inertial": INERTIAL}},
            "model": {"name": "imu_cnn1d", "input": "inertial"}, "optim": optim}


def test_a_config_is_validated_alike_as_dict_yaml_and_dataclass(synth_utd, tmp_path):
    bad = train_dict(synth_utd, {"lr": 1e-3, "bogus": 1})
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    for form in (bad, path, str(path)):
        with pytest.raises(ConfigError) as err:
            harkd.train(form, tmp_path / "run")
        assert str(err.value) == WRONG_KEY
    negative = train_dict(synth_utd, {"lr": -1.0})
    path.write_text(yaml.safe_dump(negative))
    dataclass_form = ExperimentConfig(name="t", data=DataConfig(root=str(synth_utd), modalities={"inertial": INERTIAL}),
                                      model=ModelConfig(name="imu_cnn1d", input="inertial"), optim=OptimConfig(lr=-1.0))
    for form in (negative, path, dataclass_form):
        with pytest.raises(ConfigError) as err:
            harkd.train(form, tmp_path / "run")
        assert str(err.value) == WRONG_LR
    assert not (tmp_path / "run").exists()


def test_a_config_of_another_form_is_refused():
    with pytest.raises(InputError) as err:
        harkd.train(42)
    assert str(err.value) == "config must be a YAML file path, a dict or a config dataclass, got int"


def test_a_training_yaml_given_to_distill_names_the_command(synth_utd, tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(train_dict(synth_utd, {"lr": 1e-3})))
    with pytest.raises(ConfigError) as err:
        harkd.distill(path)
    assert str(err.value) == f"{path} is a training config (it has 'model'): run it with harkd.train(\"{path}\")"


def test_a_module_teacher_teaches_like_its_run_directory(synth_utd, teacher, tmp_path):
    from harkd.recipes import load_run

    module = load_run(teacher)[2].model
    stats = json.loads((teacher / "run.json").read_text())["normalization"]["skeleton"]
    by_run = harkd.distill(student_config(synth_utd, tmp_path, "by_run"), teachers=[teacher], log=lambda m: None)
    by_module = harkd.distill(student_config(synth_utd, tmp_path, "by_module"), log=lambda m: None,
                              teachers=[harkd.Teacher(module, "skeleton", normalization=stats, name="skel")])
    # the same outputs on every training recording (the students differ: a run teacher is built, drawing
    # from the seeded generator, before its weights are loaded; a module teacher is not)
    rows = [json.loads((run / "teachers.json").read_text())["teachers"][0] for run in (by_run, by_module)]
    assert [r.pop("name") for r in rows] == ["teacher", "skel"] and rows[1].pop("run") == str(by_module / "teachers/0")
    rows[0].pop("run")
    assert rows[0].pop("input") == rows[1].pop("input") == "skeleton"
    assert rows[0] == pytest.approx(rows[1], rel=1e-5)
    saved = yaml.safe_load((by_module / "config.yaml").read_text())["teachers"]
    assert saved == [{"run": str(by_module / "teachers" / "0"), "folds": None, "checkpoint": "best", "name": "skel",
                      "config": None}]
    # the run loads again (the saved module rebuilds the teacher), evaluates and exports through its student
    assert harkd.evaluate(by_module)["num_samples"] > 0
    manifest = harkd.export(by_module, tmp_path / "student.pt")
    assert manifest["run"]["kind"] == "distill" and manifest["parity"]["passed"]
    # resuming with another teacher module is refused before anything is trained
    other = harkd.create_model("stgcn", 27, in_chans=3, widths=[8, 16], strides=[1, 2])
    with pytest.raises(InputError) as err:
        harkd.distill(student_config(synth_utd, tmp_path, "by_module"),
                      teachers=[harkd.Teacher(other, "skeleton", normalization=stats, name="skel")])
    assert str(err.value) == (f"{by_module / 'teachers' / '0'} holds another teacher 'skel' (weights or inputs differ) "
                              "from an earlier run: resume with the same teacher, or choose another run_dir")


class NoLogits(torch.nn.Module):
    feature_names = ("pool",)

    def forward_features(self, x):
        return x

    def forward_head(self, x, pre_logits=False):
        return x

    def forward_intermediates(self, x, names):
        return {"pool": x}


def test_module_teachers_that_cannot_teach_are_refused(synth_utd, tmp_path):
    cfg = student_config(synth_utd, tmp_path)
    cases = [
        (torch.nn.Linear(3, 27), "teachers[0]: a module teacher needs the modality it reads: pass "
                                 "harkd.Teacher(module, modality=...) (e.g. modality='skeleton')"),
        (harkd.Teacher(torch.nn.Linear(3, 27), "skeleton"),
         "teachers[0]: Linear does not follow harkd's model contract (forward_features, forward_head, "
         "forward_intermediates, feature_names, with 'logits' among the feature names); it lacks forward_features, "
         "forward_head, forward_intermediates, feature_names: build it with harkd.create_model or subclass "
         "harkd.models.ActionModel"),
        (harkd.Teacher(harkd.create_model("stgcn", 27, in_chans=3, widths=[8, 16], strides=[1, 2]), "depth"),
         "teachers[0]: the module teacher reads 'depth', which data.modalities does not list: pass "
         "harkd.Teacher(..., transform={...}) or add data.modalities.depth to the config"),
        (3, "teachers[0]: expected a run directory, a teacher config entry or harkd.Teacher, got int"),
        (harkd.Teacher(3, "skeleton"), "teachers[0]: expected a torch.nn.Module (or a run directory), got int"),
        (harkd.Teacher(NoLogits(), "skeleton"),
         "teachers[0]: NoLogits does not follow harkd's model contract (forward_features, forward_head, "
         "forward_intermediates, feature_names, with 'logits' among the feature names); it lacks a 'logits' entry "
         "in feature_names: build it with harkd.create_model or subclass harkd.models.ActionModel"),
    ]
    for given, message in cases:
        with pytest.raises(InputError) as err:
            harkd.distill(cfg, teachers=[given])
        assert str(err.value) == message
    with pytest.raises(InputError) as err:
        harkd.distill(cfg, teachers=[])
    assert str(err.value) == "teachers must be a non-empty list of run directories or harkd.Teacher, got []"
    assert not (tmp_path / "student").exists()


def test_a_teacher_scoring_other_classes_is_refused(synth_utd, tmp_path):
    wrong = harkd.create_model("stgcn", 5, in_chans=3, widths=[8, 16], strides=[1, 2])
    with pytest.raises(ConfigError) as err:
        harkd.distill(student_config(synth_utd, tmp_path), teachers=[harkd.Teacher(wrong, "skeleton")],
                      log=lambda m: None)
    assert str(err.value) == (f"teacher 0 ({tmp_path / 'student' / 'teachers' / '0'}) gives logits of shape (5,), "
                              "the student (27,): a teacher must score the student's classes")
    # the failed run leaves no teacher folder behind: the next try, with a teacher of the right classes, runs
    assert not (tmp_path / "student" / "teachers").exists()
    right = harkd.create_model("stgcn", 27, in_chans=3, widths=[8, 16], strides=[1, 2])
    run = harkd.distill(student_config(synth_utd, tmp_path), teachers=[harkd.Teacher(right, "skeleton")],
                        log=lambda m: None)
    assert (run / "last.pt").is_file() and (run / "teachers" / "0" / "teacher.json").is_file()


def test_a_teacher_folder_of_a_run_that_never_trained_is_replaced(synth_utd, tmp_path):
    """A folder left by a try that stopped before its first checkpoint (a killed process) blocks nothing."""
    from harkd.distillation.teachers import save_module_teacher

    stale = harkd.create_model("stgcn", 27, in_chans=3, widths=[8, 16], strides=[1, 2])
    save_module_teacher(tmp_path / "student" / "teachers" / "0", stale, "skeleton", SKELETON, None, "teacher0")
    (tmp_path / "student" / "teachers" / ".0.partial").mkdir()  # a save cut short
    fresh = harkd.create_model("stgcn", 27, in_chans=3, widths=[8, 16], strides=[1, 2])
    run = harkd.distill(student_config(synth_utd, tmp_path), teachers=[harkd.Teacher(fresh, "skeleton")],
                        log=lambda m: None)
    saved = torch.load(run / "teachers" / "0" / "module.pt", weights_only=False).state_dict()
    assert all(torch.equal(saved[k], v) for k, v in fresh.state_dict().items())


def test_the_registries_are_listed():
    from harkd.data import available_datasets
    from harkd.losses import list_losses
    from harkd.models import list_models

    assert harkd.list_models() == list_models() and "imu_cnn1d" in harkd.list_models()
    assert harkd.list_losses() == list_losses() and "kd" in harkd.list_losses()
    assert harkd.list_datasets() == available_datasets() and "utd-mhad" in harkd.list_datasets()
    model = harkd.create_model("imu_cnn1d", 27, in_chans=3)
    assert model(torch.zeros(2, 3, 64)).shape == (2, 27)


def test_import_harkd_is_cheap_and_its_face_is_plain_functions():
    code = ("import sys, types, harkd; cheap = 'torch' not in sys.modules; import harkd.distillation, harkd.deploy; "
            "from harkd.distillation import DistillConfig; "
            "print(cheap, type(harkd) is types.ModuleType, isinstance(harkd.distill, types.FunctionType), "
            "isinstance(harkd.export, types.FunctionType), harkd.distillation.DistillConfig is DistillConfig, "
            "harkd.deploy.export_run.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}).stdout.split()
    assert out == ["True", "True", "True", "True", "True", "harkd.deploy.exporter"]


@pytest.fixture(scope="module")
def inertial_run(synth_utd, tmp_path_factory):
    sys.path.insert(0, str(ROOT / "tests" / "deploy"))
    from tinyruns import train_tiny

    return train_tiny(synth_utd, tmp_path_factory.mktemp("api-inertial"), "raw", epochs=1)


def raw_recordings(run, split="test"):
    """The run's ``split`` recordings as its dataset's reader gives them (acc: (T, 3) in g), by key."""
    from harkd.data import get_dataset

    spec = get_dataset("utd-mhad")
    meta = json.loads((run / "run.json").read_text())
    index = spec.scan(meta["data_root"])
    return {key: spec.load(index[key], "inertial", root=index.root, sensor="acc") for key in meta["split"][split]}


def test_load_predicts_raw_recordings_through_the_runs_preprocessing(inertial_run):
    raw = raw_recordings(inertial_run)
    predictor = harkd.load(inertial_run)
    assert len({x.shape[0] for x in raw.values()}) > 1  # variable lengths, as recorded
    predicted = predictor.predict(list(raw.values()))
    # exactly what evaluation predicts from the dataset's own pipeline (resampling, training statistics)
    assert dict(zip(raw, predicted.tolist())) == harkd.evaluate(inertial_run)["predictions"]
    probabilities = predictor.predict_proba(list(raw.values()), batch_size=5)
    assert probabilities.shape == (len(raw), 27) and np.allclose(probabilities.sum(1), 1, atol=1e-5)
    assert probabilities.argmax(1).tolist() == predicted.tolist()
    # an (n, T, C) array of equal-length recordings is n recordings
    equal = np.stack([x[:100] for x in raw.values()])
    assert predictor.predict(equal).tolist() == predictor.predict(list(equal)).tolist()
    assert predictor.class_names[0] == "right arm swipe to the left" and predictor.inputs == ["inertial"]


def test_load_refuses_recordings_it_cannot_read(inertial_run, tmp_path):
    predictor = harkd.load(inertial_run, checkpoint="last")
    good = np.zeros((50, 3))
    bad_nan = good.copy()
    bad_nan[3, 1] = np.nan
    cases = [
        ([good, np.zeros((50, 6))], "X[1] has shape (50, 6) (float64); the run reads inertial recordings of shape "
                                    "(T, 3): T time steps of 3 values, as its dataset's reader gives them"),
        ([good, bad_nan], "X[1] contains NaN or inf"),
        ([np.zeros((1, 3))], "X[0] holds 1 time step(s); a recording needs at least 2"),
        ([], "X holds no recordings"),
        (3.0, "X must be an array (n, T, 3) or a list of (T, 3) inertial recordings, got float"),
        (np.zeros(5), "X must be an array (n, T, 3) or a list of (T, 3) inertial recordings, got ndarray of shape "
                      "(5,)"),
        ({"skeleton": [good]}, "X: the model reads inertial: pass a dict with those keys, got ['skeleton']"),
    ]
    for X, message in cases:
        with pytest.raises(InputError) as err:
            predictor.predict(X)
        assert str(err.value) == message
    with pytest.raises(InputError) as err:
        harkd.load(inertial_run, checkpoint="x")
    assert str(err.value) == "harkd.load(checkpoint=...) must be one of 'best', 'last', got 'x'"
    with pytest.raises(DataError) as err:
        harkd.load(tmp_path / "nope")
    assert str(err.value) == f"{tmp_path / 'nope'}: run directory not found"


def test_evaluate_writes_the_figures_and_names_python_arguments(inertial_run):
    for name in ("confusion_test.png", "learning_curves.png"):
        (inertial_run / name).unlink(missing_ok=True)
    assert "figures" not in harkd.evaluate(inertial_run)
    assert not (inertial_run / "confusion_test.png").exists()  # no files unless asked
    result = harkd.evaluate(inertial_run, plots=True)
    assert result["figures"] == [str(inertial_run / "confusion_test.png"), str(inertial_run / "learning_curves.png")]
    assert all(Path(f).stat().st_size > 5_000 for f in result["figures"])
    with pytest.raises(InputError) as err:
        harkd.evaluate(inertial_run, checkpoint="x")
    assert str(err.value) == "harkd.evaluate(checkpoint=...) must be one of 'best', 'last', got 'x'"
    with pytest.raises(InputError) as err:
        harkd.evaluate(inertial_run, split="dev")
    assert str(err.value) == "harkd.evaluate(split=...) must be one of 'train', 'val', 'test', got 'dev'"


def test_api_errors_name_arguments_not_flags(synth_utd, tmp_path, inertial_run, monkeypatch):
    taken = tmp_path / "file"
    taken.write_text("")
    cfg = {"name": "t", "data": {"dataset": "utd-mhad", "root": str(synth_utd), "modalities": {"inertial": INERTIAL}},
           "model": {"name": "imu_cnn1d", "input": "inertial"}}
    with pytest.raises(DataError) as err:
        harkd.train(cfg, taken)
    assert str(err.value) == f"{taken}: is a file, not a run directory: choose another run_dir (or move the file away)"
    assert err.value.problem == "is a file, not a run directory: choose another run_dir (or move the file away)"
    with pytest.raises(InputError) as err:
        harkd.export(inertial_run, tmp_path / "model.bin")
    assert str(err.value) == (f"cannot tell the export format from '{tmp_path / 'model.bin'}': pass format=\"onnx\" or "
                              "format=\"torchscript\"")
    monkeypatch.delenv("HARKD_DATA_ROOT", raising=False)
    with pytest.raises(ConfigError) as err:
        harkd.train({**cfg, "data": {**cfg["data"], "root": None}}, tmp_path / "run")
    assert "pass overrides=[\"data.root=" in str(err.value) and "--" not in str(err.value)


def test_python_wording_replaces_every_flag_the_engine_names():
    from harkd.api import python_wording

    assert python_wording("use --set train.refit=last, or drop --select-on-test") == (
        'use overrides=["train.refit=last"], or drop select_on="test"')
    assert python_wording("--quantize int8 needs --format onnx (ONNX Runtime runs it), got --format torchscript") == (
        'quantize="int8" needs format="onnx" (ONNX Runtime runs it), got format="torchscript"')
    assert python_wording("or pass --evaluate none") == "or pass evaluate=None"
    assert python_wording("no known sampling rate for x inertial: pass --rate HZ") == (
        "no known sampling rate for x inertial: pass rate=HZ")
    assert python_wording("(the results are complete; --no-plots skips the figures)") == (
        "(the results are complete; plots=False skips the figures)")
