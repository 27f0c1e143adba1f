"""``harkd synth``."""

from __future__ import annotations

import pytest
import scipy.io

import harkd.cli.main as cli_main




def test_writes_small_dataset(run, tmp_path):
    rc, out, err = run("synth", "utd-mhad", str(tmp_path), "--subjects", "2", "--trials", "1",
                       "--actions", "1,22-23", "--depth-size", "30x40", "--seed", "5")
    assert rc == 0, err
    assert "6 recordings" in out and "depth 30x40" in out
    assert len(list((tmp_path / "Depth").glob("*.mat"))) == 6
    depth = scipy.io.loadmat(tmp_path / "Depth" / "a23_s2_t1_depth.mat")["d_depth"]
    skel = scipy.io.loadmat(tmp_path / "Skeleton" / "a23_s2_t1_skeleton.mat")["d_skel"]
    assert depth.shape == (30, 40, skel.shape[2])


def test_no_depth_and_like_release(run, tmp_path):
    rc, out, err = run("synth", "utd-mhad", str(tmp_path), "--subjects", "1", "--actions", "8", "--no-depth",
                       "--like-release")
    assert rc == 0, err
    assert "3 recordings" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Inertial", "Skeleton"]
    assert not (tmp_path / "Inertial" / "a8_s1_t4_inertial.mat").exists()


@pytest.mark.parametrize("dataset, extra", [("mmact", ()), ("berkeley-mhad", ("--repetitions", "1"))])
def test_no_depth_is_accepted_where_nothing_is_left_out(run, tmp_path, dataset, extra):
    rc, out, err = run("synth", dataset, str(tmp_path), "--subjects", "1", "--actions", "1", "--no-depth", *extra)
    assert rc == 0, err
    assert not any(p.suffix == ".mp4" for p in tmp_path.rglob("*"))


def test_no_depth_contradicts_video(run, tmp_path):
    rc, out, err = run("synth", "mmact", str(tmp_path / "x"), "--no-depth", "--video")
    assert (rc, err.strip()) == (2, "harkd: error: --no-depth and --video contradict each other: --no-depth writes "
                                    "no camera data")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("args, message", [
    (("--actions", "30"), "--actions: ids must be between 1 and 27, got 30"),
    (("--actions", "1,x"), "--actions: cannot read 'x'"),
    (("--depth-size", "0x5"), "--depth-size: expected HEIGHTxWIDTH"),
    (("--subjects", "9"), "--subjects must be between 1 and 8"),
    (("--trials", "0"), "--trials must be between 1 and 4"),
])
def test_bad_values_give_one_clear_error(run, tmp_path, args, message):
    rc, out, err = run("synth", "utd-mhad", str(tmp_path / "x"), *args)
    assert rc == 2
    assert err.strip().startswith("harkd: error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_help_text(monkeypatch, capsys):
    monkeypatch.setattr(cli_main, "SUBCOMMAND_MODULES", ("synth",))
    with pytest.raises(SystemExit) as exc:
        cli_main.main(["synth", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "harkd synth utd-mhad" in out and "--no-depth" in out
    assert "s02_a07_r05" in out and "s04_a08_r05" in out and "_t-pose" in out  # berkeley --like-release
