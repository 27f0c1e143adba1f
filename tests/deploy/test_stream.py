"""harkd stream: ring buffer, resampling on timestamps, gaps, malformed rows, stdin; segment check."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from harkd.cli.main import main  # noqa: E402
from harkd.deploy import export_run, manifest_path  # noqa: E402
from harkd.deploy.exporter import load_for_export  # noqa: E402
from harkd.deploy.stream import StreamConfig, StreamPredictor, parse_row  # noqa: E402

from benchmarks.streamdata import parse_predictions, per_recording_labels, write_stream  # noqa: E402


def _clips(loaded, keys):
    train = loaded.prepared.datasets["train"]
    index, spec = train.index, train.spec
    return [(r.key, spec.class_names[r.label], spec.load(r, "inertial", root=index.root, sensor="all"))
            for r in index.subset(keys)]


def test_parse_row():
    assert parse_row("1.5, 1 2\t3", 3)[0] == 1.5
    row = parse_row("1700000000.018158,1,2,3,4,5,6", 3)  # the timestamp exactly as written, however large
    assert (str(row.time), row.count) == ("1700000000.018158", 6)
    np.testing.assert_array_equal(parse_row("0,1,2,3,4,5,6", 6, columns=[5, 3, 4]).values, [6, 4, 5])
    np.testing.assert_array_equal(parse_row("0 1 2 3 4 5 6", 3)[1], [1, 2, 3])
    for bad, reason in [("1,2", "expected a timestamp and at least 3 values, got 2 field(s)"),
                        ("a,b,c,d", "not a number"), ("1,2,inf,3", "NaN or infinite value"),
                        ("1,2,1e300,3", "value beyond the float32 range of the model's input")]:
        with pytest.raises(ValueError, match=re.escape(reason)):
            parse_row(bad, 3)


def test_ring_buffer_hops_and_resampling():
    """A constant-rate stream gives one window at fill, then one per hop; an uneven one the same grid."""
    seen = []

    def model(x):
        seen.append(x.copy())
        return np.array([[0.25, 0.75]], dtype=np.float32)

    config = StreamConfig(rate=10.0, window=1.0, hop=0.5)
    p = StreamPredictor(model, ["a", "b"], [0], 10, config, report=lambda m: None)
    lines = [f"{i / 10:.3f},{i}" for i in range(30)]
    out = [o for n, line in enumerate(lines, 1) for o in p.feed(line, n)]
    assert out == ["0.900,b,0.7500", "1.400,b,0.7500", "1.900,b,0.7500", "2.400,b,0.7500", "2.900,b,0.7500"]
    np.testing.assert_allclose(seen[0][0, 0], np.arange(10))  # oldest first
    np.testing.assert_allclose(seen[-1][0, 0], np.arange(20, 30))
    # uneven timestamps of a linear signal: the resampled grid is exact
    seen.clear()
    p = StreamPredictor(model, ["a", "b"], [0], 10, StreamConfig(rate=10.0, window=1.0, hop=0.5, max_gap=0.3),
                        report=lambda m: None)
    times = [0.0, 0.03, 0.21, 0.29, 0.45, 0.52, 0.77, 0.9, 1.15, 1.2]
    for n, t in enumerate(times, 1):
        p.feed(f"{t},{100 * t}", n)
    np.testing.assert_allclose(seen[0][0, 0], 100 * np.arange(10) / 10, atol=1e-4)
    # a window longer than the model's is resampled to the model's W
    seen.clear()
    p = StreamPredictor(model, ["a", "b"], [0], 10, StreamConfig(rate=10.0, window=2.0, hop=1.0), report=lambda m: None)
    for n in range(20):
        p.feed(f"{n / 10},{n}", n + 1)
    assert seen[0].shape == (1, 1, 10)
    np.testing.assert_allclose(seen[0][0, 0], np.linspace(0, 19, 10), atol=1e-4)


def test_gaps_and_malformed_rows_are_reported_not_fatal():
    messages = []
    p = StreamPredictor(lambda x: np.array([[1.0]]), ["a"], [0, 1, 2], 5, StreamConfig(rate=10, window=0.5, hop=0.1),
                        report=messages.append)
    lines = ["0.0,1,2,3", "0.1,1,2,3", "garbage", "0.2,1,2", "0.2,1,2,3", "0.15,1,2,3", "", "# comment",
             "5.0,1,2,3", "5.1,1,2,3", "5.2,1,2,3", "5.3,1,2,3", "5.4,1,2,3", "5.5 1 2 3"]
    out = [o for n, line in enumerate(lines, 1) for o in p.feed(line, n)]
    assert out == ["5.400,a,1.0000", "5.500,a,1.0000"]  # the gap reset the 3 samples collected before it
    assert messages == [
        "harkd stream: line 3: expected a timestamp and at least 3 values, got 1 field(s); skipped: 'garbage'",
        "harkd stream: line 4: expected a timestamp and at least 3 values, got 3 field(s); skipped: '0.2,1,2'",
        "harkd stream: line 6: timestamp 0.15 does not increase (previous 0.2); skipped",
        "harkd stream: line 9: gap of 4.800 s after t=0.200 (> 0.2 s); buffer reset",
    ]
    assert (p.stats.rows, p.stats.malformed, p.stats.gaps, p.stats.windows) == (12, 3, 1, 2)


def test_stream_options_are_checked(raw_onnx, tmp_path, capsys):
    data = tmp_path / "s.csv"
    data.write_text("0,0,0,0\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["stream", str(raw_onnx), "--input", str(data), "--hop", "0"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == ("harkd stream: error: argument --hop: expected a finite "
                                                        "number > 0, got 0")
    assert main(["stream", str(raw_onnx), "--input", str(tmp_path / "none.csv")]) == 2
    assert capsys.readouterr().err.strip() == f"harkd: error: {tmp_path / 'none.csv'}: input stream file not found"
    assert main(["stream", str(tmp_path / "none.onnx"), "--input", str(data)]) == 2
    assert capsys.readouterr().err.strip() == f"harkd: error: {tmp_path / 'none.onnx'}: model file not found"


@pytest.fixture(scope="module", params=[None, "int8"])
def stream_model(trained_raw_run, tmp_path_factory, request):
    """The well-trained raw 1D CNN exported as fp32 and as static int8 ONNX (stream runs both)."""
    out = tmp_path_factory.mktemp("stream-model") / f"acc_{request.param or 'fp32'}.onnx"
    export_run(trained_raw_run, "onnx", out, quantize=request.param, log=lambda m: None)
    return trained_raw_run, out


def _eager_accuracy(loaded, keys, split="train"):
    """Whole-clip accuracy of the eager model on ``keys`` (what the stream is compared with)."""
    import torch

    ds = loaded.prepared.datasets[split]
    with torch.no_grad():
        hits = [int(loaded.model(ds[i]["inertial"][None]).argmax()) == ds.recordings[i].label
                for i in range(len(ds)) if ds.recordings[i].key in keys]
    return float(np.mean(hits))


def _check_segments(loaded, manifest_file, predictions_text, segments, stderr, split="train"):
    manifest = json.loads(manifest_file.read_text())
    predictions = parse_predictions(predictions_text)
    assert predictions and all(label in manifest["class_names"] and 0 < p <= 1 for _, label, p in predictions)
    labels = per_recording_labels(predictions, segments, manifest["window_seconds"])
    streamed = float(np.mean([got == want for got, (_, want, _, _) in zip(labels, segments)]))
    eager = _eager_accuracy(loaded, {k for k, *_ in segments}, split)
    assert "malformed, skipped" in stderr and "windows/s" in stderr
    return streamed, eager


def test_stream_synthetic_recordings_from_file_and_stdin(stream_model, tmp_path, capsys, monkeypatch):
    run, model = stream_model
    loaded = load_for_export(run)
    # training-split recordings: this checks the streaming pipeline, not the tiny model's generalisation
    keys = loaded.prepared.datasets["train"].keys[::3][:8]
    text, segments = write_stream(_clips(loaded, keys), jitter=0.004, drop=0.05, gap_after=3)
    data = tmp_path / "stream.csv"
    data.write_text(text)
    assert main(["stream", str(model), "--input", str(data), "--hop", "0.1"]) == 0
    captured = capsys.readouterr()
    assert "gap of 1.0" in captured.err and "buffer reset" in captured.err
    assert re.search(r"harkd stream: line \d+: expected a timestamp and at least 3 values, got 2 field\(s\); "
                     r"skipped: 'hello,world'", captured.err)
    assert "NaN or infinite value" in captured.err and "does not increase" in captured.err
    assert f"({4 * len(segments)} malformed, skipped), 1 gap(s)" in captured.err  # 4 malformed rows per recording
    streamed, eager = _check_segments(loaded, manifest_path(model), captured.out, segments, captured.err)
    # streamed windows straddle neighbouring recordings, so allow a margin below the whole-clip accuracy
    assert streamed >= eager - 0.25 and streamed >= 0.4, (streamed, eager)
    # stdin (whitespace separated) gives the same predictions
    monkeypatch.setattr(sys, "stdin", io.StringIO(text.replace(",", " ")))
    assert main(["stream", str(model), "--input", "-", "--hop", "0.1"]) == 0
    assert capsys.readouterr().out == captured.out


def test_stream_reads_a_pipe(raw_onnx):
    text = "".join(f"{t / 50:.3f},{np.sin(t / 5):.4f},0.1,-0.9\n" for t in range(400)) + "oops\n"
    proc = subprocess.run([sys.executable, "-m", "harkd", "stream", str(raw_onnx), "--input", "-", "--hop", "1"],
                          input=text, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    window = json.loads(manifest_path(raw_onnx).read_text())["window_samples"]
    assert len(lines) == 1 + (400 - window) // 50
    assert "line 401: expected a timestamp" in proc.stderr and "400 rows" not in proc.stderr
    assert "401 rows (1 malformed, skipped), 0 gap(s)" in proc.stderr


def test_stream_real_utd_mhad_recordings(utd_root, tmp_path, capsys):
    """Real UTD-MHAD test recordings concatenated as a 50 Hz text stream (with malformed rows and a gap)
    through a small 1D CNN trained here on the real training subjects."""
    from harkd.engine.config import load_config
    from harkd.engine.experiment import train_experiment

    cfg = load_config(data={
        "name": "real_tiny", "seed": 0, "output_dir": str(tmp_path),
        "data": {"dataset": "utd-mhad", "root": str(utd_root), "modalities": {"inertial": {
            "sensor": "acc", "length": 128, "normalize": True}}},
        "model": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [16, 32, 64], "depths": [1, 1, 1]}},
        "optim": {"name": "adamw", "lr": 3e-3, "weight_decay": 1e-2}, "schedule": {"name": "cosine"},
        "train": {"epochs": 20, "batch_size": 32, "label_smoothing": 0.1},
    })
    run = train_experiment(cfg, log=lambda m: None, progress=False)
    model = tmp_path / "real.onnx"
    export_run(run, "onnx", model, log=lambda m: None)
    loaded = load_for_export(run)
    keys = loaded.prepared.datasets["test"].keys[::27][:16]  # 16 test recordings, mixed actions and subjects
    text, segments = write_stream(_clips(loaded, keys), jitter=0.003, drop=0.03, gap_after=7)
    data = tmp_path / "real.csv"
    data.write_text(text)
    assert main(["stream", str(model), "--input", str(data), "--hop", "0.1"]) == 0
    captured = capsys.readouterr()
    assert f"({4 * len(segments)} malformed, skipped), 1 gap(s)" in captured.err
    streamed, eager = _check_segments(loaded, manifest_path(model), captured.out, segments, captured.err, "test")
    # a 3.5 s window over concatenated ~2-5 s clips always mixes in a neighbour: allow 25 points below
    # the model's whole-clip accuracy on the same recordings
    assert streamed >= eager - 0.25 and streamed >= 0.3, (streamed, eager)


@pytest.mark.parametrize("rate, window, samples", [(1e5, 3.74, "374,000"), (50.0, 3600.0, "180,000")])
def test_a_window_too_large_to_buffer_is_refused(rate, window, samples):
    from harkd.errors import InputError

    with pytest.raises(InputError) as err:
        StreamConfig(rate=rate, window=window, hop=0.5)
    assert str(err.value) == (f"--window {window:g} s at {rate:g} Hz holds {samples} samples, more than the "
                              "100,000 a stream buffers: lower --window or --rate")


@pytest.mark.parametrize("make, message", [
    (lambda: StreamConfig(rate=10, window=0.3, hop=0.1, time_scale=1e9),
     "--time-scale must be a positive number up to 86400 s per timestamp unit, got 1000000000.0"),
    (lambda: StreamConfig(rate=10, window=0.3, hop=float("nan")), "--hop must be a positive number up to 3600 s, "
                                                                   "got nan"),
    (lambda: StreamPredictor(lambda x: x, ["a"], [0, 1, 2], 3, StreamConfig(rate=10, window=0.3, hop=0.1),
                             select=[0, 1, 2]),
     "--columns takes header names or column numbers >= 1 (1: the first value after the timestamp), got [0, 1, 2]"),
    (lambda: StreamPredictor(lambda x: x, ["a"], [0, 1, 2], 3, StreamConfig(rate=10, window=0.3, hop=0.1),
                             select=[1, 2]), "--columns names 2 column(s) but the model reads 3 channel(s)"),
])
def test_stream_api_arguments_are_checked(make, message):
    from harkd.errors import InputError

    with pytest.raises(InputError) as err:
        make()
    assert str(err.value) == message


def test_threads_beyond_any_host_are_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["stream", "model.onnx", "--input", "-", "--threads", "100000"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    assert err.strip().splitlines()[-1] == ("harkd stream: error: argument --threads: expected a positive integer "
                                            "up to 256, got 100000")


# ------------------------------------------------------------------------- any clock
UNIX_US = 1_700_000_000_123_000  # a Unix time in microseconds (2023-11-14 22:13:20.123 UTC)


def clock_rows(origin_us: int, unit: str, n: int = 500, gap_at: int = 300) -> str:
    """The same rows (50 Hz with +-4 ms jitter, a 1 s gap before row ``gap_at``, a header) stamped from
    ``origin_us`` microseconds, written in ``unit`` (s, ms, us) as a logger writes them."""
    rng = np.random.default_rng(0)
    offsets = np.arange(n) * 20_000 + rng.integers(-4000, 4000, n)
    offsets[0] = 0
    offsets[gap_at:] += 1_000_000
    values = rng.normal(size=(n, 3))
    lines = ["timestamp,x,y,z"]
    for offset, v in zip(offsets, values):
        us = origin_us + int(offset)
        stamp = {"s": f"{us // 10**6}.{us % 10**6:06d}", "ms": f"{us // 1000}.{us % 1000:03d}", "us": str(us)}[unit]
        lines.append(f"{stamp},{v[0]:.5f},{v[1]:.5f},{v[2]:.5f}")
    return "\n".join(lines) + "\n"


def test_windows_and_predictions_do_not_depend_on_the_clock(raw_onnx, tmp_path, capsys):
    """Unix seconds, milliseconds and microseconds give exactly the windows and probabilities of the same rows
    stamped from 0 (a header row is taken silently; the gap resets the grid the same way on every clock)."""
    from decimal import Decimal

    results = {}
    for origin_us, unit in [(0, "s"), (UNIX_US, "s"), (UNIX_US, "ms"), (UNIX_US, "us")]:
        data = tmp_path / f"{origin_us}{unit}.csv"
        data.write_text(clock_rows(origin_us, unit))
        assert main(["stream", str(raw_onnx), "--input", str(data), "--hop", "0.5", "--time-unit", unit]) == 0
        out, err = capsys.readouterr()
        assert "line 1:" not in err and "500 rows (0 malformed, skipped), 1 gap(s)" in err
        origin = Decimal(origin_us) / 10**6
        results[origin_us, unit] = [(Decimal(t) - origin, rest) for t, rest in
                                    (line.split(",", 1) for line in out.splitlines())]
    reference = results[0, "s"]
    last_row = Decimal(clock_rows(0, "s").splitlines()[-1].split(",")[0])
    assert len(reference) == 1 + (200 - 186) // 25 + 1 + (300 - 186) // 25  # after the gap, then before it
    assert all(t <= last_row for t, _ in reference)
    for key, windows in results.items():
        assert windows == reference, key  # count, relative timestamps, labels and probabilities


# -------------------------------------------------------------------------- columns
def test_extra_values_are_an_error_unless_columns_choose_the_channels(raw_onnx, tmp_path, capsys):
    rows = clock_rows(0, "s").splitlines()
    plain = tmp_path / "plain.csv"
    plain.write_text("\n".join(rows) + "\n")
    assert main(["stream", str(raw_onnx), "--input", str(plain)]) == 0
    expected = capsys.readouterr().out
    # a logger's extra column (a step counter) before the axes
    extra = tmp_path / "extra.csv"
    extra.write_text("\n".join(["timestamp,steps,x,y,z"] + [f"{r.split(',', 1)[0]},7,{r.split(',', 1)[1]}"
                                                            for r in rows[1:]]) + "\n")
    assert main(["stream", str(raw_onnx), "--input", str(extra)]) == 2
    assert capsys.readouterr() == ("", f"harkd: error: {extra}: line 2: 4 values after the timestamp, but the model "
                                       "reads 3 (or the 6 of 'timestamp,x,y,z[,gx,gy,gz]'): pass --columns to choose "
                                       "the model's 3 channel column(s), e.g. --columns 1,2,3\n")
    for columns in ("2,3,4", "x,y,z", "X,y,4"):
        assert main(["stream", str(raw_onnx), "--input", str(extra), "--columns", columns]) == 0
        assert capsys.readouterr().out == expected, columns
    for columns, message in [
        ("x,y,q", f"{extra}: --columns 'q' is not a column of the header on line 1 (timestamp, steps, x, y, z); "
                  "name value columns or pass numbers, e.g. --columns 1,2,3"),
        ("timestamp,y,z", f"{extra}: --columns 'timestamp' is the timestamp of the header on line 1 (timestamp, "
                          "steps, x, y, z); name value columns or pass numbers, e.g. --columns 1,2,3"),
        ("2,3", "--columns names 2 column(s) but the model reads 3 channel(s)")]:
        assert main(["stream", str(raw_onnx), "--input", str(extra), "--columns", columns]) == 2
        assert capsys.readouterr() == ("", f"harkd: error: {message}\n")
    headless = tmp_path / "headless.csv"
    headless.write_text("\n".join(rows[1:]) + "\n")
    assert main(["stream", str(raw_onnx), "--input", str(headless), "--columns", "x,y,z"]) == 2
    assert capsys.readouterr() == ("", f"harkd: error: {headless}: --columns x,y,z names columns, but the input has "
                                       "no header row (line 1 is the first row): pass column numbers, e.g. "
                                       "--columns 1,2,3\n")


@pytest.mark.parametrize("columns, message", [
    ("0,1,2", "column numbers count the values after the timestamp from 1 to 10000, got 0 (0 is the timestamp)"),
    ("1,1,2", "column 1 given twice in '1,1,2'"),
    ("1,,2", "expected column numbers or header names separated by commas, got '1,,2'"),
])
def test_columns_option_is_checked(capsys, columns, message):
    with pytest.raises(SystemExit) as exit_:
        main(["stream", "model.onnx", "--input", "-", "--columns", columns])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"harkd stream: error: argument --columns: {message}"


def test_a_later_row_with_extra_values_is_skipped_not_fatal():
    messages = []
    p = StreamPredictor(lambda x: np.array([[1.0]]), ["a"], [0, 1, 2], 3, StreamConfig(rate=10, window=0.3, hop=0.1),
                        report=messages.append)
    lines = ["0.0,1,2,3", "0.1,1,2,3,4", "0.1,1,2,3,4,5,6", "0.2,1,2,3", "0.3,1,2,3,4,5,6,7"]
    out = [o for n, line in enumerate(lines, 1) for o in p.feed(line, n)]
    assert out == ["0.200,a,1.0000"]
    assert messages == [
        "harkd stream: line 2: 4 values after the timestamp, but the model reads 3 (or the 6 of "
        "'timestamp,x,y,z[,gx,gy,gz]'); skipped: '0.1,1,2,3,4'",
        "harkd stream: line 5: 7 values after the timestamp, but the model reads 3 (or the 6 of "
        "'timestamp,x,y,z[,gx,gy,gz]'); skipped: '0.3,1,2,3,4,5,6,7'"]


# ------------------------------------------------------------------- closed streams
SRC = str(Path(__file__).resolve().parents[2] / "src")


def shell(command: str) -> subprocess.CompletedProcess:
    """``command`` in bash with this checkout's harkd (``HARKD`` expands to ``python -m harkd``)."""
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(["bash", "-c", command.replace("HARKD", f"{sys.executable} -m harkd")], capture_output=True,
                          text=True, env=env, timeout=120)


def test_closed_stdin_and_stderr(raw_onnx, tmp_path):
    proc = shell(f"HARKD stream {raw_onnx} --input - <&-")
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        2, "", "harkd: error: --input -: stdin is closed: pipe rows in (e.g. sensor_reader | harkd ...) or pass a "
               "file instead of -\n")
    data = tmp_path / "s.csv"
    data.write_text(clock_rows(0, "s"))
    proc = shell(f"HARKD stream {raw_onnx} --input {data} 2>&-")  # the summary and the gap report go nowhere
    assert proc.returncode == 0 and proc.stderr == ""
    assert len(proc.stdout.splitlines()) == 6 and all(re.fullmatch(r"\d+\.\d{3},[^,]+,[01]\.\d{4}", line)
                                                      for line in proc.stdout.splitlines())
    proc = shell(f"HARKD stream {raw_onnx} --input {tmp_path / 'none.csv'} 2>&-")
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", "")
