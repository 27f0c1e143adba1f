"""``harkd train`` / ``harkd distill`` as a new user meets them: one-line errors, labelled results, help."""

import json
from pathlib import Path

import pytest
import torch
import yaml

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "utd_mhad"


def tiny_config(tmp_path, root, **data):
    cfg = {
        "name": "acc", "seed": 0, "output_dir": str(tmp_path / "runs"),
        "data": {"dataset": "utd-mhad", "cache": False, **({"root": str(root)} if root else {}), **data,
                 "modalities": {"inertial": {"sensor": "acc", "length": 32, "normalize": True}}},
        "model": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [4, 8], "depths": [1, 1]}},
        "schedule": {"name": "constant"},
        "train": {"epochs": 2, "batch_size": 8},
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def one_error_line(rc, err, message):
    assert rc == 2 and "Traceback" not in err
    assert err.strip() == f"harkd: error: {message}"


@pytest.mark.parametrize("override, message", [
    ("optim.lr=-1", "config key 'optim.lr': must be in (0, 1000000], got -1.0"),
    ("train.label_smoothing=1.5", "config key 'train.label_smoothing': must be in [0, 1), got 1.5"),
    ("seed=-1", "config key 'seed': must be >= 0, got -1"),
    ("optim.momentum=1.2", "config key 'optim.momentum': must be in [0, 1), got 1.2"),
    ("optim.weight_decay=-0.1", "config key 'optim.weight_decay': must be in [0, 10], got -0.1"),
    ("train.batch_size=0", "config key 'train.batch_size': must be in [1, 1048576], got 0"),
    ("train.epochs=0", "config key 'train.epochs': must be in [1, 100000], got 0"),
    ("train.grad_clip=-1", "config key 'train.grad_clip': must be > 0, got -1.0"),
    ("schedule.gamma=2", "config key 'schedule.gamma': must be in (0, 1], got 2.0"),
    ("schedule.min_lr_ratio=1.5", "config key 'schedule.min_lr_ratio': must be in [0, 1], got 1.5"),
    ("schedule.warmup_epochs=-1", "config key 'schedule.warmup_epochs': must be in [0, 100000], got -1"),
    ("schedule.milestones=[4,2]", "config key 'schedule.milestones': must be increasing epochs, got [4, 2]"),
    ("schedule.milestones=[0,2]", "config key 'schedule.milestones[0]': must be in [1, 100000], got 0"),
    ("data.val_fraction=1", "config key 'data.val_fraction': must be in [0, 1), got 1.0"),
    ("data.num_workers=-2", "config key 'data.num_workers': must be in [0, 256], got -2"),
    ("optim.lr=.inf", "config key 'optim.lr': must be in (0, 1000000], got inf"),
    # upper bounds beyond any real experiment (a slip of the exponent is refused before anything starts)
    ("train.batch_size=100000000000000000000", "config key 'train.batch_size': must be in [1, 1048576], "
                                              "got 100000000000000000000"),
    ("train.epochs=1000000000000", "config key 'train.epochs': must be in [1, 100000], got 1000000000000"),
    ("optim.lr=1e300", "config key 'optim.lr': must be in (0, 1000000], got 1e+300"),
    ("optim.weight_decay=1e300", "config key 'optim.weight_decay': must be in [0, 10], got 1e+300"),
    ("data.num_workers=1000000", "config key 'data.num_workers': must be in [0, 256], got 1000000"),
    ("schedule.warmup_epochs=1000000000000", "config key 'schedule.warmup_epochs': must be in [0, 100000], "
                                            "got 1000000000000"),
    ("schedule.milestones=[2,1000000000000]", "config key 'schedule.milestones[1]': must be in [1, 100000], "
                                             "got 1000000000000"),
    ("train.mixup={alpha: 1e300}", "config key 'train.mixup.alpha': must be in (0, 1000], got 1e+300"),
    ("semantic={source: none, weight: -1}", "config key 'semantic.weight': must be in [0, 1000000], got -1.0"),
    ("train.log_every=1e308", "config key 'train.log_every': must be in (0, 86400], got 1e+308"),
    ("train.device=gpu", "config key 'train.device': 'gpu' is not a torch device (auto, cpu, cuda, cuda:1, mps)"),
    ("seed=4294967296", "config key 'seed': must be in [0, 4294967295], got 4294967296"),
])
def test_out_of_range_values_are_one_line_errors(run, tmp_path, synth_utd, override, message):
    one_error_line(*run("train", str(tiny_config(tmp_path, synth_utd)), "--set", override)[::2], message)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("override, message", [
    ("data.modalities.inertial.normalize=maybe", "inertial transform option 'normalize' must be true or false, got 'maybe'"),
    ("data.modalities.inertial={sensor: acc}", "config key 'data.modalities.inertial': 'length' not set, so its clips "
     "differ in shape and cannot be batched; set it, e.g. --set data.modalities.inertial.length=128"),
    ("data.modalities.skeleton={}", "config key 'data.modalities.skeleton': 'frames' not set, so its clips "
     "differ in shape and cannot be batched; set it, e.g. --set data.modalities.skeleton.frames=32"),
])
def test_transform_options_are_checked_before_the_first_epoch(run, tmp_path, synth_utd, override, message):
    one_error_line(*run("train", str(tiny_config(tmp_path, synth_utd)), "--set", override)[::2], message)
    assert not list((tmp_path / "runs").rglob("*.pt"))


def test_a_key_given_twice_in_the_yaml_file(run, tmp_path, synth_utd):
    path = tiny_config(tmp_path, synth_utd)
    path.write_text(path.read_text() + "seed: 3\n")  # YAML alone would keep 3 in silence
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if text.startswith("seed: 3"))
    one_error_line(*run("train", str(path))[::2], f"{path}: not valid YAML (key 'seed' is given twice (line {line}))")


def test_a_directory_as_config(run, tmp_path):
    one_error_line(*run("train", str(tmp_path))[::2],
                   f"{tmp_path}: is a directory, not a config file (pass the experiment's .yaml file)")


@pytest.mark.skipif(torch.backends.cuda.is_built(), reason="this torch build has CUDA")
def test_cuda_on_a_cpu_build(run, tmp_path, synth_utd):
    rc, out, err = run("train", str(tiny_config(tmp_path, synth_utd)), "--set", "train.device=cuda")
    one_error_line(rc, err, f"config key 'train.device': 'cuda', but this torch build ({torch.__version__}) has no "
                            "CUDA support: use --set train.device=cpu (or auto), or install a CUDA build of torch")


def test_train_on_a_distillation_config_names_harkd_distill(run):
    config = CONFIGS / "distill" / "skel2acc_kd.yaml"
    rc, out, err = run("train", str(config))
    one_error_line(rc, err, f"{config} is a distillation config (it has 'teachers' and 'student'): run it with "
                            f"harkd distill {config}")


def test_distill_on_a_training_config_names_harkd_train(run):
    config = CONFIGS / "acc_cnn1d.yaml"
    rc, out, err = run("distill", str(config))
    one_error_line(rc, err, f"{config} is a training config (it has 'model'): run it with harkd train {config}")


def test_a_wrong_key_in_a_training_config_is_still_reported_as_such(run, tmp_path, synth_utd):
    rc, out, err = run("train", str(tiny_config(tmp_path, synth_utd)), "--set", "optim.lrr=1")
    one_error_line(rc, err, "unknown config key 'lrr'; did you mean 'lr'? (valid: lr, momentum, name, nesterov, "
                            "weight_decay) in 'optim'")


def test_data_root_env_pointing_at_the_dataset_folder_suggests_its_parent(run, tmp_path, monkeypatch):
    dataset = tmp_path / "data" / "UTD-MHAD"
    (dataset / "Inertial").mkdir(parents=True)
    monkeypatch.setenv("HARKD_DATA_ROOT", str(dataset))
    rc, out, err = run("train", str(tiny_config(tmp_path, None)), "--run-dir", str(tmp_path / "run"))
    one_error_line(rc, err, f"{dataset / 'UTD-MHAD'}: data root is not a directory (HARKD_DATA_ROOT={dataset} looks "
                            f"like the UTD-MHAD folder itself: set HARKD_DATA_ROOT to its parent, "
                            f"HARKD_DATA_ROOT={dataset.parent}, or pass --set data.root={dataset})")


def test_data_root_env_with_a_near_folder_name_suggests_it(run, tmp_path, monkeypatch):
    (tmp_path / "data" / "UTD_MHAD").mkdir(parents=True)
    monkeypatch.setenv("HARKD_DATA_ROOT", str(tmp_path / "data"))
    rc, out, err = run("train", str(tiny_config(tmp_path, None)), "--run-dir", str(tmp_path / "run"))
    one_error_line(rc, err, f"{tmp_path / 'data' / 'UTD-MHAD'}: data root is not a directory (HARKD_DATA_ROOT="
                            f"{tmp_path / 'data'} holds UTD_MHAD/, not UTD-MHAD/: pass --set "
                            f"data.root={tmp_path / 'data' / 'UTD_MHAD'})")


def test_a_run_directory_that_is_a_file(run, tmp_path, synth_utd):
    (tmp_path / "run").write_text("x")
    rc, out, err = run("train", str(tiny_config(tmp_path, synth_utd)), "--run-dir", str(tmp_path / "run"))
    one_error_line(rc, err, f"{tmp_path / 'run'}: is a file, not a run directory: choose another --run-dir "
                            "(or move the file away)")


def test_help_shows_the_evaluate_default_and_that_selection_used_validation(capsys):
    from harkd.cli.main import main

    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert ("after training, report the accuracy of best.pt and last.pt on this split (default: test). best.pt is "
            "selected on the validation split only; the test split is used for neither training nor selection") in text


def test_train_labels_the_test_accuracies(run, tmp_path, synth_utd):
    rc, out, err = run("train", str(tiny_config(tmp_path, synth_utd)), "--run-dir", str(tmp_path / "run"))
    assert rc == 0, err
    best_epoch = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])["best_epoch"]
    lines = out.splitlines()
    assert lines[0].startswith(f"best.pt (epoch {best_epoch}, best on validation): test accuracy ")
    assert lines[1].startswith("last.pt (epoch 2): test accuracy ")
    assert lines[2:] == ["(the test split was used for neither training nor checkpoint selection)",
                         f"run directory: {tmp_path / 'run'}"]


def test_train_without_a_validation_split_says_best_is_the_last_epoch(run, tmp_path, synth_utd):
    config = tiny_config(tmp_path, synth_utd, val_fraction=0, val_subjects=None)
    rc, out, err = run("train", str(config), "--run-dir", str(tmp_path / "run"), "--evaluate", "test")
    assert rc == 0, err
    assert out.splitlines()[0].startswith("best.pt (epoch 2: no validation split, so the last epoch): test accuracy ")


def test_an_empty_validation_split_to_evaluate_is_refused_before_training(run, tmp_path, synth_utd):
    config = tiny_config(tmp_path, synth_utd, val_fraction=0, val_subjects=None)
    rc, out, err = run("train", str(config), "--run-dir", str(tmp_path / "run"), "--evaluate", "val")
    one_error_line(rc, err, f"{synth_utd}: the validation split is empty under protocol 'cross_subject' (24 training, "
                            "0 validation, 24 test recordings): set data.val_fraction > 0 (or data.val_subjects), or "
                            "pass --evaluate none")
    assert not (tmp_path / "run" / "last.pt").exists()


def test_a_diverging_run_is_one_line(run, tmp_path, synth_utd):
    """A learning rate of 1e6 makes the losses or the model's outputs non-finite: a TrainingError, not a bug."""
    rc, _, err = run("train", str(tiny_config(tmp_path, synth_utd)), "--set", "optim.lr=1e6", "--set",
                     "optim.name=sgd")
    assert rc == 2 and "Traceback" not in err and "internal error" not in err
    ready, first, error = err.strip().splitlines()  # the data and validation lines, then the one error line
    assert ready.startswith("data ready in ") and ready.endswith("test 24; training on cpu")
    assert first.startswith("validation: training subject ") and error.startswith("harkd: error: epoch ")
    assert "loss became" in err and "lower the learning rate" in err
