"""harkd bench: JSON fields for a run directory and for an exported file."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("onnxruntime")

from harkd.cli.main import main  # noqa: E402


def test_bench_run_dir_json(raw_run, capsys):
    assert main(["bench", str(raw_run), "--runs", "5", "--warmup", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"target", "date", "machine", "model", "parameters", "macs_per_window", "window_samples",
            "window_seconds", "size_bytes", "latency", "batch"} <= set(result)
    assert result["parameters"] > 0 and result["macs_per_window"] > 0 and result["batch"] == 1
    assert set(result["size_bytes"]) == {"state_dict_float32", "torchscript", "onnx", "onnx_int8"}
    assert [(r["runtime"], r["threads"]) for r in result["latency"]] == [
        (rt, th) for rt in ("pytorch-eager", "torchscript", "onnx", "onnx-int8") for th in ("1", "all")]
    for row in result["latency"]:
        assert row["runs"] == 5 and 0 < row["median_ms"] <= row["p95_ms"]


def test_bench_exported_file_and_table(raw_onnx, capsys):
    assert main(["bench", str(raw_onnx), "--runs", "5", "--warmup", "1"]) == 0
    out = capsys.readouterr().out
    assert "| runtime | threads | median ms | p95 ms |" in out and "| onnxruntime | 1 (1) |" in out


def test_bench_missing_target(tmp_path, capsys):
    assert main(["bench", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip() == (f"harkd: error: {tmp_path / 'nope'}: not found: pass a run directory "
                                              "or an exported .onnx / TorchScript file")


def test_time_calls_repeats_report_every_block_and_the_best():
    from harkd.deploy.bench import time_calls

    delays = iter([0.004] * 3 + [0.0] * 3 + [0.002] * 3)  # three blocks of three calls: slow, fast, middle

    def call():
        import time

        time.sleep(next(delays))

    timing = time_calls(call, runs=3, warmup=0, repeats=3)
    slow, fast, middle = timing["repeat_medians_ms"]
    assert fast < middle < slow and timing["best_median_ms"] == fast
    assert timing["repeats"] == 3 and timing["runs"] == 3
    assert fast <= timing["median_ms"] <= slow


def test_bench_repeats_add_the_best_block_column(raw_onnx, capsys):
    assert main(["bench", str(raw_onnx), "--runs", "3", "--warmup", "0", "--repeats", "2"]) == 0
    out = capsys.readouterr().out
    assert "| runtime | threads | median ms | p95 ms | best of 2 block medians ms |" in out


def test_bench_rejects_zero_repeats(raw_onnx, capsys):
    with pytest.raises(SystemExit):
        main(["bench", str(raw_onnx), "--repeats", "0"])
    assert "harkd bench: error: argument --repeats: expected a positive integer, got 0" in capsys.readouterr().err
