"""``harkd synth mmact`` and ``harkd data info --dataset mmact``."""

from __future__ import annotations

import json

import pytest





def test_synth_then_info(run, tmp_path):
    rc, out, err = run("synth", "mmact", str(tmp_path), "--subjects", "2", "--actions", "1,36", "--scenes", "2",
                       "--sessions", "1,5", "--empty-csv", "--missing-stream", "--uneven", "--padding", "mixed")
    assert rc == 0, err
    assert "8 takes (8 acc_phone, 8 acc_watch, 7 gyro, 8 orientation files)" in out
    assert (tmp_path / "gyro/subject02/scene02/session01/waving_hand.csv").is_file()
    assert (tmp_path / "acc_watch/subject1/scene2/session1/carrying.csv").stat().st_size == 0
    rc, out, err = run("data", "info", "--dataset", "mmact", "--root", str(tmp_path), "--protocol", "cross_session",
                       "--json")
    assert rc == 0, err
    info = json.loads(out)
    assert info["recordings"] == 8
    assert {m: n for m, n in info["modalities"].items() if n} == {
        "acc_phone": 8, "acc_watch": 7, "gyro": 7, "orientation": 8, "inertial": 7}
    assert info["skipped"] == [{"path": str(tmp_path / "acc_watch/subject1/scene2/session1/carrying.csv"),
                                "reason": "empty file (0 bytes)"}]
    assert info["missing"]["incomplete"] == {"s1_sc2_se1_carrying": ["acc_watch"],
                                             "s2_sc2_se5_waving_hand": ["gyro", "inertial"]}
    assert info["split"]["test"] == 4
    rc, out, _ = run("data", "info", "--dataset", "mmact", "--root", str(tmp_path))
    assert rc == 0 and "empty file (0 bytes)" in out and "acc_phone    8" in out


@pytest.mark.parametrize("args, message", [
    (("--subjects", "21"), "--subjects must be between 1 and 20, got 21"),
    (("--actions", "37"), "--actions: ids must be between 1 and 36, got 37"),
    (("--scenes", "5"), "--scenes: ids must be between 1 and 4, got 5"),
    (("--sessions", "0-2"), "--sessions: ids must be between 1 and 5, got 0"),
])
def test_bad_values_one_line(run, tmp_path, args, message):
    rc, out, err = run("synth", "mmact", str(tmp_path / "x"), *args)
    assert rc == 2 and err.strip() == f"harkd: error: {message}"
    assert not (tmp_path / "x").exists()


def test_cross_view_needs_views_dataset(run, tmp_path):
    run("synth", "mmact", str(tmp_path), "--subjects", "1", "--actions", "1", "--scenes", "1", "--sessions", "1")
    rc, _, err = run("data", "info", "--dataset", "mmact", "--root", str(tmp_path), "--protocol", "cross_view")
    assert rc == 2 and "use dataset 'mmact-views'" in err and len(err.strip().splitlines()) == 1
