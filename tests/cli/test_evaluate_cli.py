"""``harkd evaluate``: --help defaults, results before figure warnings, the run.json data root, a closed pipe."""

import json
import os
import subprocess
import sys

import pytest
import yaml


@pytest.fixture
def trained(tmp_path, synth_utd, run, monkeypatch):
    """A 1-epoch run trained with ``HARKD_DATA_ROOT`` (``data.root`` null); the variable is unset afterwards."""
    config = tmp_path / "exp.yaml"
    config.write_text(yaml.safe_dump({
        "name": "acc", "seed": 0, "output_dir": str(tmp_path / "runs"),
        "data": {"dataset": "utd-mhad", "modalities": {"inertial": {"sensor": "acc", "length": 32}}, "cache": False},
        "model": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8], "depths": [1]}},
        "train": {"epochs": 1, "batch_size": 8},
    }))
    link = tmp_path / "data"
    link.mkdir()
    (link / "UTD-MHAD").symlink_to(synth_utd)
    monkeypatch.setenv("HARKD_DATA_ROOT", str(link))
    rc, _, err = run("train", str(config), "--evaluate", "none")
    assert rc == 0, err
    monkeypatch.delenv("HARKD_DATA_ROOT")  # a new shell
    return tmp_path / "runs" / "acc"


def test_help_shows_the_split_and_checkpoint_defaults(capsys):
    from harkd.cli.main import main

    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "--help"])
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "the split to evaluate (default: test)" in out
    assert "best: chosen on validation; last: the final epoch (default: best)" in out


def test_new_shell_evaluates_on_the_recorded_root_and_says_so(trained, run, synth_utd):
    rc, out, err = run("evaluate", str(trained), "--json", "--no-plots")
    assert rc == 0 and "Traceback" not in err
    root = (trained.parent.parent / "data" / "UTD-MHAD").resolve()
    assert err.splitlines() == [f"data root from run.json: {root}"]
    assert json.loads(out)["data_root_from"] == "run.json"


def test_unwritable_figures_warn_after_the_results(trained, run):
    (trained / "confusion_test.png").mkdir()  # cannot be written as a file (a read-only directory is the same OSError)
    rc, out, err = run("evaluate", str(trained))
    assert rc == 0 and "Traceback" not in err
    assert "top-1 accuracy" in out
    assert f"harkd: warning: could not write {trained / 'confusion_test.png'}: Is a directory (the results are " \
           "complete; --no-plots skips the figures)" in err.splitlines()
    assert f"wrote{trained / 'learning_curves.png'}" in "".join(out.split())  # rich wraps long lines
    rc, out, err = run("evaluate", str(trained), "--json")
    assert rc == 0 and json.loads(out)["figures"] == [str(trained / "learning_curves.png")]


def test_json_into_a_closed_pipe_ends_quietly(trained):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    cmd = [sys.executable, "-m", "harkd", "evaluate", str(trained), "--json", "--no-plots"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader is gone before harkd writes a byte: every write is a broken pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=300) == 0
    assert "Traceback" not in err and "Exception ignored" not in err and "BrokenPipe" not in err
    shell = subprocess.run(" ".join(cmd) + " | head -c 10", shell=True, capture_output=True, text=True, env=env,
                           timeout=300)
    assert len(shell.stdout) == 10 and "Traceback" not in shell.stderr


def test_samples_line_counts_recordings_missing_since_training(trained, run, synth_utd, tmp_path):
    import shutil

    copy = tmp_path / "copy" / "UTD-MHAD"
    shutil.copytree(synth_utd, copy)
    meta = json.loads((trained / "run.json").read_text())
    meta["data_root"] = str(copy)
    (trained / "run.json").write_text(json.dumps(meta))
    key = meta["split"]["test"][0]
    (copy / "Inertial" / f"{key}_inertial.mat").unlink()
    n = len(meta["split"]["test"])
    rc, out, err = run("evaluate", str(trained), "--no-plots")
    assert rc == 0
    assert f"samples {n - 1} (1 of run.json's {n} missing now)" in " ".join(out.split())
    assert (f"harkd: warning: 1 of the {n} test recordings in {trained / 'run.json'} are missing now: {key} "
            f"(missing inertial); evaluating the {n - 1} others") in " ".join(err.split())


@pytest.mark.parametrize("text, problem", [
    ("{not json", "not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1)): "
                  "the run directory is damaged; train it again into a new --run-dir"),
    ("", "not valid JSON (Expecting value: line 1 column 1 (char 0)): the run directory is damaged; "
         "train it again into a new --run-dir"),
    ("[1, 2]", "expected a JSON object, got list: the run directory is damaged"),
    ("{}", "no 'class_names' or 'normalization' (every harkd run writes them): the run directory is damaged; "
           "train it again into a new --run-dir"),
    ('{"class_names": [], "normalization": {}, "split": "x"}', "'split' must be an object, got \"x\": "
                                                               "the run directory is damaged"),
    ('{"class_names": [], "normalization": {}, "split": {"test": 3}}',
     "'split.test' must be a list of recording keys, got 3: the run directory is damaged"),
])
@pytest.mark.parametrize("command", [("evaluate",), ("export", "--out", "m.onnx")])
def test_a_damaged_run_json_is_one_line(trained, run, text, problem, command):
    (trained / "run.json").write_text(text)
    rc, _, err = run(command[0], str(trained), *command[1:])
    assert rc == 2 and "Traceback" not in err
    assert err.strip() == f"harkd: error: {trained / 'run.json'}: {problem}"


@pytest.mark.parametrize("content, problem", [
    (b'{"epoch": 1}\n{bad\n', "line 2 is not a JSON object of epoch metrics: delete that line "
                              "(the checkpoints do not depend on it)"),
    (b"[1]\n", "line 1 is not a JSON object of epoch metrics: delete that line (the checkpoints do not depend on it)"),
    (b"\xea\xff\x00", "not a text file (cannot decode as UTF-8): delete it or restore it from a copy"),
])
def test_a_damaged_metrics_file_is_one_line(trained, run, content, problem):
    (trained / "metrics.jsonl").write_bytes(content)
    rc, _, err = run("evaluate", str(trained))
    assert rc == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"harkd: error: {trained / 'metrics.jsonl'}: {problem}"


def test_weights_that_no_longer_fit_config_yaml(trained, run):
    config = trained / "config.yaml"
    saved = yaml.safe_load(config.read_text())
    saved["model"]["args"]["widths"] = [6]
    config.write_text(yaml.safe_dump(saved))
    rc, _, err = run("evaluate", str(trained))
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert err.startswith(f"harkd: error: {trained / 'best.pt'}: does not fit the model of {config} (size mismatch for ")
    assert err.strip().endswith("); was config.yaml edited after training? restore it")
