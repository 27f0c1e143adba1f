"""End to end: YAML experiment -> harkd train -> run directory -> harkd evaluate, on synthetic data."""

import json
import os
import re

import pytest
import torch
import yaml

from harkd.cli.main import main
from harkd.engine.config import load_config
from harkd.engine.builders import schedule_factor
from harkd.engine.experiment import load_run, train_experiment
from harkd.engine.prepare import prepare_data
from harkd.errors import ConfigError, DataError, DataWarning


def write_config(tmp_path, root, **train):
    cfg = {
        "name": "acc_cnn",
        "seed": 3,
        "output_dir": str(tmp_path / "runs"),
        "data": {"dataset": "utd-mhad", "root": str(root), "modalities": {"inertial": {"sensor": "acc", "length": 64, "normalize": True}},
                 "cache": False},
        "model": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8, 16], "depths": [1, 1]}},
        "optim": {"name": "adam", "lr": 3e-3},
        "schedule": {"name": "step", "milestones": [2], "gamma": 0.5},
        "train": {"epochs": 3, "batch_size": 8, **train},
    }
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_train_then_evaluate_cli(tmp_path, synth_utd, capsys):
    config = write_config(tmp_path, synth_utd)
    assert main(["train", str(config), "--set", "train.epochs=2", "--deterministic"]) == 0
    run_dir = tmp_path / "runs" / "acc_cnn"
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["train"]["epochs"] == 2 and saved["train"]["deterministic"] is True
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["seed"] == 3 and meta["harkd_version"] and "git" in meta
    assert set(meta["split"]) == {"train", "val", "test"}
    assert not set(meta["split"]["test"]) & set(meta["split"]["train"] + meta["split"]["val"])
    assert len(meta["normalization"]["inertial"]["mean"]) == 3
    assert (run_dir / "eval_test_best.json").is_file()
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == "test" and result["checkpoint"].endswith("best.pt")
    assert 0 <= result["accuracy"] <= 1 and 0 <= result["macro_f1"] <= 1
    assert len(result["confusion_matrix"]) == 27
    assert sum(map(sum, result["confusion_matrix"])) == len(meta["split"]["test"])
    assert (run_dir / "confusion_test.png").is_file() and (run_dir / "learning_curves.png").is_file()


def test_deterministic_rerun_gives_same_metrics(tmp_path, synth_utd):
    cfg = load_config(write_config(tmp_path, synth_utd), ["train.deterministic=true"])
    a = train_experiment(cfg, tmp_path / "a", log=lambda m: None)
    b = train_experiment(cfg, tmp_path / "b", log=lambda m: None)
    assert (a / "metrics.jsonl").read_text().count("\n") == 3
    strip = lambda p: [{k: v for k, v in json.loads(l).items() if k != "seconds"} for l in (p / "metrics.jsonl").read_text().splitlines()]
    assert strip(a) == strip(b)


def test_resume_refuses_a_changed_config(tmp_path, synth_utd):
    cfg = load_config(write_config(tmp_path, synth_utd, epochs=1))
    run_dir = train_experiment(cfg, tmp_path / "r", log=lambda m: None)
    changed = load_config(write_config(tmp_path, synth_utd, epochs=1), ["optim.lr=0.5"])
    with pytest.raises(ConfigError, match=re.escape("was trained with a different config (changed: optim.lr)")):
        train_experiment(changed, run_dir, log=lambda m: None)
    longer = load_config(write_config(tmp_path, synth_utd, epochs=2))
    train_experiment(longer, run_dir, log=lambda m: None)  # more epochs: resumes
    assert (run_dir / "metrics.jsonl").read_text().count("\n") == 2


def test_resume_accepts_a_run_written_before_a_config_key_existed(tmp_path, synth_utd):
    """A key added to harkd later (at its default) is not a change: old run directories still resume."""
    cfg = load_config(write_config(tmp_path, synth_utd, epochs=1))
    run_dir = train_experiment(cfg, tmp_path / "r", log=lambda m: None)
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["data"].pop("val_subjects") == "auto"  # as written before val_subjects existed
    (run_dir / "config.yaml").write_text(yaml.safe_dump(saved))
    train_experiment(load_config(write_config(tmp_path, synth_utd, epochs=2)), run_dir, log=lambda m: None)
    assert (run_dir / "metrics.jsonl").read_text().count("\n") == 2


def test_config_errors_are_one_line(tmp_path, synth_utd, capsys):
    config = write_config(tmp_path, synth_utd)
    assert main(["train", str(config), "--set", "train.epoch=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("harkd: error: unknown config key 'epoch'; did you mean 'epochs'? (valid: batch_size, deterministic, "
                   "device, epochs, grad_clip, label_smoothing, log_every, mixup, precision, refit, select, tensorboard) "
                   "in 'train'")
    assert main(["train", str(config), "--set", "model.input=skeleton"]) == 2
    assert "config key 'model.input': 'skeleton' is not among data.modalities (inertial)" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "nope.yaml")]) == 2
    assert capsys.readouterr().err.strip().endswith("nope.yaml: config file not found")


def test_schedules_are_per_epoch():
    from harkd.engine.config import ScheduleConfig

    step = schedule_factor(ScheduleConfig(name="step", milestones=[2, 4], gamma=0.1), 6)
    assert [round(step(e), 6) for e in range(6)] == [1, 1, 0.1, 0.1, 0.01, 0.01]
    warm = schedule_factor(ScheduleConfig(name="cosine", warmup_epochs=2), 6)
    assert [round(warm(e), 4) for e in range(3)] == [round(1 / 3, 4), round(2 / 3, 4), 1.0]
    assert warm(5) == pytest.approx(0.5 * (1 + __import__("math").cos(__import__("math").pi * 3 / 4)))


def test_harkd_train_killed_mid_run_resumes_to_the_same_result(tmp_path, synth_utd):
    """SIGKILL a real `harkd train` process after its first checkpoint, resume, compare with a clean run."""
    import os
    import signal
    import subprocess
    import sys
    import time

    config = write_config(tmp_path, synth_utd, epochs=6)
    cmd = [sys.executable, "-m", "harkd", "train", str(config), "--evaluate", "none", "--run-dir"]
    clean = subprocess.run(cmd + [str(tmp_path / "clean")], capture_output=True, text=True, timeout=600)
    assert clean.returncode == 0, clean.stderr
    killed_dir = tmp_path / "killed"
    proc = subprocess.Popen(cmd + [str(killed_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (killed_dir / "last.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    resumed = subprocess.run(cmd + [str(killed_dir)], capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stderr

    def records(run_dir):
        return [{k: v for k, v in json.loads(line).items() if k != "seconds"}
                for line in (run_dir / "metrics.jsonl").read_text().splitlines()]

    assert records(killed_dir) == records(tmp_path / "clean")
    assert len(records(killed_dir)) == 6


def test_semantic_teacher_training_regresses_class_embeddings(tmp_path, synth_utd):
    """SAKDN's teacher objective: CE + distance of the embedding layer to the label's class embedding."""
    cfg = load_config(write_config(tmp_path, synth_utd, epochs=2),
                      ["semantic.source=none", "semantic.distance=l1", "semantic.weight=0.5"])
    run_dir = train_experiment(cfg, tmp_path / "sem", log=lambda m: None)
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["model"]["head"]["semantic_dim"] == 300  # resolved from the embeddings
    records = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert {"train_ce", "train_semantic"} <= set(records[-1])
    assert records[-1]["train_loss"] == pytest.approx(records[-1]["train_ce"] + 0.5 * records[-1]["train_semantic"], rel=1e-5)
    from harkd.distillation.teachers import load_teacher, read_teacher_run

    teacher = read_teacher_run(run_dir)  # a semantic run loads as a teacher with its embedding layer
    prepared_sample = {"inertial": torch.zeros(3, 64)}
    assert "embedding" in load_teacher(teacher, prepared_sample).model.feature_names
    bad = load_config(write_config(tmp_path, synth_utd), ["semantic.source=none", "model.head.semantic_dim=16"])
    with pytest.raises(ConfigError, match=re.escape("config key 'model.head.semantic_dim': 16 differs from the none class embeddings' dimension 300")):
        train_experiment(bad, tmp_path / "bad", log=lambda m: None)


def test_a_second_process_cannot_train_into_a_locked_run_directory(tmp_path, synth_utd):
    from harkd.engine.lifecycle import run_dir_lock
    from harkd.errors import DataError

    cfg = load_config(write_config(tmp_path, synth_utd, epochs=1))
    run_dir = tmp_path / "locked"
    with run_dir_lock(run_dir):  # as if another harkd process were training here
        with pytest.raises(DataError) as err:
            train_experiment(cfg, run_dir, log=lambda m: None)
    assert str(err.value) == (f"{run_dir}: another harkd process (pid {os.getpid()}) is training into this run "
                              "directory; wait for it to finish or choose another --run-dir")
    assert not (run_dir / "last.pt").exists()
    train_experiment(cfg, run_dir, log=lambda m: None)  # released: trains
    assert (run_dir / "last.pt").is_file()


# -- issue 13: nothing dropped in silence, preflight, disjoint splits ------------------------------

def small_utd_release(root):
    """A fresh 4-subject synthetic UTD-MHAD (inertial + skeleton) under ``root/UTD-MHAD`` a test may damage."""
    from harkd.data.synth import write_utd_mhad

    write_utd_mhad(root / "UTD-MHAD", subjects=(1, 2, 3, 4), trials=(1, 2), actions=(1, 2, 3), seed=0,
                   modalities=("inertial", "skeleton"))
    return root / "UTD-MHAD"


def two_modality_config(tmp_path, root, **data):
    cfg = yaml.safe_load(write_config(tmp_path, root, epochs=1).read_text())
    cfg["data"]["modalities"]["skeleton"] = {"frames": 8, "center": True, "normalize": True}
    cfg["data"].update(data)
    return load_config(data=cfg)


def corrupt_mat(path):
    path.write_bytes(b"MATLAB 5.0 MAT-file" + b"\x00" * 50)
    return path


def test_training_reports_left_out_recordings_per_split_at_the_start(tmp_path, capsys):
    root = small_utd_release(tmp_path)
    (root / "Skeleton" / "a1_s2_t1_skeleton.mat").unlink()  # test split (even subject): missing skeleton
    empty = root / "Inertial" / "a2_s1_t2_inertial.mat"
    empty.write_bytes(b"")  # skipped by the scan; its recording then lacks inertial
    config = write_config(tmp_path, root, epochs=1)
    assert main(["train", str(config), "--set", "data.modalities.skeleton.frames=8"]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    meta = json.loads((tmp_path / "runs" / "acc_cnn" / "run.json").read_text())
    side = next(name for name in ("train", "val") if "a2_s1_t2" in meta["split"][name])  # subject 1: training side
    side_n, test_n = len(meta["split"][side]), len(meta["split"]["test"])
    lines = err.splitlines()
    scan = (f"harkd: warning: scanning {root} skipped 1 file(s): {empty} (empty file (0 bytes)) "
            f"(harkd data info --dataset utd-mhad --root {root} lists them all)")
    train = (f"harkd: warning: {side} split: 1 of {side_n} recordings left out: a2_s1_t2 (missing inertial) "
             "(listed in run.json 'skipped')")
    test = (f"harkd: warning: test split: 1 of {test_n} recordings left out: a1_s2_t1 (missing skeleton) "
            "(listed in run.json 'skipped')")
    first_epoch = next(i for i, line in enumerate(lines) if line.startswith("epoch 1/"))
    for line in (scan, train, test):
        assert line in lines and lines.index(line) < first_epoch  # at the start, before any epoch
    assert meta["skipped"]["test"] == [["a1_s2_t1", "missing skeleton"]]
    assert meta["data_root"] == str(root.resolve())


def test_bad_test_file_stops_the_run_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("HARKD_CACHE_DIR", str(tmp_path / "cache"))  # with a cache the preflight counts the others
    root = small_utd_release(tmp_path)
    first = corrupt_mat(root / "Skeleton" / "a1_s2_t1_skeleton.mat")
    corrupt_mat(root / "Skeleton" / "a3_s4_t2_skeleton.mat")
    cfg = two_modality_config(tmp_path, root, cache=True)
    with pytest.raises(DataError) as err:
        train_experiment(cfg, tmp_path / "run", log=lambda m: None)
    assert str(err.value).startswith(f"{first}: corrupt or truncated MAT file")
    assert str(err.value).endswith("; 1 other recording(s) fail too (--set data.on_error=skip leaves the failing "
                                   "recordings out and reports them)")
    assert not (tmp_path / "run" / "metrics.jsonl").exists()  # found at the start, not after the last epoch


def test_on_error_skip_leaves_bad_recordings_out_and_records_them(tmp_path):
    root = small_utd_release(tmp_path)
    bad = corrupt_mat(root / "Skeleton" / "a1_s2_t1_skeleton.mat")
    cfg = two_modality_config(tmp_path, root)
    cfg.data.on_error = "skip"
    with pytest.warns(DataWarning) as caught:
        run_dir = train_experiment(cfg, tmp_path / "run", log=lambda m: None)
    meta = json.loads((run_dir / "run.json").read_text())
    (key, reason), = meta["skipped"]["test"]
    assert key == "a1_s2_t1" and reason.startswith(f"{bad}: corrupt or truncated MAT file")
    assert f"test split: 1 of {len(meta['split']['test'])} recordings left out: a1_s2_t1 ({reason}) " \
           "(listed in run.json 'skipped')" in [str(w.message) for w in caught]
    cfg.data.on_error = "ignore"
    with pytest.raises(ConfigError, match=re.escape("config key 'data.on_error': 'ignore' is not one of stop, skip")):
        prepare_data(cfg.data, ["inertial"])


@pytest.mark.parametrize("other", ["train", "test"])
def test_a_saved_split_whose_validation_overlaps_is_refused(tmp_path, synth_utd, other):
    cfg = load_config(write_config(tmp_path, synth_utd))
    split = prepare_data(cfg.data, ["inertial"], check=()).split.to_dict()
    shared = split[other][:4]
    split["val"] = split["val"] + shared
    msg = (f"4 validation recording(s) are also {other} recordings ({', '.join(shared[:3])} and 1 more) in the split "
           "saved in run.json: validation must be held out from training and test")
    with pytest.raises(ConfigError, match=re.escape(msg)):
        prepare_data(cfg.data, ["inertial"], split_keys=split)


def test_a_protocol_split_is_checked_for_overlap_too(tmp_path, synth_utd):
    from harkd.data.protocols import Split
    from harkd.engine.prepare import check_disjoint

    with pytest.raises(ConfigError, match=re.escape("1 validation recording(s) are also test recordings (a1_s2_t1) in "
                                                    "protocol cross_subject with data.val_subjects [2]")):
        check_disjoint(Split(("a1_s1_t1",), ("a1_s2_t1",), ("a1_s2_t1",)),
                       "protocol cross_subject with data.val_subjects [2]")


def test_load_run_refits_no_statistics(tmp_path, synth_utd, monkeypatch):
    """Evaluation uses run.json's statistics: it fits nothing and checks no split up front."""
    from harkd.data import PairedDataset

    cfg = load_config(write_config(tmp_path, synth_utd, epochs=1))
    run_dir = train_experiment(cfg, tmp_path / "run", log=lambda m: None)
    fitted, checked = [], []
    original_fit = PairedDataset.fit_normalization
    monkeypatch.setattr(PairedDataset, "fit_normalization",
                        lambda self, modalities=None: fitted.append(list(modalities)) or original_fit(self, modalities))
    monkeypatch.setattr(PairedDataset, "check", lambda self, on_error="stop": checked.append(1))
    _, meta, _, prepared = load_run(run_dir)
    assert fitted == [[]] and checked == []
    assert prepared.datasets["train"].normalization_state() == meta["normalization"]


def test_a_head_option_under_model_args_names_its_new_place(tmp_path, synth_utd):
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, synth_utd), ["model.args.drop_rate=0.2"])
    assert str(err.value) == "config key 'model': 'args.drop_rate' is a head option: write it as 'head.drop_rate'"
    cfg = load_config(write_config(tmp_path, synth_utd), ["model.head.drop_rate=0.2"])
    assert cfg.model.head == {"drop_rate": 0.2} and "head" in cfg.to_dict()["model"]
    assert "head" not in load_config(write_config(tmp_path, synth_utd)).to_dict()["model"]  # omitted when empty


def test_a_run_written_by_harkd_0_9_reads_with_its_head_options_under_head(tmp_path):
    from harkd.engine.config import read_saved_config

    old = {"name": "fusion", "model": {"name": "late_fusion", "input": ["skeleton", "inertial"], "args": {
        "drop_rate": 0.2, "branches": {"skeleton": {"name": "stgcn", "args": {"widths": [8], "semantic_dim": 4}},
                                       "inertial": {"name": "imu_cnn1d"}}}},
           "student": {"name": "trn", "input": "depth", "args": {"width": 4, "semantic_dim": 300,
                                                                 "semantic_act": "none"}}}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(old))
    assert read_saved_config(path) == {"name": "fusion", "model": {
        "name": "late_fusion", "input": ["skeleton", "inertial"], "head": {"drop_rate": 0.2}, "args": {"branches": {
            "skeleton": {"name": "stgcn", "args": {"widths": [8]}, "head": {"semantic_dim": 4}},
            "inertial": {"name": "imu_cnn1d"}}}},
        "student": {"name": "trn", "input": "depth", "args": {"width": 4},
                    "head": {"semantic_dim": 300, "semantic_act": "none"}}}
    path.write_text("- a list\n")
    with pytest.raises(DataError) as err:
        read_saved_config(path)
    assert str(err.value) == f"{path}: a config file must hold a mapping of keys"


def test_a_0_9_run_directory_is_the_same_experiment_as_its_config_written_today(tmp_path, synth_utd):
    from harkd.engine.lifecycle import check_same_experiment

    cfg = load_config(write_config(tmp_path, synth_utd), ["model.head.drop_rate=0.2"])
    old = cfg.to_dict()
    old["model"]["args"]["drop_rate"] = old["model"].pop("head")["drop_rate"]  # as harkd 0.9 wrote it
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump(old))
    check_same_experiment(tmp_path / "run", cfg)  # resumable: nothing changed
    with pytest.raises(ConfigError, match=re.escape("(changed: model.head.drop_rate)")):
        check_same_experiment(tmp_path / "run", load_config(write_config(tmp_path, synth_utd),
                                                            ["model.head.drop_rate=0.3"]))


def test_virtual_twins_train_and_are_saved_only_when_asked(tmp_path, synth_utd):
    lines = []
    cfg = load_config(write_config(tmp_path, synth_utd, epochs=1), ["data.virtual_inertial={smooth: 0.4}"])
    run = train_experiment(cfg, tmp_path / "twins", log=lines.append)
    saved = yaml.safe_load((run / "config.yaml").read_text())["data"]
    assert saved["virtual_inertial"] == {"source": "skeleton", "smooth": 0.4}  # frame: segment, the default, omitted
    train = len(json.loads((run / "run.json").read_text())["split"]["train"])
    assert any(f"train {train} + {train} virtual, val" in line for line in lines)
    plain = load_config(write_config(tmp_path, synth_utd, epochs=1))
    assert plain.data.virtual_inertial is None
    assert "virtual_inertial" not in yaml.safe_load((train_experiment(plain, tmp_path / "plain", log=lambda m: None)
                                                     / "config.yaml").read_text())["data"]
