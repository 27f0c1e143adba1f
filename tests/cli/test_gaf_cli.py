"""``harkd gaf``: preview PNG of a UTD-MHAD inertial .mat, and its error messages."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.io import savemat

from harkd.cli import main as cli_main

pytest.importorskip("matplotlib")


@pytest.fixture(autouse=True)
def only_gaf(monkeypatch):
    """Run the real ``main`` with only this subcommand, independent of the others."""
    monkeypatch.setattr(cli_main, "SUBCOMMAND_MODULES", ("gaf",))


@pytest.fixture
def inertial(tmp_path):
    t = np.arange(150) / 50.0
    data = np.stack([np.sin(2 * np.pi * f * t) * (c + 1) for c, f in enumerate([0.5, 1, 1.5, 2, 2.5, 3])], axis=1)
    data[:, 2] = 1.0  # a constant axis must plot fine too
    path = tmp_path / "a1_s1_t1_inertial.mat"
    savemat(path, {"d_iner": data})
    return path


def run(capsys, *argv):
    code = cli_main.main(["gaf", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def is_png(path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("extra", [[], ["--sensor", "all", "--method", "difference", "--image-size", "32"],
                                   ["--sensor", "gyro", "--method", "summation"]])
def test_writes_png(capsys, tmp_path, inertial, extra):
    out_png = tmp_path / "sub" / "preview.png"
    code, out, err = run(capsys, inertial, "--out", out_png, *extra)
    assert code == 0, err
    assert is_png(out_png)
    assert out.startswith(f"wrote {out_png}")


def test_real_file(capsys, tmp_path, utd_root):
    path = utd_root / "Inertial" / "a10_s1_t1_inertial.mat"
    if not path.is_file():
        pytest.skip(f"real-data test skipped: {path} not found")
    code, _, err = run(capsys, path, "--sensor", "all", "--image-size", "64", "--out", tmp_path / "real.png")
    assert code == 0, err
    assert is_png(tmp_path / "real.png")


def write_bytes(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("make,problem", [
    (lambda d: d / "missing.mat", "file not found"),
    (lambda d: write_bytes(d / "corrupt.mat", b"this is not a MAT file at all" * 8),
     "not a MATLAB MAT-file (no 'MATLAB 5.0 MAT-file' header)"),
    (lambda d: write_bytes(d / "empty.mat", b""), "empty file (0 bytes)"),
    (lambda d: (savemat(d / "other.mat", {"skeleton": np.zeros((3, 4))}), d / "other.mat")[1],
     "variable 'd_iner' not found (variables: skeleton)"),
    (lambda d: (savemat(d / "shape.mat", {"d_iner": np.zeros((50, 3))}), d / "shape.mat")[1],
     "variable 'd_iner' has shape (50, 3), expected 'd_iner' (T x 6)"),
    (lambda d: (savemat(d / "nan.mat", {"d_iner": np.full((50, 6), np.nan)}), d / "nan.mat")[1],
     "variable 'd_iner' has 300 NaN/inf value(s) (first at frame 0)"),
])
def test_bad_files_exit_2_with_one_line(capsys, tmp_path, make, problem):
    path = make(tmp_path)
    code, out, err = run(capsys, path, "--out", tmp_path / "x.png")
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith(f"harkd: error: {path}: {problem}")
    assert not (tmp_path / "x.png").exists()


def test_image_size_too_large(capsys, tmp_path, inertial):
    code, _, err = run(capsys, inertial, "--image-size", "151", "--out", tmp_path / "x.png")
    assert code == 2
    assert err == f"harkd: error: {inertial}: --image-size 151 exceeds the recording length T=150\n"


def test_bad_arguments_are_usage_errors(capsys, tmp_path, inertial):
    with pytest.raises(SystemExit) as exit_info:
        cli_main.main(["gaf", str(inertial), "--image-size", "0", "--out", str(tmp_path / "x.png")])
    assert exit_info.value.code == 2
    assert "expected a positive integer, got 0" in capsys.readouterr().err


def test_missing_matplotlib(capsys, tmp_path, inertial, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    code, _, err = run(capsys, inertial, "--out", tmp_path / "x.png")
    assert code == 2
    assert err == ("harkd: error: harkd gaf needs the optional package 'matplotlib': "
                   "pip install 'harkd[plot]'\n")


def supported_extensions() -> str:
    from matplotlib.figure import Figure

    return ", ".join(sorted(Figure().canvas.get_supported_filetypes()))


@pytest.mark.parametrize("out, message", [
    ("x.xyz", "--out {d}/x.xyz: unsupported image format '.xyz' (supported extensions: {s})"),
    ("preview", "--out {d}/preview has no image extension: name a file such as {d}/preview.png, or a directory "
                "as {d}/preview/ (supported extensions: {s})"),
])
def test_out_without_a_supported_extension(capsys, tmp_path, out, message):
    """Checked before the recording is read (the .mat does not even exist here)."""
    code, stdout, err = run(capsys, tmp_path / "missing.mat", "--out", f"{tmp_path}/{out}")
    assert code == 2 and stdout == ""
    assert err == "harkd: error: " + message.format(d=tmp_path, s=supported_extensions()) + "\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("out, written", [
    ("existing", "existing/a1_s1_t1_inertial_gaf.png"),        # an existing directory
    ("new/", "new/a1_s1_t1_inertial_gaf.png"),                 # a trailing slash: a directory, created
    ("with.dot/", "with.dot/a1_s1_t1_inertial_gaf.png"),
    ("deep/er/plot.svg", "deep/er/plot.svg"),                  # missing parents are created
    ("UPPER.PNG", "UPPER.PNG"),
])
def test_out_writes_where_it_says(capsys, tmp_path, inertial, out, written):
    (tmp_path / "existing").mkdir()
    code, stdout, err = run(capsys, inertial, "--out", f"{tmp_path}/{out}")
    assert code == 0, err
    assert stdout.startswith(f"wrote {tmp_path / written} (acc, summation + difference, 3 axes, N=150)")
    assert (tmp_path / written).is_file() and (tmp_path / written).stat().st_size > 1000
    created = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert created == sorted(["a1_s1_t1_inertial.mat", written])  # nothing else, e.g. no 'existing.png'


def test_out_under_a_file(capsys, tmp_path, inertial):
    (tmp_path / "plain").write_text("x")
    code, _, err = run(capsys, inertial, "--out", tmp_path / "plain" / "x.png")
    assert code == 2
    assert err == f"harkd: error: --out {tmp_path / 'plain' / 'x.png'}: {tmp_path / 'plain'} is a file, not a directory\n"


def test_backend_failure_is_one_line_and_leaves_nothing(capsys, tmp_path, inertial, monkeypatch):
    from matplotlib.figure import Figure

    def no_tex(self, fname, **kwargs):
        with open(fname, "w") as handle:
            handle.write("half")
        raise RuntimeError("'xelatex' not found")

    monkeypatch.setattr(Figure, "savefig", no_tex)
    out = tmp_path / "out" / "plot.pgf"
    code, _, err = run(capsys, inertial, "--out", out)
    assert code == 2
    assert err == (f"harkd: error: --out {out}: matplotlib cannot write '.pgf' files here ('xelatex' not found); "
                   "choose another extension, e.g. .png\n")
    assert list((tmp_path / "out").iterdir()) == []


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        cli_main.main(["gaf", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "axes to show (default: acc)" in text and "GASF, GADF or both (default: both)" in text
