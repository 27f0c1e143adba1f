"""benchmarks/resident_speed.py on a small synthetic UTD-MHAD: both paths timed, the table printed, a clear skip."""

from benchmarks import resident_speed
from harkd.data.synth import write_utd_mhad


def test_times_both_paths_on_the_cpu(tmp_path, monkeypatch, capsys):
    write_utd_mhad(tmp_path / "UTD-MHAD", subjects=(1, 2, 3, 4), trials=(1,), actions=(1, 2, 3), seed=0,
                   depth_size=(60, 80))
    monkeypatch.setenv("HARKD_DATA_ROOT", str(tmp_path))
    monkeypatch.setenv("HARKD_CACHE_DIR", str(tmp_path / "cache"))
    assert resident_speed.main(["--epochs", "1", "--devices", "cpu", "--no-write"]) == 0
    out = capsys.readouterr().out
    assert "6 training recordings, batch size 32" in out
    rows = [line for line in out.splitlines() if line.startswith("| cpu |")]
    assert [row.split(" | ")[1] for row in rows] == ["DataLoader", "resident"]
    assert rows[0].endswith("| 1.0x |") and all(" | 1 | " in row for row in rows)  # one batch of 6


def test_skips_without_data(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HARKD_DATA_ROOT", str(tmp_path))
    assert resident_speed.main(["--no-write"]) == 0
    assert capsys.readouterr().out == "skipped: no UTD-MHAD under --root / HARKD_DATA_ROOT (e.g. ../shared/data)\n"
