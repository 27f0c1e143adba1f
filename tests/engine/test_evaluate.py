"""evaluate_run: recordings missing since training, the data root recorded in run.json, figures."""

import json
import os
import re
import shutil

import pytest
import yaml

from harkd.engine.config import load_config
from harkd.engine.evaluate import evaluate_run, write_figures
from harkd.engine.experiment import train_experiment
from harkd.errors import ConfigError, DataWarning


def tiny_run(tmp_path, data_root, root=None, name="run", epochs=1, seed=0, **data):
    """An inertial run on the synthetic UTD-MHAD under ``data_root/UTD-MHAD`` (``data.root`` = ``root``;
    ``data``: more keys of the data section)."""
    cfg = load_config(data={
        "name": name, "seed": seed, "output_dir": str(tmp_path / "runs"),
        "data": {"dataset": "utd-mhad", "root": None if root is None else str(root),
                 "modalities": {"inertial": {"sensor": "acc", "length": 32, "normalize": True}}, "cache": False,
                 **data},
        "model": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8], "depths": [1]}},
        "train": {"epochs": epochs, "batch_size": 8},
    })
    return train_experiment(cfg, log=lambda m: None)


@pytest.fixture
def data_root(tmp_path, synth_utd):
    """A private copy of the synthetic dataset as ``DATA/UTD-MHAD`` (tests delete files from it)."""
    shutil.copytree(synth_utd, tmp_path / "data" / "UTD-MHAD")
    return tmp_path / "data"


def test_recordings_missing_since_training_are_warned_and_counted(tmp_path, data_root):
    root = data_root / "UTD-MHAD"
    run_dir = tiny_run(tmp_path, data_root, root)
    test_keys = json.loads((run_dir / "run.json").read_text())["split"]["test"]
    before = evaluate_run(run_dir)
    assert before["missing_keys"] == 0 and before["num_samples"] == len(test_keys)
    partial, whole = sorted(test_keys)[:2]
    (root / "Inertial" / f"{partial}_inertial.mat").unlink()  # the recording keeps its other modalities
    for path in root.glob(f"*/{whole}_*"):
        path.unlink()  # this one is gone entirely
    reasons = {partial: "missing inertial", whole: f"not found under {root}"}
    shown = ", ".join(f"{k} ({reasons[k]})" for k in test_keys if k in reasons)  # in run.json's order
    with pytest.warns(DataWarning) as caught:
        result = evaluate_run(run_dir)
    n = len(test_keys)
    assert (f"2 of the {n} test recordings in {run_dir / 'run.json'} are missing now: {shown}; "
            f"evaluating the {n - 2} others") in [str(w.message) for w in caught]
    assert result["missing_keys"] == 2 and result["num_samples"] == n - 2


def test_evaluate_in_a_new_shell_uses_the_data_root_in_run_json(tmp_path, data_root, monkeypatch):
    monkeypatch.setenv("HARKD_DATA_ROOT", str(data_root))
    run_dir = tiny_run(tmp_path, data_root)  # data.root null: the root came from the environment
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["data"]["root"] is None
    monkeypatch.delenv("HARKD_DATA_ROOT")
    result = evaluate_run(run_dir)
    assert result["data_root_from"] == "run.json" and result["data_root"] == str((data_root / "UTD-MHAD").resolve())
    monkeypatch.setenv("HARKD_DATA_ROOT", str(data_root))  # an explicit root overrides run.json
    assert evaluate_run(run_dir)["data_root_from"] == "config"
    monkeypatch.delenv("HARKD_DATA_ROOT")
    (data_root / "UTD-MHAD").rename(data_root / "moved")
    msg = (f"{run_dir}: data.root is not set, HARKD_DATA_ROOT is not defined and the data root recorded in "
           f"run.json ({(data_root / 'UTD-MHAD').resolve()}) is not a directory: set HARKD_DATA_ROOT to the folder "
           f"holding the dataset, or set data.root in {run_dir / 'config.yaml'}")
    with pytest.raises(ConfigError, match="^" + re.escape(msg) + "$"):
        evaluate_run(run_dir)


def test_a_figure_that_cannot_be_written_is_one_line(tmp_path, synth_utd):
    run_dir = tiny_run(tmp_path, synth_utd.parent, synth_utd)
    result = evaluate_run(run_dir)
    (run_dir / "confusion_test.png").mkdir()  # unwritable as a file, even for root
    written, failed = write_figures(result, run_dir)
    assert written == [str(run_dir / "learning_curves.png")]
    assert failed == [f"could not write {run_dir / 'confusion_test.png'}: Is a directory "
                      "(the results are complete; --no-plots skips the figures)"]


def test_the_confusion_matrix_names_the_run_seed_checkpoint_and_split(tmp_path, synth_utd):
    from harkd.engine.figures import checkpoint_epoch, confusion_figure, read_metrics, run_identity

    run_dir = tiny_run(tmp_path, synth_utd.parent, synth_utd, name="acc", epochs=3, seed=2)
    records = read_metrics(run_dir)
    best = records[-1]["best_epoch"]
    for checkpoint, epoch in (("best", best), ("last", 3)):
        result = evaluate_run(run_dir, "val", checkpoint)
        assert checkpoint_epoch(records, result) == epoch
        title = confusion_figure(result, run_identity(run_dir), epoch).axes[0].get_title()
        assert title == (f"acc, seed 2 · {checkpoint}.pt (epoch {epoch}) · val split\naccuracy "
                         f"{result['accuracy']:.3f}, macro-F1 {result['macro_f1']:.3f}, {result['num_samples']} recordings")


def test_a_run_without_validation_draws_its_figures_without_a_warning(tmp_path, synth_utd):
    import warnings

    from harkd.engine.figures import checkpoint_epoch, read_metrics

    run_dir = tiny_run(tmp_path, synth_utd.parent, synth_utd, epochs=2, val_subjects=None, val_fraction=0)
    result = evaluate_run(run_dir)
    assert checkpoint_epoch(read_metrics(run_dir), result) == 2  # best.pt without validation: the last epoch
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "No artists with labels found" leaked as a harkd warning
        written, failed = write_figures(result, run_dir)
    assert written == [str(run_dir / "confusion_test.png"), str(run_dir / "learning_curves.png")] and failed == []


def test_a_gpu_run_is_evaluated_on_the_cpu_where_there_is_no_gpu():
    import torch

    from harkd.engine.evaluate import evaluation_device
    from harkd.errors import DataWarning

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible: 'cuda' is usable here")
    with pytest.warns(DataWarning, match=r"evaluating on the CPU: the run was trained on 'cuda', which is not usable"):
        assert evaluation_device("cuda") == torch.device("cpu")
    assert evaluation_device("cpu") == torch.device("cpu")
