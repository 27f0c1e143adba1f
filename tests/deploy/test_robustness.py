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
from harkd.deploy import export_run, manifest_path  # noqa: E402
from harkd.deploy.bench import bench  # noqa: E402

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
    import harkd.deploy.exporter as exporter

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
    import harkd.deploy.exporter as exporter

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


@pytest.mark.parametrize("edit, problem", [
    (lambda m: m.update(class_names=["a", "b", "c"]), "it says 3 class_names but the model file gives 27 probabilities"),
    (lambda m: m.update(window_samples=100, window_seconds=2.0), "it says window_samples 100 but the model file takes 186"),
    (lambda m: m.update(channels=m["channels"] + ["gyro_x"], stream_columns=[0, 1, 2, 3]),
     "it says channels 4 but the model file takes 3"),
])
def test_a_manifest_that_disagrees_with_its_model_is_refused_before_inference(raw_onnx, tmp_path, capsys, edit,
                                                                              problem):
    model = copy_model(raw_onnx, tmp_path, edit)
    data = tmp_path / "s.csv"
    data.write_text("".join(f"{i / 50:.3f},0.1,0.2,0.3\n" for i in range(400)))
    assert main(["stream", str(model), "--input", str(data)]) == 2
    assert capsys.readouterr() == ("", f"harkd: error: {manifest_path(model)}: manifest does not match m.onnx: "
                                       f"{problem}; {REEXPORT}\n")


def test_a_window_in_seconds_that_is_not_the_window_in_samples_is_refused(raw_onnx, tmp_path, capsys):
    model = copy_model(raw_onnx, tmp_path, lambda m: m.update(window_seconds=2.0))
    assert main(["stream", str(model), "--input", "-"]) == 2
    assert capsys.readouterr().err == (f"harkd: error: {manifest_path(model)}: manifest window_seconds 2 at "
                                       f"sampling_rate_hz 50 is 100 samples, but window_samples is 186; {REEXPORT}\n")


def test_a_torchscript_model_is_checked_against_its_manifest_too(raw_run, tmp_path):
    from harkd.errors import DataError
    from harkd.deploy import ExportedModel

    model = tmp_path / "m.pt"
    export_run(raw_run, "torchscript", model, log=lambda m: None)
    manifest = json.loads(manifest_path(model).read_text())
    ExportedModel(model)  # the manifest it was exported with fits
    for edit, problem in [({"class_names": ["a", "b"]}, "it says 2 class_names but the model file gives 27 "
                                                        "probabilities"),
                          ({"window_samples": 100, "window_seconds": 2.0}, "it says window_samples 100 but the "
                                                                          "model file takes 186")]:
        manifest_path(model).write_text(json.dumps({**manifest, **edit}))
        with pytest.raises(DataError) as err:
            ExportedModel(model)
        assert str(err.value) == f"{manifest_path(model)}: manifest does not match m.pt: {problem}; {REEXPORT}"
    # a file without the stored input shape (exported before it was stored): one call on the manifest's window
    import torch

    torch.jit.save(torch.jit.load(str(model)), str(model))
    manifest_path(model).write_text(json.dumps({**manifest, "channels": manifest["channels"] + ["gyro_x"],
                                                "stream_columns": [0, 1, 2, 3]}))
    with pytest.raises(DataError) as err:
        ExportedModel(model)
    assert str(err.value).startswith(f"{manifest_path(model)}: manifest does not match m.pt: it fails on a window of "
                                     "4 channels x 186 samples (")
    assert str(err.value).endswith(f"); {REEXPORT}") and "\n" not in str(err.value)


# ---------------------------------------------------------------------------- stream
@pytest.mark.parametrize("option, value, line", [
    ("--window", "0", "harkd stream: error: argument --window: expected a finite number > 0, got 0"),
    ("--window", "-3.5", "harkd stream: error: argument --window: expected a finite number > 0, got -3.5"),
    ("--rate", "0", "harkd stream: error: argument --rate: expected a finite number > 0, got 0"),
    ("--rate", "fifty", "harkd stream: error: argument --rate: expected a number > 0, got 'fifty'"),
    ("--hop", "-1", "harkd stream: error: argument --hop: expected a finite number > 0, got -1"),
    ("--max-gap", "nan", "harkd stream: error: argument --max-gap: expected a finite number > 0, got nan"),
    ("--threads", "0", "harkd stream: error: argument --threads: expected a positive integer, got 0"),
    # beyond any sensor stream (once the model's rate and window are known)
    ("--hop", "1e308", "harkd: error: --hop must be a positive number up to 3600 s, got 1e+308"),
    ("--window", "1e308", "harkd: error: --window must be a positive number up to 3600 s, got 1e+308"),
    ("--rate", "1e9", "harkd: error: --rate must be a positive number up to 100000 Hz, got 1000000000.0"),
    ("--max-gap", "1e300", "harkd: error: --max-gap must be a positive number up to 86400 s, got 1e+300"),
])
def test_stream_argument_ranges(raw_onnx, tmp_path, capsys, option, value, line):
    data = tmp_path / "s.csv"
    data.write_text("0,0,0,0\n")
    try:
        code = main(["stream", str(raw_onnx), "--input", str(data), option, value])
    except SystemExit as exit_:  # an argparse usage error
        code = exit_.code
    out, err = capsys.readouterr()
    assert (code, out) == (2, "") and "Traceback" not in err
    assert err.splitlines()[-1] == line


def test_stream_input_is_a_directory(raw_onnx, tmp_path, capsys):
    assert main(["stream", str(raw_onnx), "--input", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"harkd: error: {tmp_path}: is a directory: pass a text file of rows, "
                                       "or - for stdin\n")


def rows(times, values="0.1,0.2,0.3"):
    return "".join(f"{t:.4f},{values}\n" for t in times)


def stream_error(capsys, argv) -> str:
    """The one line of a stream that made no window: exit 2, nothing on stdout, the error last on stderr."""
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err and "windows/s" not in err
    return err.splitlines()[-1]


def test_stream_shorter_than_the_window_says_why(raw_onnx, tmp_path, capsys):
    manifest = json.loads(manifest_path(raw_onnx).read_text())
    w, seconds = manifest["window_samples"], manifest["window_seconds"]
    data = tmp_path / "s.csv"
    data.write_text(rows([i / 50 for i in range(20)]))
    assert stream_error(capsys, ["stream", str(raw_onnx), "--input", str(data)]) == (
        f"harkd: error: {data}: 0 windows: the input holds 20 samples at 50 Hz (0.40 s), fewer than the window of "
        f"{w} samples ({seconds:g} s); stream a longer input or pass a shorter --window")


@pytest.mark.parametrize("text, options, reason", [
    # two stretches split by a 1 s gap; the longer one has 30 samples
    (rows([i / 50 for i in range(20)] + [1.4 + i / 50 for i in range(30)]), [],
     "the longest stretch between gaps holds 30 samples at 50 Hz (0.60 s), fewer than the window of 40 samples "
     "(0.8 s); stream a longer input or pass a shorter --window"),
    # --rate and --window given: samples counted on the resampled grid
    (rows([i / 50 for i in range(15)]), ["--rate", "100", "--window", "0.5"],
     "the input holds 29 samples at 100 Hz (0.29 s), fewer than the window of 50 samples (0.5 s); "
     "stream a longer input or pass a shorter --window"),
    ("", [], "the input holds no rows; expected rows 'timestamp,x,y,z[,gx,gy,gz]'"),
    ("# only a comment\n", [], "the input holds no rows; expected rows 'timestamp,x,y,z[,gx,gy,gz]'"),
    ("timestamp,x,y,z\n", [], "the input holds no rows but its header; expected rows 'timestamp,x,y,z[,gx,gy,gz]'"),
    ("hello\n1,2\n", [], "the input has no valid rows (1 read, 1 malformed: too few values (1)); expected rows "
                         "'timestamp,x,y,z[,gx,gy,gz]', or pass --columns to choose the model's 3 channel column(s)"),
    ("t x y z\n" + rows(range(60), "nan,0,0") + rows(range(60, 80), "1e308,0,0"), [],
     "the input has no valid rows (80 read, 80 malformed: NaN or infinite value (60), value beyond the float32 range "
     "of the model's input (20)); expected rows 'timestamp,x,y,z[,gx,gy,gz]'"),
    # stamps in seconds read as milliseconds: 40 rows are 0.8 ms, one sample of the 50 Hz grid
    (rows([i / 50 for i in range(40)]), ["--time-unit", "ms"],
     "the input holds 1 samples at 50 Hz (0.02 s), fewer than the window of 40 samples (0.8 s); the timestamps step "
     "by a median of 0.02 (2e-05 s as read), which at 50 Hz looks like seconds: pass --time-unit s"),
])
def test_zero_windows_is_an_error_that_says_why(raw_onnx, tmp_path, capsys, text, options, reason):
    data = tmp_path / "s.csv"
    data.write_text(text)
    window = [] if options and options[0] == "--rate" else ["--window", "0.8"]
    line = stream_error(capsys, ["stream", str(raw_onnx), "--input", str(data), *window, *options])
    assert line == f"harkd: error: {data}: 0 windows: {reason}"


def test_millisecond_stamps_read_as_seconds_stop_at_the_third_row(raw_onnx, tmp_path, capsys):
    data = tmp_path / "s.csv"
    data.write_text("".join(f"{1_700_000_000_000 + 20 * i},0.1,0.2,0.3\n" for i in range(300)))
    assert stream_error(capsys, ["stream", str(raw_onnx), "--input", str(data)]) == (
        f"harkd: error: {data}: line 4: each of the first 3 steps between rows is a gap (> 0.2 s); the timestamps "
        "step by a median of 20 (20 s as read), which at 50 Hz looks like milliseconds: pass --time-unit ms")
    assert main(["stream", str(raw_onnx), "--input", str(data), "--time-unit", "ms"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 1 + (300 - 186) // 25 and "0 gap(s)" in err


@pytest.mark.parametrize("write, problem", [
    (lambda p: p.write_text("timestamp,x,y,z\n0,1,2,3\n", encoding="utf-16"),  # with a byte-order mark
     "line 1: UTF-16 text, not UTF-8 text rows: convert it to UTF-8 first (e.g. iconv -f UTF-16 -t UTF-8)"),
    (lambda p: p.write_text("0,1,2,3\n0.02,1,2,3\n", encoding="utf-16-le"),  # without
     "line 1: UTF-16 text, not UTF-8 text rows: convert it to UTF-8 first (e.g. iconv -f UTF-16 -t UTF-8)"),
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00" + bytes(range(256))),
     "line 2: binary data, not UTF-8 text rows: expected text rows 'timestamp,x,y,z[,gx,gy,gz]'"),
])
def test_text_that_is_not_utf8_rows_is_named(raw_onnx, tmp_path, capsys, write, problem):
    data = tmp_path / "s.csv"
    write(data)
    assert main(["stream", str(raw_onnx), "--input", str(data)]) == 2
    assert capsys.readouterr() == ("", f"harkd: error: {data}: {problem}\n")


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
                                             ({"runs": 2.5}, "runs must be an integer >= 1, got 2.5"),
                                             ({"runs": 10**6 + 1}, "runs must be at most 1000000, got 1000001"),
                                             ({"warmup": 10**15}, "warmup must be at most 1000000, got "
                                                                  "1000000000000000"),
                                             ({"repeats": 1001}, "repeats must be at most 1000, got 1001")])
def test_bench_api_ranges(raw_onnx, kwargs, message):
    with pytest.raises(InputError, match=f"^{re.escape(message)}$"):
        bench(raw_onnx, **kwargs)


def test_bench_counts_beyond_a_day_of_timing_are_one_line(raw_onnx, capsys):
    assert main(["bench", str(raw_onnx), "--runs", "1", "--repeats", str(10**15)]) == 2
    assert capsys.readouterr() == ("", "harkd: error: repeats must be at most 1000, got 1000000000000000\n")
