"""Bad arguments and files for export / stream / bench: one-line errors, nothing half-written, reasons given."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil

import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from harkd.cli.main import main  # noqa: E402
from harkd.errors import InputError  # noqa: E402
from harkd.export import export_run, manifest_path  # noqa: E402
from harkd.export.bench import bench  # noqa: E402

REEXPORT = "re-export the model with harkd export"


def usage_error(capsys, argv) -> str:
    """The last stderr line of an argparse usage error (exit status 2, no traceback)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2 and "Traceback" not in err
    return err.splitlines()[-1]


def files(folder) -> dict:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


# ---------------------------------------------------------------------------- export
@pytest.mark.parametrize("option, value, message", [
    ("--rate", "0", "expected a finite number > 0, got 0"),
    ("--rate", "-50", "expected a finite number > 0, got -50"),
    ("--rate", "nan", "expected a finite number > 0, got nan"),
    ("--rate", "inf", "expected a finite number > 0, got inf"),
    ("--rate", "fast", "expected a number > 0, got 'fast'"),
    ("--window-samples", "1", "expected an integer >= 2, got 1"),
    ("--window-samples", "2.5", "expected an integer >= 2, got '2.5'"),
    ("--window-samples", "100001", "expected an integer >= 2 up to 100000, got 100001"),
    ("--checkpoint", "worst", "invalid choice: 'worst' (choose from 'best', 'last')"),
])
def test_export_argument_ranges(raw_run, tmp_path, capsys, option, value, message):
    out = tmp_path / "m.onnx"
    line = usage_error(capsys, ["export", str(raw_run), "--out", str(out), option, value])
    assert line == f"harkd export: error: argument {option}: {message}"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"rate": 0}, "rate must be a sampling rate in Hz > 0, got 0"),
    ({"rate": -50.0}, "rate must be a sampling rate in Hz > 0, got -50.0"),
    ({"rate": float("nan")}, "rate must be a sampling rate in Hz > 0, got nan"),
    ({"window_samples": 1}, "window_samples must be an integer >= 2, got 1"),
])
def test_export_api_ranges_are_checked_before_writing(raw_run, tmp_path, kwargs, message):
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        export_run(raw_run, "onnx", tmp_path / "m.onnx", log=lambda m: None, **kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fail_in", ["parity_windows", "count_macs"])  # after the model file is written
@pytest.mark.parametrize("error, code, line", [
    (OSError(errno.ENOSPC, "No space left on device"), 1,
     "harkd: error: {out}: No space left on device (free some space or choose another directory)"),
    (KeyboardInterrupt(), 130, "harkd: interrupted"),
])
def test_failed_export_leaves_an_earlier_export_untouched(raw_run, tmp_path, capsys, monkeypatch, fail_in, error,
                                                          code, line):
    import harkd.export.exporter as exporter

    out = tmp_path / "m.onnx"
    out.write_bytes(b"an earlier export")
    manifest_path(out).write_text('{"earlier": true}')
    before = files(tmp_path)
    if isinstance(error, OSError):
        error.filename = str(out)

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(exporter, fail_in, fail)
    assert main(["export", str(raw_run), "--out", str(out)]) == code
    assert capsys.readouterr().err.splitlines()[-1] == line.format(out=out)
    assert files(tmp_path) == before  # no temporary file, the earlier model and manifest as they were


def test_failed_manifest_rename_leaves_no_model(raw_run, tmp_path, capsys, monkeypatch):
    import harkd.export.exporter as exporter

    out = tmp_path / "m.onnx"
    real_replace = os.replace

    def replace(src, dst):
        if str(dst) == str(manifest_path(out)):
            raise OSError(errno.EIO, "Input/output error", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(exporter.os, "replace", replace)
    assert main(["export", str(raw_run), "--out", str(out)]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == f"harkd: error: {manifest_path(out)}: Input/output error"
    assert list(tmp_path.iterdir()) == []


def test_export_output_is_a_directory_or_under_a_file(raw_run, tmp_path, capsys):
    folder = tmp_path / "models.onnx"
    folder.mkdir()
    assert main(["export", str(raw_run), "--out", str(folder)]) == 2
    assert capsys.readouterr().err == (f"harkd: error: export output {folder} is a directory: name the model file, "
                                       f"e.g. {folder / 'model.onnx'}\n")
    plain = tmp_path / "notes.txt"
    plain.write_text("x")
    assert main(["export", str(raw_run), "--format", "torchscript", "--out", str(plain / "m.pt")]) == 2
    assert capsys.readouterr().err == (f"harkd: error: export output {plain / 'm.pt'}: {plain} is a file, "
                                       "not a directory\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models.onnx", "notes.txt"] and not list(folder.iterdir())


# ------------------------------------------------------------------------- manifests
def copy_model(raw_onnx, tmp_path, edit=None, text=None):
    """The exported model in ``tmp_path`` with its manifest edited or replaced by ``text``."""
    model = tmp_path / "m.onnx"
    shutil.copy(raw_onnx, model)
    manifest = json.loads(manifest_path(raw_onnx).read_text())
    if edit:
        edit(manifest)
    manifest_path(model).write_text(json.dumps(manifest) if text is None else text)
    return model


@pytest.mark.parametrize("edit, text, problem", [
    (None, '{"format": "onnx",', "corrupt manifest, not valid JSON (Expecting property name enclosed in double "
                                 "quotes at line 1 column 19)"),
    (None, "", "corrupt manifest, not valid JSON (Expecting value at line 1 column 1)"),
    (None, "[1, 2]", "corrupt manifest: expected a JSON object, got list"),
    (lambda m: m.pop("class_names"), None, "manifest lacks 'class_names'"),
    (lambda m: [m.pop(k) for k in ("stream_columns", "window_seconds")], None,
     "manifest lacks 'window_seconds', 'stream_columns'"),
    (lambda m: m.update(window_samples="150"), None, "manifest key 'window_samples' must be an integer >= 2, "
                                                     'got "150"'),
    (lambda m: m.update(sampling_rate_hz=0), None, "manifest key 'sampling_rate_hz' must be a number > 0, got 0"),
    (lambda m: m.update(class_names=[]), None, "manifest key 'class_names' must be a non-empty list of strings, "
                                               "got []"),
    (lambda m: m.update(format="tflite"), None, "manifest key 'format' must be 'onnx' or 'torchscript', "
                                                'got "tflite"'),
    (lambda m: m.update(stream_columns=[0, 1]), None, "manifest lists 3 channels but 2 stream_columns"),
])
def test_stream_with_a_bad_manifest(raw_onnx, tmp_path, capsys, edit, text, problem):
    model = copy_model(raw_onnx, tmp_path, edit, text)
    data = tmp_path / "s.csv"
    data.write_text("0,0,0,0\n")
    assert main(["stream", str(model), "--input", str(data)]) == 2
    assert capsys.readouterr().err == f"harkd: error: {manifest_path(model)}: {problem}; {REEXPORT}\n"


def test_bench_with_a_bad_manifest(raw_onnx, tmp_path, capsys):
    model = copy_model(raw_onnx, tmp_path, lambda m: m.pop("model"))
    assert main(["bench", str(model), "--runs", "1"]) == 2
    assert capsys.readouterr().err == f"harkd: error: {manifest_path(model)}: manifest lacks 'model'; {REEXPORT}\n"


def test_stream_class_names_that_do_not_match_the_model(raw_onnx, tmp_path, capsys):
    model = copy_model(raw_onnx, tmp_path, lambda m: m.update(class_names=["a", "b", "c"]))
    manifest = json.loads(manifest_path(model).read_text())
    data = tmp_path / "s.csv"
    data.write_text("".join(f"{i / 50:.3f},0.1,0.2,0.3\n" for i in range(manifest["window_samples"] + 5)))
    assert main(["stream", str(model), "--input", str(data)]) == 2
    assert capsys.readouterr().err == ("harkd: error: the model returns 27 probabilities per window but its manifest "
                                       f"lists 3 class_names; {REEXPORT}\n")


# ---------------------------------------------------------------------------- stream
@pytest.mark.parametrize("option, value, message", [
    ("--window", "0", "expected a finite number > 0, got 0"),
    ("--window", "-3.5", "expected a finite number > 0, got -3.5"),
    ("--rate", "0", "expected a finite number > 0, got 0"),
    ("--rate", "fifty", "expected a number > 0, got 'fifty'"),
    ("--hop", "-1", "expected a finite number > 0, got -1"),
    ("--max-gap", "nan", "expected a finite number > 0, got nan"),
    ("--threads", "0", "expected a positive integer, got 0"),
])
def test_stream_argument_ranges(raw_onnx, tmp_path, capsys, option, value, message):
    data = tmp_path / "s.csv"
    data.write_text("0,0,0,0\n")
    line = usage_error(capsys, ["stream", str(raw_onnx), "--input", str(data), option, value])
    assert line == f"harkd stream: error: argument {option}: {message}"


def test_stream_input_is_a_directory(raw_onnx, tmp_path, capsys):
    assert main(["stream", str(raw_onnx), "--input", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"harkd: error: {tmp_path}: is a directory: pass a text file of rows, "
                                       "or - for stdin\n")


def rows(times, values="0.1,0.2,0.3"):
    return "".join(f"{t:.4f},{values}\n" for t in times)


def test_stream_shorter_than_the_window_says_why(raw_onnx, tmp_path, capsys):
    manifest = json.loads(manifest_path(raw_onnx).read_text())
    w, seconds = manifest["window_samples"], manifest["window_seconds"]
    data = tmp_path / "s.csv"
    data.write_text(rows([i / 50 for i in range(20)]))
    assert main(["stream", str(raw_onnx), "--input", str(data)]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err.splitlines()[-1] == (f"harkd: warning: 0 windows: the input holds 20 samples at 50 Hz (0.40 s), "
                                    f"fewer than the window of {w} samples ({seconds:g} s); stream a longer input "
                                    "or pass a shorter --window")


@pytest.mark.parametrize("text, options, reason", [
    # two stretches split by a 1 s gap; the longer one has 30 samples
    (rows([i / 50 for i in range(20)] + [1.4 + i / 50 for i in range(30)]), [],
     "the longest stretch between gaps holds 30 samples at 50 Hz (0.60 s), fewer than the window of 40 samples "
     "(0.8 s); stream a longer input or pass a shorter --window"),
    # --rate and --window given: samples counted on the resampled grid
    (rows([i / 50 for i in range(15)]), ["--rate", "100", "--window", "0.5"],
     "the input holds 29 samples at 100 Hz (0.29 s), fewer than the window of 50 samples (0.5 s); "
     "stream a longer input or pass a shorter --window"),
    ("# only a comment\n", [], "the input has no valid rows (0 read, 0 malformed); "
                               "expected rows 'timestamp,x,y,z[,gx,gy,gz]'"),
    ("hello\n1,2\n", [], "the input has no valid rows (2 read, 2 malformed); "
                         "expected rows 'timestamp,x,y,z[,gx,gy,gz]'"),
])
def test_zero_windows_reasons(raw_onnx, tmp_path, capsys, text, options, reason):
    data = tmp_path / "s.csv"
    data.write_text(text)
    window = [] if options else ["--window", "0.8"]
    assert main(["stream", str(raw_onnx), "--input", str(data), *window, *options]) == 0
    assert capsys.readouterr().err.splitlines()[-1] == f"harkd: warning: 0 windows: {reason}"


# ----------------------------------------------------------------------------- bench
@pytest.mark.parametrize("option, value, message", [
    ("--runs", "0", "expected a positive integer, got 0"),
    ("--runs", "ten", "expected a positive integer, got 'ten'"),
    ("--warmup", "-1", "expected a non-negative integer, got -1"),
    ("--window-samples", "1", "expected an integer >= 2, got 1"),
])
def test_bench_argument_ranges(raw_onnx, capsys, option, value, message):
    line = usage_error(capsys, ["bench", str(raw_onnx), option, value])
    assert line == f"harkd bench: error: argument {option}: {message}"


@pytest.mark.parametrize("kwargs, message", [({"runs": 0}, "runs must be an integer >= 1, got 0"),
                                             ({"warmup": -1}, "warmup must be an integer >= 0, got -1"),
                                             ({"runs": 2.5}, "runs must be an integer >= 1, got 2.5")])
def test_bench_api_ranges(raw_onnx, kwargs, message):
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        bench(raw_onnx, **kwargs)
