"""``harkd plot``: several runs' curves in one image; one-line errors for a missing run, an unknown key,
an empty metrics file and an unwritable image name."""

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "deploy"))
from tinyruns import train_tiny  # noqa: E402

pytest.importorskip("matplotlib")

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def seed_runs(synth_utd, tmp_path_factory):
    """The tiny raw student, seeds 0 and 1 (2 and 3 epochs)."""
    out = tmp_path_factory.mktemp("plot")
    return [str(train_tiny(synth_utd, out / f"s{seed}", "raw", epochs=2 + seed, seed=seed)) for seed in (0, 1)]


def test_runs_are_overlaid_into_one_image(run, seed_runs, tmp_path):
    out = tmp_path / "curves.png"
    rc, stdout, err = run("plot", *seed_runs, "--keys", "val_accuracy, train_loss", "--out", str(out))
    assert rc == 0 and err == ""
    assert stdout == f"wrote {out} (2 runs: val_accuracy, train_loss)\n"
    assert out.read_bytes().startswith(PNG)
    rc, stdout, err = run("plot", seed_runs[0], "--out", f"{tmp_path / 'figures'}/")  # a folder gets curves.png
    assert rc == 0 and err == ""
    assert stdout == f"wrote {tmp_path / 'figures' / 'curves.png'} (1 run: train_loss, val_loss, val_accuracy)\n"


def test_a_missing_run_is_one_line(run, seed_runs, tmp_path):
    rc, out, err = run("plot", seed_runs[0], str(tmp_path / "nope"), "--out", str(tmp_path / "x.png"))
    assert (rc, out) == (2, "")
    assert err == (f"harkd: error: {tmp_path / 'nope'}: not found: give run directories written by harkd train or "
                   "harkd distill\n")
    (tmp_path / "started").mkdir()
    rc, _, err = run("plot", str(tmp_path / "started"), "--out", str(tmp_path / "x.png"))
    assert rc == 2 and err == (f"harkd: error: {tmp_path / 'started' / 'metrics.jsonl'}: not found: is this a harkd "
                               "run directory? (a run writes it after its first epoch)\n")
    assert not (tmp_path / "x.png").exists()


def test_an_empty_metrics_file_is_one_line(run, seed_runs, tmp_path):
    empty = tmp_path / "empty"
    shutil.copytree(seed_runs[0], empty)
    (empty / "metrics.jsonl").write_text("")
    rc, _, err = run("plot", str(empty), "--out", str(tmp_path / "x.png"))
    assert rc == 2 and err == (f"harkd: error: {empty / 'metrics.jsonl'}: holds no epoch yet: the run has not "
                               "finished its first epoch\n")


def test_an_unknown_key_lists_the_available_ones(run, seed_runs, tmp_path):
    rc, _, err = run("plot", *seed_runs, "--keys", "val_acc", "--out", str(tmp_path / "x.png"))
    assert rc == 2 and err == ("harkd: error: --keys: no 'val_acc' in any run's metrics.jsonl; available: lr, seconds, "
                               "train_loss, val_accuracy, val_loss, val_macro_f1\n")
    rc, _, err = run("plot", *seed_runs, "--keys", ",", "--out", str(tmp_path / "x.png"))
    assert rc == 2 and err == "harkd: error: --keys: give at least one key, e.g. --keys train_loss,val_loss\n"


def test_an_image_name_matplotlib_cannot_write_is_refused_before_reading_runs(run, tmp_path):
    rc, _, err = run("plot", str(tmp_path / "nope"), "--out", str(tmp_path / "curves"))
    assert rc == 2 and err.startswith(f"harkd: error: --out {tmp_path / 'curves'} has no image extension: name a file "
                                      f"such as {tmp_path / 'curves'}.png, or a directory as {tmp_path / 'curves'}/ ")
