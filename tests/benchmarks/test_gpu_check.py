"""benchmarks/gpu_check.py on the CPU (CI has no GPU): the whole path runs, the table and the JSON are written
from what was measured, and every step is there."""

import json

import pytest

from benchmarks import gpu_check


@pytest.mark.slow
def test_the_gpu_check_runs_its_whole_path_on_the_cpu(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv("HARKD_DATA_ROOT", str(tmp_path / "work" / "data"))  # --synthetic sets it: restored after
    code = gpu_check.main(["--synthetic", "--device", "cpu", "--teacher-epochs", "1", "--student-epochs", "1",
                           "--pack", "2", "--cpu-epochs", "1", "--work", str(tmp_path / "work"), "--out", str(out)])
    assert code == 0
    report = json.loads((out / "gpu_check.json").read_text())
    for key in ("teacher", "student_kd", "student_fp32", "student_bf16", "cpu_teacher", "cpu_student"):
        assert report[key]["epoch_s"] > 0 and report[key]["device"] == "cpu", key
    assert report["student_fp32"]["precision"] == "fp32" and report["student_bf16"]["precision"] == "bf16"
    assert report["packed"]["runs"] == 2 and report["packed"]["epoch_s_mean"] > 0
    assert report["torchrun"]["exit_code"] == 0 and report["export"]["parity_passed"] is True
    assert report["peak_memory_mb"] is None and report["data"] == "synthetic UTD-MHAD"
    text = (out / "gpu_check.md").read_text()
    assert text.startswith("# GPU check (cpu)") and "- command: `" in text
    assert "| 2 KD students packed | cpu |" in text and "torchrun, 1 process, 2 epochs | cpu | - | - | exit 0" in text
    assert "| step | where | s / epoch | test acc. | note |" in capsys.readouterr().out
