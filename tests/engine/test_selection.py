"""Honest selection: validation rules in run.json, train.refit, and the explicit --select-on-test mode."""

import json
import re

import pytest
import yaml

from harkd.cli.main import main
from harkd.engine import experiment as engine_experiment
from harkd.engine.config import load_config
from harkd.engine.experiment import train_experiment
from harkd.engine.lifecycle import AS_PUBLISHED, SELECTION_TEST, SELECTION_VALIDATION
from harkd.errors import ConfigError

#: synth_utd's cross_subject training subjects are 1 and 3; the seed-free rule holds out one of them
INERTIAL = {"sensor": "acc", "length": 32, "normalize": True}


def config(tmp_path, root, data=None, **train):
    cfg = {
        "name": "acc", "seed": 0, "output_dir": str(tmp_path / "runs"),
        "data": {"dataset": "utd-mhad", "root": str(root), "cache": False, "modalities": {"inertial": INERTIAL},
                 **(data or {})},
        "model": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [4, 8], "depths": [1, 1]}},
        "optim": {"lr": 3e-3}, "schedule": {"name": "cosine", "warmup_epochs": 2},
        "train": {"epochs": 3, "batch_size": 8, **train},
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture
def selection_sets(monkeypatch):
    """The keys of the split every Trainer built in the test selects on (its ``val_set``)."""
    seen = []
    original = engine_experiment.Trainer

    def spy(task, train_set, val_set, *args, **kwargs):
        seen.append(None if val_set is None else list(val_set.keys))
        return original(task, train_set, val_set, *args, **kwargs)

    monkeypatch.setattr(engine_experiment, "Trainer", spy)
    return seen


def test_default_selects_on_held_out_training_subjects_never_test(tmp_path, synth_utd, selection_sets, capsys):
    assert main(["train", str(config(tmp_path, synth_utd)), "--run-dir", str(tmp_path / "run")]) == 0
    out, err = capsys.readouterr()
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    held = meta["validation"]["subjects"]
    assert meta["validation"]["rule"] == "subjects" and len(held) == 1 and held[0] in (1, 3)
    assert meta["selection"] == SELECTION_VALIDATION
    lines = err.splitlines()
    assert lines[0].startswith("data ready in ") and lines[0].endswith("; training on cpu")
    assert lines[1] == f"validation: training subject {held[0]} held out (data.val_subjects auto)"
    assert selection_sets == [meta["split"]["val"]] and not set(meta["split"]["val"]) & set(meta["split"]["test"])
    assert {int(k.split("_s")[1].split("_")[0]) for k in meta["split"]["val"]} == set(held)
    assert AS_PUBLISHED not in out and "(the test split was used for neither training nor checkpoint selection)" in out


def test_select_on_test_is_marked_everywhere(tmp_path, synth_utd, selection_sets, capsys):
    assert main(["train", str(config(tmp_path, synth_utd)), "--select-on-test"]) == 0
    out, err = capsys.readouterr()
    run_dir = tmp_path / "runs" / "acc_select-on-test"  # the default name says it
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["selection"] == SELECTION_TEST
    assert selection_sets == [meta["split"]["test"]]
    assert f"selection: {SELECTION_TEST} {AS_PUBLISHED}" in err.splitlines()
    lines = out.splitlines()
    assert re.match(rf"best\.pt \(epoch \d, best on TEST {re.escape(AS_PUBLISHED)}\): test accuracy ", lines[0])
    assert lines[1].startswith(f"last.pt (epoch 3) {AS_PUBLISHED}: test accuracy ")
    assert lines[2] == "(as published: best.pt was chosen on the test split, so its test accuracy is not an unbiased estimate)"
    assert main(["evaluate", str(run_dir), "--no-plots"]) == 0
    shown = capsys.readouterr().out
    assert AS_PUBLISHED in shown
    assert main(["evaluate", str(run_dir), "--no-plots", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["selection"] == SELECTION_TEST
    assert main(["compare", str(run_dir), "--baseline", str(run_dir)]) == 0
    method, baseline = capsys.readouterr().out.splitlines()[1:3]
    assert method.endswith(f"% {AS_PUBLISHED}") and baseline.endswith(f"% {AS_PUBLISHED}")


def test_select_on_test_is_no_config_key(tmp_path, synth_utd, capsys):
    assert main(["train", str(config(tmp_path, synth_utd)), "--set", "train.select_on_test=true"]) == 2
    assert "unknown config key 'select_on_test'" in capsys.readouterr().err


def test_a_run_cannot_switch_its_selection_on_resume(tmp_path, synth_utd):
    cfg = load_config(config(tmp_path, synth_utd, epochs=1))
    run_dir = train_experiment(cfg, tmp_path / "run", log=lambda m: None)
    msg = (f"{run_dir} selects its checkpoint on the validation split; resuming it with selection on the test split "
           "would mix both: drop --select-on-test or choose another --run-dir")
    with pytest.raises(ConfigError, match=re.escape(msg)):
        train_experiment(cfg, run_dir, log=lambda m: None, select_on="test")


def test_refit_best_trains_the_best_epoch_count_on_every_training_recording(tmp_path, synth_utd, capsys):
    path = config(tmp_path, synth_utd, epochs=4)
    assert main(["train", str(path), "--set", "train.refit=best", "--run-dir", str(tmp_path / "run")]) == 0
    out, err = capsys.readouterr()
    run_dir, refit_dir = tmp_path / "run", tmp_path / "run" / "refit"
    for name in ("run.json", "config.yaml", "last.pt", "best.pt", "metrics.jsonl"):
        assert (refit_dir / name).is_file(), name
    stage1 = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    best = stage1[-1]["best_epoch"]
    assert 1 <= best <= 4
    saved = yaml.safe_load((refit_dir / "config.yaml").read_text())
    assert saved["train"]["epochs"] == best and saved["train"]["refit"] is None
    assert saved["schedule"]["warmup_epochs"] == min(2, best - 1)  # clipped below the refit's epochs
    assert saved["data"]["val_subjects"] is None and saved["data"]["val_fraction"] == 0
    assert len((refit_dir / "metrics.jsonl").read_text().splitlines()) == best
    meta, refit_meta = (json.loads((d / "run.json").read_text()) for d in (run_dir, refit_dir))
    assert sorted(refit_meta["split"]["train"]) == sorted(meta["split"]["train"] + meta["split"]["val"])
    assert refit_meta["split"]["val"] == [] and refit_meta["split"]["test"] == meta["split"]["test"]
    assert refit_meta["validation"]["rule"] == "none"
    refit = meta["refit"]
    assert (refit["rule"], refit["epochs"], refit["dir"]) == ("best", best, "refit")
    assert refit["test"]["checkpoint"] == str(refit_dir / "last.pt") and 0 <= refit["test"]["accuracy"] <= 1
    assert (f"refit (refit/last.pt: every training-side recording, {best} epochs, final epoch): test accuracy "
            f"{refit['test']['accuracy']:.4f}, macro-F1 {refit['test']['macro_f1']:.4f}") in out.splitlines()
    assert out.splitlines()[0].startswith(f"best.pt (epoch {best}, best on validation): test accuracy ")
    assert (f"refit: training again on every training-side recording for {best} epochs (train.refit best) into "
            f"{refit_dir}") in err
    assert main(["evaluate", str(refit_dir), "--checkpoint", "last", "--json", "--no-plots"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == pytest.approx(refit["test"]["accuracy"])
    assert main(["export", str(refit_dir), "--checkpoint", "last", "--out", str(tmp_path / "refit.onnx")]) == 0
    assert (tmp_path / "refit.onnx").is_file()


def test_refit_stage_two_resumes_from_its_last_checkpoint(tmp_path, synth_utd):
    cfg = load_config(config(tmp_path, synth_utd, epochs=3, refit="last"))

    def crash_in_stage_two(message):
        if message.startswith("epoch 2/3") and "refit" in crashed:
            raise KeyboardInterrupt
        if message.startswith("refit:"):
            crashed.append("refit")

    crashed = []
    with pytest.raises(KeyboardInterrupt):
        train_experiment(cfg, tmp_path / "run", log=crash_in_stage_two)
    refit_dir = tmp_path / "run" / "refit"
    assert len((refit_dir / "metrics.jsonl").read_text().splitlines()) == 1
    first = (refit_dir / "metrics.jsonl").read_text().splitlines()[0]
    logged = []
    train_experiment(cfg, tmp_path / "run", log=logged.append)
    assert f"resumed from {refit_dir / 'last.pt'} after epoch 1" in logged
    lines = (refit_dir / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 3 and lines[0] == first
    assert json.loads((tmp_path / "run" / "run.json").read_text())["refit"]["epochs"] == 3


def test_refit_best_without_a_validation_split_is_refused(tmp_path, synth_utd):
    cfg = load_config(config(tmp_path, synth_utd, data={"val_subjects": None, "val_fraction": 0}, refit="best"))
    msg = ("train.refit: best takes the refit's epochs from the best validation epoch, but this run has no validation "
           "split: set data.val_subjects auto (or a list of training subjects, or data.val_fraction > 0), or use "
           "train.refit: last")
    with pytest.raises(ConfigError, match=f"^{re.escape(msg)}$"):
        train_experiment(cfg, tmp_path / "run", log=lambda m: None)
    assert not (tmp_path / "run" / "last.pt").exists()


def test_refit_best_with_select_on_test_is_refused(tmp_path, synth_utd):
    cfg = load_config(config(tmp_path, synth_utd, refit="best"))
    msg = ("--select-on-test with train.refit: best would take the refit's epochs from an epoch chosen on the test "
           "split: use --set train.refit=last, or drop --select-on-test")
    with pytest.raises(ConfigError, match=f"^{re.escape(msg)}$"):
        train_experiment(cfg, tmp_path / "run", log=lambda m: None, select_on="test")


def test_val_subjects_accepts_auto_a_list_or_null_only(tmp_path, synth_utd):
    path = config(tmp_path, synth_utd)
    assert load_config(path).data.val_subjects == "auto"
    assert load_config(path, ["data.val_subjects=[3]"]).data.val_subjects == [3]
    assert load_config(path, ["data.val_subjects=null"]).data.val_subjects is None
    with pytest.raises(ConfigError, match="^" + re.escape("config key 'data.val_subjects': 'all' is not one of 'auto'") + "$"):
        load_config(path, ["data.val_subjects=all"])


def test_select_on_takes_val_or_test_only(tmp_path, synth_utd):
    from harkd.errors import InputError

    with pytest.raises(InputError, match=r"^select_on must be 'val' or 'test', got 'train'$"):
        train_experiment(load_config(config(tmp_path, synth_utd)), tmp_path / "run", select_on="train")
