"""benchmarks/gpu_check.py on the CPU (CI has no GPU): the whole path runs, the table and the JSON are written
from what was measured, and every step is there."""

import json
import os

import pytest

from benchmarks import gpu_check


@pytest.mark.slow
def test_the_gpu_check_runs_its_whole_path_on_the_cpu(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HARKD_DATA_ROOT", str(tmp_path / "elsewhere"))
    out = tmp_path / "out"
    code = gpu_check.main(["--synthetic", "--device", "cpu", "--teacher-epochs", "1", "--student-epochs", "1",
                           "--pack", "2", "--cpu-epochs", "1", "--work", str(tmp_path / "work"), "--out", str(out)])
    assert code == 0
    assert os.environ["HARKD_DATA_ROOT"] == str(tmp_path / "elsewhere"), "the data root of later tests is left as it was"
    report = json.loads((out / "gpu_check.json").read_text())
    for key in ("teacher", "student_kd", "student_fp32", "student_bf16", "cpu_teacher", "cpu_student"):
        assert report[key]["epoch_s"] > 0 and report[key]["device"] == "cpu", key
    assert report["student_fp32"]["precision"] == "fp32" and report["student_bf16"]["precision"] == "bf16"
    packed = report["packed"]
    assert packed["runs"] == 2 and packed["epoch_s_mean"] > 0 and packed["seeds"] == [100, 101]
    assert len(packed["kd"]["values"]) == len(packed["no_kd"]["values"]) == 2 and packed["gain"]["n"] == 2
    assert packed["gain"]["mean"] == pytest.approx(packed["kd"]["mean"] - packed["no_kd"]["mean"])
    targets = report["targets"]  # the same weights on the same device: identical targets, augmentation off
    assert targets["recordings"] > 0 and targets["max_abs_diff"] == 0 and targets["argmax_agreement"] == 1
    assert report["torchrun"]["exit_code"] == 0 and report["export"]["parity_passed"] is True
    assert report["peak_memory_mb"] is None and report["data"] == "synthetic UTD-MHAD"
    text = (out / "gpu_check.md").read_text()
    assert text.startswith("# GPU check (cpu)") and "- command: `" in text
    assert "| 2 KD students packed | cpu |" in text and "packed with their no-KD twins" in text
    assert "| teacher targets softmax(z / 4), " in text and "cpu vs cpu | - | - | max abs diff 0.0e+00" in text and "torchrun, 1 process, 2 epochs | cpu | - | - | exit 0" in text
    assert "| step | where | s / epoch | test acc. | note |" in capsys.readouterr().out
