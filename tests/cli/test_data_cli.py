"""``harkd data info``."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import scipy.io





@pytest.fixture
def tiny(tmp_path):
    root = tmp_path / "UTD"
    rng = np.random.default_rng(0)
    for s in (1, 2):
        for t in (1, 2):
            key = f"a1_s{s}_t{t}"
            (root / "Inertial").mkdir(parents=True, exist_ok=True)
            (root / "Skeleton").mkdir(exist_ok=True)
            scipy.io.savemat(root / "Inertial" / f"{key}_inertial.mat", {"d_iner": rng.normal(size=(30 + s, 6))})
            if key != "a1_s2_t2":
                scipy.io.savemat(root / "Skeleton" / f"{key}_skeleton.mat", {"d_skel": rng.normal(size=(20, 3, 10 + t))})
    (root / "Skeleton" / "readme.txt").write_text("x")
    return root


def test_info_json(run, tiny):
    rc, out, err = run("data", "info", "--dataset", "utd-mhad", "--root", str(tiny), "--json")
    assert rc == 0, err
    info = json.loads(out)
    assert info["recordings"] == 4
    assert info["modalities"] == {"inertial": 4, "skeleton": 3, "depth": 0, "rgb": 0}
    assert info["missing"]["incomplete"] == {"a1_s2_t2": ["skeleton"]}
    assert len(info["missing"]["absent"]) == 27 * 8 * 4 - 4
    assert info["skipped"] == [{"path": str(tiny / "Skeleton" / "readme.txt"),
                                "reason": "unknown file name pattern (expected a{A}_s{S}_t{T}_skeleton.mat)"}]
    assert info["split"] == {"protocol": "cross_subject", "train": 2, "val": 0, "test": 2, "validation": {
        "rule": "none", "subjects": [],
        "how": "no validation split (data.val_subjects auto: too few training subjects in cross_subject to hold one "
               "out)"}}
    assert err.strip() == ("harkd: warning: data.val_subjects auto: protocol cross_subject of utd-mhad has 1 training "
                           "subject(s) (1), too few to hold one out: no validation split, every model keeps its last "
                           "epoch (set data.val_subjects: null to carve validation recordings from the training "
                           "subjects instead)")
    assert info["lengths"]["inertial"] == {"min": 31, "median": 31.5, "max": 32, "n": 4}
    assert info["lengths"]["skeleton"]["n"] == 3


def test_info_plain_and_check(run, tiny):
    rc, out, _ = run("data", "info", "--root", str(tiny))
    assert rc == 0
    assert re.search(r"inertial\s+4\n", out) and "readme.txt" in out and re.search(r"a1_s2_t2\s+skeleton", out)
    (tiny / "Inertial" / "a1_s1_t2_inertial.mat").write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 40)
    rc, out, _ = run("data", "info", "--root", str(tiny), "--check", "--json")
    info = json.loads(out)
    assert rc == 1 and info["checked"]
    assert info["errors"][0]["path"].endswith("a1_s1_t2_inertial.mat")
    assert info["errors"][0]["reason"].startswith("corrupt or truncated MAT file")


def test_bad_root_one_line(run, tmp_path):
    rc, out, err = run("data", "info", "--root", str(tmp_path / "missing"))
    assert rc == 2 and out == ""
    assert err == f"harkd: error: {tmp_path / 'missing'}: utd-mhad root is not a directory\n"


def test_bad_dataset_and_protocol(run, tiny):
    rc, _, err = run("data", "info", "--dataset", "utd", "--root", str(tiny))
    assert rc == 2 and "unknown dataset 'utd'" in err
    rc, _, err = run("data", "info", "--root", str(tiny), "--protocol", "cross_subjec")
    assert rc == 2 and "did you mean 'cross_subject'?" in err


def test_help_has_examples(run):
    with pytest.raises(SystemExit):
        run("data", "info", "--help")


def test_real_data_info(run, utd_root):
    rc, out, err = run("data", "info", "--dataset", "utd-mhad", "--root", str(utd_root), "--json")
    assert rc == 0, err
    info = json.loads(out)
    assert info["modalities"] == {"inertial": 861, "skeleton": 861, "depth": 861, "rgb": 0}
    assert info["split"]["train"] + info["split"]["val"] == 431 and info["split"]["test"] == 430
    assert (info["split"]["val"], info["split"]["validation"]["subjects"]) == (108, [3])  # the auto rule's subject
    assert info["missing"]["absent"] == ["a8_s1_t4", "a23_s6_t4", "a27_s8_t4"]


def test_info_counts_with_the_auto_default_and_other_rules(run, synth_utd):
    rc, out, err = run("data", "info", "--root", str(synth_utd), "--json")
    assert rc == 0 and err == ""
    split = json.loads(out)["split"]  # training subjects 1 and 3: one held out whole
    assert split["validation"]["rule"] == "subjects" and split["train"] == split["val"] == 12
    rc, out, _ = run("data", "info", "--root", str(synth_utd), "--json", "--val-subjects", "1,3")
    assert json.loads(out)["split"]["validation"]["how"] == "training subjects 1, 3 held out (data.val_subjects [1, 3])"
    rc, out, _ = run("data", "info", "--root", str(synth_utd), "--val-subjects", "none")
    assert ("Split 'cross_subject' (validation: 15% of each class's training recordings (data.val_fraction 0.15, "
            "data.val_subjects null)):") in out


def test_info_bad_val_subjects_is_one_usage_error(run, synth_utd, capsys):
    with pytest.raises(SystemExit) as exit_:
        run("data", "info", "--root", str(synth_utd), "--val-subjects", "seven")
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1].endswith("argument --val-subjects: expected auto, none or subject ids such "
                                                 "as 7 or 1,3, got 'seven'")


@pytest.mark.parametrize("option, value, message", [
    ("--val-fraction", "nan", "expected a finite number between 0 and 1, got nan"),
    ("--val-fraction", "5", "expected a finite number between 0 and 1, got 5"),
    ("--seed", "-1", "expected a non-negative integer, got -1"),
    ("--seed", "4294967296", "expected a non-negative integer up to 4294967295, got 4294967296"),
])
def test_info_numbers_out_of_range_are_usage_errors(run, tmp_path, capsys, option, value, message):
    with pytest.raises(SystemExit) as exit_:
        run("data", "info", "--root", str(tmp_path), option, value)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.splitlines()[-1] == f"harkd data info: error: argument {option}: {message}"
