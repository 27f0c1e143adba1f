"""benchmarks/device_table.py: every row's config loads, and ``device_int8_best`` is the row named before its
runs, not the best row of the table (which would select on the test split)."""

import json
from pathlib import Path

import pytest

from benchmarks import device_table, kd_table
from harkd.recipes import get_recipe

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("label,size,kind,config,epochs", device_table.ROWS, ids=[r[0] for r in device_table.ROWS])
def test_row_config_loads(label, size, kind, config, epochs):
    overrides = [*device_table.COMMON, *device_table.STUDENT_AUGMENT, "seed=1"]
    if epochs:
        overrides.append(f"train.epochs={epochs}")
    if kind == "distill":
        overrides += [f"teachers.{i}.run=runs/teacher{i}" for i in range(2 if "ensemble" in config else 1)]
    cfg = get_recipe(kind).load(ROOT / "configs" / "utd_mhad" / config, overrides)
    assert cfg.train.epochs == (epochs or 60) and cfg.seed == 1


def _row(label, int8_mean, size_kb=50.0):
    return {"row": label, "size_kb_int8": size_kb, "latency_int8": {"1": {"best_median_ms": 0.04, "median_ms": 0.05}},
            "test_int8": {"mean": int8_mean, "std": 0.5, "n": 5}}


def test_the_summary_reports_the_headline_row_not_the_best_one(tmp_path):
    assert device_table.HEADLINE in [r[0] for r in device_table.ROWS]
    path = tmp_path / "summary.json"
    path.write_text(json.dumps({"utd_acc_best": {"mean": 91.5}}))
    rows = [_row("a better row on test", 95.0), _row(device_table.HEADLINE, 88.0)]
    entry = device_table.write_summary(path, rows)
    assert entry == {"mean": 88.0, "std": 0.5, "n": 5, "section": "device", "row": device_table.HEADLINE + ", int8",
                     "size_kb": 50.0, "latency_ms": 0.04, "latency_median_ms": 0.05}
    assert json.loads(path.read_text()) == {"utd_acc_best": {"mean": 91.5}, "device_int8_best": entry}


def test_no_summary_without_the_headline_row(tmp_path):
    path = tmp_path / "summary.json"
    assert device_table.write_summary(path, [_row("another row", 95.0)]) is None
    assert not path.exists()


def test_latency_is_sampled_round_robin_and_summarised_per_file(monkeypatch):
    """Every file is timed once per pass, passes interleave the files, and each file keeps the lowest and the
    median of its pass medians (the machine's slow phases hit every row alike)."""
    calls = []
    medians = {"a_fp32": [3.0, 1.0, 2.0], "a_int8": [0.5, 0.9, 0.7]}

    def fake_bench(path, runs, warmup):
        calls.append(path)
        m = medians[path][sum(c == path for c in calls) - 1]
        return {"latency": [{"threads": t, "num_threads": n, "median_ms": m * n, "p95_ms": 2 * m * n}
                            for t, n in (("1", 1), ("all", 2))]}

    monkeypatch.setattr("harkd.export.bench.bench", fake_bench)
    rows = [{"row": "a", "model_fp32": "a_fp32", "model_int8": "a_int8"}]
    device_table.measure_latency(rows, runs=10, rounds=3)
    assert calls == ["a_fp32", "a_int8"] * 3
    assert rows[0]["latency_fp32"]["1"] == {"best_median_ms": 1.0, "median_ms": 2.0, "p95_ms": 4.0,
                                            "num_threads": 1, "rounds": 3, "runs": 10}
    assert rows[0]["latency_int8"]["all"]["best_median_ms"] == 1.0 and rows[0]["latency_int8"]["all"]["median_ms"] == 1.4


@pytest.mark.parametrize("full_student_acc", [None, 91.5])
def test_the_pareto_plot_draws_every_row_and_the_targets(tmp_path, full_student_acc):
    pytest.importorskip("matplotlib")
    row = {"row": "a", "size": "mini", "kind": "distill",
           **{f"test_{p}": {"mean": 90.0} for p in ("fp32", "int8")}, "size_kb_fp32": 188.4, "size_kb_int8": 57.4,
           "latency_fp32": {"1": {"best_median_ms": 0.075}}, "latency_int8": {"1": {"best_median_ms": 0.043}}}
    path = tmp_path / "pareto.png"
    device_table.pareto_plot([row, {**row, "kind": "train", "latency_int8": None}], path, full_student_acc)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("size,kind", sorted(device_table.REUSED))
def test_a_full_size_row_is_the_same_experiment_as_the_kd_table_run_it_reuses(size, kind):
    """Same config, overrides, teacher and seed, so reusing kd_table's run directory measures this row's run."""
    row = next(r for r in device_table.ROWS if r[1] == size and r[2] == kind)
    label, _, _, config, epochs = row
    teacher = "runs/device/skeleton_stgcn_aug_all_s0"
    overrides = [*([f"train.epochs={epochs}"] if epochs else []), *device_table.COMMON, *device_table.STUDENT_AUGMENT,
                 "seed=3", *([f"teachers.0.run={teacher}"] if kind == "distill" else [])]
    ours = get_recipe(kind).load(ROOT / "configs" / "utd_mhad" / config, overrides).to_dict()
    suite = kd_table.suites([60, device_table.PATIENT])[device_table.KD_TABLE_SECTION]
    runs, _ = kd_table.suite_runs(suite, [3], Path("runs/kd"), [], teacher_run=teacher)
    spec = next(r for r in runs if r.name == device_table.run_name(device_table.REUSED[(size, kind)], 3))
    assert spec.run_dir == f"runs/kd/{device_table.KD_TABLE_SECTION}/{spec.name}" and spec.kind == kind
    theirs = get_recipe(kind).load(spec.config, list(spec.overrides)).to_dict()
    assert ours == theirs
