"""UTD-MHAD through a manifest (benchmarks/utd_manifest.py) equals the built-in loader: split keys and metrics."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA_ROOT = os.environ.get("HARKD_DATA_ROOT")
pytestmark = pytest.mark.skipif(not DATA_ROOT, reason="real-data test skipped: set HARKD_DATA_ROOT to the data root "
                                                       "(e.g. ../shared/data)")
SHORT = ["train.epochs=2", "schedule.warmup_epochs=1", "train.deterministic=true"]


def test_acc_cnn1d_through_the_manifest_has_the_builtin_split_and_metrics(tmp_path, monkeypatch):
    import harkd
    from harkd.engine.rundir import read_run_meta

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from utd_manifest import write_manifest
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    monkeypatch.setenv("HARKD_CACHE_DIR", str(tmp_path / "cache"))
    utd = Path(DATA_ROOT) / "UTD-MHAD"
    config = write_manifest(utd, tmp_path / "manifest")
    builtin = harkd.train(str(ROOT / "configs" / "utd_mhad" / "acc_cnn1d.yaml"), tmp_path / "builtin",
                          overrides=SHORT, evaluate=None)
    manifest = harkd.train(str(config), tmp_path / "through_manifest", overrides=SHORT, evaluate=None)
    a, b = read_run_meta(builtin), read_run_meta(manifest)
    assert b["split"] == a["split"]
    assert len(a["split"]["train"]) + len(a["split"]["val"]) == 431 and len(a["split"]["test"]) == 430
    assert b["class_names"] == a["class_names"]
    assert b["normalization"] == a["normalization"]
    lines = [[json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
             for run in (builtin, manifest)]
    drop = ("seconds", "time")
    assert [{k: v for k, v in r.items() if k not in drop} for r in lines[1]] == \
           [{k: v for k, v in r.items() if k not in drop} for r in lines[0]]
    test = [harkd.evaluate(run)["accuracy"] for run in (builtin, manifest)]
    assert test[1] == test[0]


def test_the_manifest_reads_the_builtin_arrays(tmp_path):
    import numpy as np
    import yaml

    from harkd.data import get_dataset
    from harkd.data.manifest import ManifestDataset

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from utd_manifest import write_manifest
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    config = yaml.safe_load(write_manifest(Path(DATA_ROOT) / "UTD-MHAD", tmp_path).read_text())
    spec = ManifestDataset("utd-manifest-test", yaml.safe_load(Path(config["data"]["manifest"]).read_text()), tmp_path)
    builtin = get_dataset("utd-mhad")
    index, reference = spec.scan(), builtin.scan(Path(DATA_ROOT) / "UTD-MHAD")
    assert index.keys == reference.keys and [r.label for r in index] == [r.label for r in reference]
    for key in ("a1_s1_t1", "a27_s8_t3"):
        for modality, options in (("inertial", {"sensor": "acc"}), ("inertial", {}), ("skeleton", {})):
            got = spec.load(index[key], modality, **options)
            want = builtin.load(reference[key], modality, **options)
            assert got.dtype == want.dtype and np.array_equal(got, want)
