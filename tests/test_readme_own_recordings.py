"""The README's "Your own recordings" example runs as written: a generated manifest dataset, a pose teacher,
a KD phone student, export."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

import harkd.cli.main as cli_main

ROOT = Path(__file__).resolve().parents[1]


def section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("### Your own recordings")
    return text[start:text.index("\n## ", start)]


def test_the_readme_shows_the_manifest_as_it_is_in_configs():
    shown = re.search(r"```yaml\n(.*?)```", section(), re.S).group(1)
    assert shown == (ROOT / "configs" / "phone_har" / "manifest.yaml").read_text()


@pytest.mark.slow
def test_the_readme_commands_run_as_written(tmp_path, monkeypatch, capsys):
    commands = [line.split("#")[0].strip() for line in re.search(r"```bash\n(.*?)```", section(), re.S).group(1)
                .splitlines() if line.strip()]
    assert [c.split()[:2] for c in commands] == [["harkd", "synth"], ["harkd", "data"], ["harkd", "train"],
                                                 ["harkd", "distill"], ["harkd", "export"]]
    (tmp_path / "configs").symlink_to(ROOT / "configs")  # a fresh clone's working directory
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HARKD_CACHE_DIR", str(tmp_path / "cache"))
    outputs = []
    for command in commands:
        code = cli_main.main(shlex.split(command)[1:])
        out, err = capsys.readouterr()
        assert code == 0, f"{command}: {err}"
        outputs.append(out)
    assert "36 recordings (36 phone CSVs, 24 MediaPipe CSVs, labels.csv)" in outputs[0]
    assert "acc         36" in outputs[1] and "skeleton    24" in outputs[1] and "(--check)" in outputs[1]
    student = json.loads((tmp_path / "runs" / "phone_acc_kd" / "run.json").read_text())
    assert student["kind"] == "distill" and student["class_names"] == [
        "jog", "sit down", "squat", "stand up", "walk", "wave"]
    manifest = json.loads((tmp_path / "phone_acc.onnx.json").read_text())
    assert manifest["channels"] == ["acc_x", "acc_y", "acc_z"]
    assert manifest["units"] == ["m/s^2"] * 3 and manifest["sampling_rate_hz"] == 50.0
    saved = yaml.safe_load((tmp_path / "runs" / "phone_pose_stgcn" / "config.yaml").read_text())
    assert saved["data"]["manifest"]["modalities"]["skeleton"]["format"] == "mediapipe-csv"
    assert saved["data"]["root"] == str(tmp_path / "phone-har")
