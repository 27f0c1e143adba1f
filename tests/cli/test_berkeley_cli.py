"""``harkd synth berkeley-mhad``, ``harkd data info --dataset berkeley-mhad``, a 2-epoch
``harkd train`` of configs/berkeley_mhad/acc_cnn1d.yaml and a one-subject skeleton -> accelerometer
distillation (the configs of the subject-1 smoke test) on synthetic roots."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from harkd.engine.config import load_config

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "berkeley_mhad" / "acc_cnn1d.yaml"
SKELETON = CONFIG.parent / "skeleton_stgcn.yaml"
DISTILL = CONFIG.parent / "distill" / "skel2acc_kd.yaml"




def test_synth_then_info_reports_missing_and_broken_streams(run, tmp_path):
    root = tmp_path / "bmhad"
    rc, out, err = run("synth", "berkeley-mhad", str(root), "--subjects", "1", "--actions", "1-2",
                       "--repetitions", "2", "--missing-stream", "--no-overlap", "--uneven")
    assert rc == 0, err
    assert out.startswith(f"wrote synthetic berkeley-mhad to {root}: 4 recordings (4 acc1, 4 acc2, 3 acc3,")
    rc, out, err = run("data", "info", "--dataset", "berkeley-mhad", "--root", str(root), "--check", "--json")
    info = json.loads(out)
    assert rc == 1  # a load error (the shifted clock) is reported
    assert info["recordings"] == 4 and info["modalities"]["inertial"] == 3 and info["modalities"]["skeleton"] == 4
    assert info["missing"]["incomplete"]["s01_a01_r01"][-1] == "inertial"
    assert info["skipped"] == [{"path": str(root / "Accelerometer/Shimmer03/acc_h03_s01_a01_r01.txt"),
                                "reason": "missing file (part 03 of inertial of recording s01_a01_r01); "
                                          "the recording has no inertial"}]
    assert [e["path"] for e in info["errors"]] == [str(root / "Accelerometer/Shimmer05/acc_h05_s01_a02_r02.txt")]
    assert info["errors"][0]["reason"].startswith("does not overlap the other streams of this recording")


def test_synth_like_release_then_info_lists_missing_keys_and_interpolated_gaps(run, tmp_path):
    root = tmp_path / "bmhad"
    rc, out, err = run("synth", "berkeley-mhad", str(root), "--subjects", "4", "--actions", "3,7,8", "--uneven",
                       "--like-release")
    assert rc == 0, err
    assert out.startswith(f"wrote synthetic berkeley-mhad to {root}: 59 recordings (58 acc1, 58 acc2, 58 acc3,")
    assert not list(root.glob("Accelerometer/*/acc_h0?_s02_a07_r05.txt"))
    assert (root / "Time_stamps" / "time_stamps_img_s04_t-pose.txt").is_file()
    gapped = [root / "Accelerometer" / "Shimmer03" / f"acc_h03_s03_a03_r0{r}.txt" for r in (1, 2, 3)]
    for check in ((), ("--check",)):
        rc, out, err = run("data", "info", "--dataset", "berkeley-mhad", "--root", str(root), *check, "--json")
        info = json.loads(out)
        assert rc == 0 and err == "" and info["errors"] == [] and info["skipped"] == []
        assert info["recordings"] == 59 and info["modalities"]["inertial"] == 58
        assert info["missing"]["incomplete"] == {"s02_a07_r05": ["acc1", "acc2", "acc3", "acc4", "acc5", "acc6",
                                                                 "inertial"]}
        assert "s04_a08_r05" in info["missing"]["absent"]
        assert [w.split(": ")[0] for w in info["warnings"]] == [str(p) for p in gapped]
    assert info["warnings"][0].startswith(f"{gapped[0]}: gap of 1.115 s without samples before row ")
    rc, out, err = run("data", "info", "--dataset", "berkeley-mhad", "--root", str(root), "--check")
    assert rc == 0 and "Traceback" not in out + err
    section = out.split("Repaired on load (warnings):\n")[1].split("\n\n")[0].splitlines()
    assert section[0].split() == ["path", "repair"] and len(section) == 4
    assert section[1].split()[0] == str(gapped[0]) and section[1].endswith("linearly interpolated (max_gap 2 s)")
    assert re.search(r"\n  s02_a07_r05 +acc1, acc2, acc3, acc4, acc5, acc6, inertial\n", out)


def test_synth_bad_values(run, tmp_path):
    rc, out, err = run("synth", "berkeley-mhad", str(tmp_path / "x"), "--subjects", "13")
    assert rc == 2 and err.strip() == "harkd: error: --subjects must be between 1 and 12, got 13"
    rc, out, err = run("synth", "berkeley-mhad", str(tmp_path / "x"), "--actions", "12")
    assert rc == 2 and err.strip() == "harkd: error: --actions: ids must be between 1 and 11, got 12"
    assert not (tmp_path / "x").exists()


@pytest.mark.realdata
def test_info_on_real_subject_1(run, real_data_root):
    root = real_data_root / "Berkeley-MHAD-s01"
    if not root.is_dir():
        pytest.skip(f"real-data test skipped: {root} not found")
    rc, out, err = run("data", "info", "--dataset", "berkeley-mhad", "--root", str(root), "--json")
    info = json.loads(out)
    assert rc == 0, err
    assert info["recordings"] == 55 and info["skipped"] == [] and info["missing"]["incomplete"] == {}
    assert info["modalities"] == {m: 55 for m in ("inertial", "acc1", "acc2", "acc3", "acc4", "acc5", "acc6",
                                                   "skeleton", "mocap", "timestamps")} | {"camera": 0}
    assert info["lengths"]["inertial"] == {"min": 58, "median": 194.0, "max": 610, "n": 55}
    rc, out, err = run("data", "info", "--dataset", "berkeley-mhad", "--root", str(root))
    assert "... 585 more" in out  # the other subjects' keys (605 of the 660-key grid) are summarised, not listed


def test_config_loads_and_trains_two_epochs(run, tmp_path, monkeypatch):
    cfg = load_config(CONFIG)
    assert cfg.data.dataset == "berkeley-mhad" and cfg.data.protocol == "cross_subject"
    root = tmp_path / "synth"
    rc, out, err = run("synth", "berkeley-mhad", str(root), "--subjects", "9", "--repetitions", "1",
                       "--actions", "1-4")
    assert rc == 0, err
    monkeypatch.setenv("HARKD_CACHE_DIR", str(tmp_path / "cache"))
    rc, out, err = run("train", str(CONFIG), "--set", f"data.root={root}", "--set", "train.epochs=2",
                       "--set", "train.batch_size=8", "--set", "model.args.widths=[8,16,16]",
                       "--run-dir", str(tmp_path / "run"))
    assert rc == 0, err
    assert "run directory:" in out and (tmp_path / "run" / "eval_test_best.json").is_file()
    assert json.loads((tmp_path / "run" / "run.json").read_text())["split"]["test"][0].startswith("s08_")


def test_skeleton_teacher_and_kd_student_within_one_subject(run, tmp_path, monkeypatch):
    assert load_config(SKELETON).data.protocol == "cross_subject"  # the full release's protocol by default
    root = tmp_path / "synth"
    rc, out, err = run("synth", "berkeley-mhad", str(root), "--subjects", "1", "--actions", "1-3")
    assert rc == 0, err
    monkeypatch.setenv("HARKD_CACHE_DIR", str(tmp_path / "cache"))
    common = ["--set", f"data.root={root}", "--set", "data.protocol=subject_specific", "--set", "train.epochs=1",
              "--set", "train.batch_size=4"]
    rc, out, err = run("train", str(SKELETON), *common, "--set", "model.args.widths=[8,8,8,8,8]",
                       "--run-dir", str(tmp_path / "teacher"))
    assert rc == 0, err
    split = json.loads((tmp_path / "teacher" / "run.json").read_text())["split"]
    assert {k: len(v) for k, v in split.items()} == {"train": 6, "val": 3, "test": 6}
    assert {k[-3:] for k in split["test"]} == {"r04", "r05"}
    rc, out, err = run("distill", str(DISTILL), *common, "--set", f"teachers.0.run={tmp_path / 'teacher'}",
                       "--set", "student.args.widths=[8,8,8]", "--run-dir", str(tmp_path / "student"))
    assert rc == 0, err
    assert (tmp_path / "student" / "eval_test_best.json").is_file()


@pytest.mark.realdata
def test_readme_full_protocol_command_runs_on_the_whole_real_release(run, real_data_root, tmp_path, monkeypatch):
    """The README's full-protocol `harkd train configs/berkeley_mhad/acc_cnn1d.yaml` on all 12 subjects (one
    epoch): the 11 gapped files are interpolated and reported once each, the recording without accelerometers is
    reported as left out, nothing else is dropped, and the run ends with labelled test accuracies."""
    root = real_data_root / "Berkeley-MHAD"
    if not root.is_dir():
        pytest.skip(f"real-data test skipped: {root} not found (the full Berkeley-MHAD release)")
    monkeypatch.setenv("HARKD_CACHE_DIR", str(tmp_path / "cache"))
    rc, out, err = run("train", str(CONFIG), "--set", f"data.root={root}", "--set", "train.epochs=1",
                       "--set", "schedule.warmup_epochs=0", "--run-dir", str(tmp_path / "run"))
    assert rc == 0, err
    gaps = [line for line in err.splitlines() if "without samples" in line]
    assert len(gaps) == 11 and len(set(gaps)) == 11  # each gapped file once, however often it is read
    assert all(line.startswith("harkd: warning: ") and line.endswith("linearly interpolated (max_gap 2 s)")
               for line in gaps)
    assert ("harkd: warning: train split: 1 of 329 recordings left out: s02_a07_r05 (missing inertial) "
            "(listed in run.json 'skipped')") in err.splitlines()
    assert "test split" not in err and "Traceback" not in err
    assert "test accuracy" in out and "(the test split was used for neither training nor checkpoint selection)" in out
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert {name: len(keys) for name, keys in meta["split"].items()} == {"train": 329, "val": 55, "test": 275}
