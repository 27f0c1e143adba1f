"""benchmarks/device_table.py: every row's config loads, and ``device_int8_best`` is the row named before its
runs, not the best row of the table (which would select on the test split)."""

import json
from pathlib import Path

import pytest

from benchmarks import device_table, kd_table
from harkd.errors import ConfigError
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


def test_the_summary_carries_the_pairs_and_the_gain_and_keeps_the_fresh_seed_headline(tmp_path):
    path = tmp_path / "summary.json"
    fresh = {**_row(device_table.HEADLINE, 90.0), "section": "device-headline", "seeds": [10, 11, 12, 13, 14],
             "teacher_seeds": [10, 11, 12, 13, 14], "teacher_design": "per-seed", "seed_role": "reporting",
             "kd_gain": {"int8": {"mean": 2.5, "p_value": 0.014, "verdict": "gain"}}}
    entry = device_table.write_summary(path, [fresh])
    assert entry["seeds"] == entry["teacher_seeds"] == [10, 11, 12, 13, 14] and entry["seed_role"] == "reporting"
    assert (entry["gain"], entry["p_value"], entry["verdict"]) == (2.5, 0.014, "gain")
    assert entry["section"] == "device-headline"
    choosing = {**fresh, "seeds": [0, 1, 2, 3, 4], "seed_role": "choosing"}
    assert device_table.write_summary(path, [choosing]) is None  # the choosing seeds do not replace the headline
    assert json.loads(path.read_text())["device_int8_best"] == entry


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

    monkeypatch.setattr("harkd.deploy.bench.bench", fake_bench)
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


@pytest.mark.parametrize("design", ["single", "per-seed"])
@pytest.mark.parametrize("size,kind", sorted(device_table.REUSED))
def test_a_full_size_row_is_the_same_experiment_as_the_kd_table_run_it_reuses(size, kind, design):
    """Same config, overrides, teacher and seed, so reusing kd_table's run directory measures this row's run
    (kd_table given this table's teachers, as in the commands of RESULTS.md)."""
    row = next(r for r in device_table.ROWS if r[1] == size and r[2] == kind)
    label, _, _, config, epochs = row
    t_seed = 0 if design == "single" else 3
    teacher = Path(f"runs/device/skeleton_stgcn_aug_all_s{t_seed}")
    run_dir = device_table.row_run_dir(size, kind, config, epochs, 3, t_seed, Path("runs/device"), Path("runs/kd"))
    ours = get_recipe(kind).load(ROOT / "configs" / "utd_mhad" / config, device_table.student_overrides(
        3, kind, config, epochs, teacher, None, [])).to_dict()
    suite = kd_table.suites([60, device_table.PATIENT])[device_table.KD_TABLE_SECTION]
    runs, _ = kd_table.suite_runs(suite, [3], Path("runs/kd"), [],
                                  teacher_run="runs/device/skeleton_stgcn_aug_all_s{seed}", design=design)
    spec = next(r for r in runs if r.name == run_dir.name)
    assert spec.run_dir == str(run_dir) == f"runs/kd/{device_table.KD_TABLE_SECTION}/{spec.name}" and spec.kind == kind
    theirs = get_recipe(kind).load(spec.config, list(spec.overrides)).to_dict()
    assert ours == theirs


def test_the_ensemble_rows_learn_from_the_pairs_teacher_and_full_size_student():
    """Per-seed design: the ensemble row of seed S reads teacher S and the full-size 150-epoch KD student of seed S
    (itself taught by teacher S); its run is named after the teacher seed, a no-KD run is not."""
    label, size, kind, config, epochs = device_table.ROWS[-1]
    assert label == device_table.HEADLINE and size == device_table.HEADLINE_SIZE and "ensemble" in config
    full = device_table.row_run_dir("full150", "distill", "distill/skel2acc_kd.yaml", 150, 12, 12, Path("runs/device"),
                                    Path("runs/kd"))
    assert full == Path("runs/kd/utd-kd-patient/kd__fixed_teacher_view__cached___150_epochs_s12_t12")
    assert device_table.row_run_dir(size, kind, config, epochs, 12, 12, Path("runs/device"), Path("runs/kd")) == Path(
        "runs/device/ensemble2acc_kd_mini_e600_s12_t12")
    twin = next(r for r in device_table.ROWS if r[1] == size and r[2] == "train")
    assert device_table.row_run_dir(twin[1], twin[2], twin[3], twin[4], 12, 12, Path("runs/device"),
                                    Path("runs/kd")) == Path("runs/device/acc_cnn1d_mini_e600_s12")
    overrides = device_table.student_overrides(12, kind, config, epochs, Path("runs/device/t_s12"), full, [])
    assert overrides[-2:] == ["teachers.0.run=runs/device/t_s12", f"teachers.1.run={full}"]


def _args(**given):
    import argparse

    return argparse.Namespace(**{"teacher_design": "per-seed", "rows": None, "kd_runs": "runs/kd", "full_student": None,
                                 "overrides": [], "headline": False, **given})


def test_declared_runs_share_teachers_and_full_size_students_and_need_them():
    """One teacher per teacher seed; the full-size 150-epoch KD run is declared once (the full150 row and the
    ensemble rows' second teacher are the same run); every student needs the runs it reads."""
    from harkd.suites import dependency_order

    runs, students = device_table.declared_runs(_args(rows=["full150", "mini600"]), [0, 4], Path("runs/device"))
    by_name = {r.name: r for r in runs}
    assert [r.name for r in runs if r.name.startswith("teacher")] == ["teacher:s0", "teacher:s4"]
    assert by_name["teacher:s4"].run_dir == "runs/device/skeleton_stgcn_aug_all_s4"
    assert len({r.run_dir for r in runs}) == len(runs)  # no run directory trained twice
    name, teacher, full = students["full150", "distill", 4]
    assert name == "full-size student:s4" and teacher == "teacher:s4"
    assert by_name[name].run_dir == "runs/kd/utd-kd-patient/kd__fixed_teacher_view__cached___150_epochs_s4_t4"
    ensemble, teacher, full = students["mini600", "distill", 4]
    assert by_name[ensemble].needs == ("teacher:s4", "full-size student:s4") and str(full) == by_name[name].run_dir
    assert by_name[students["mini600", "train", 4][0]].needs == ()
    assert dependency_order(runs)  # nothing undeclared, no cycle
    given, _ = device_table.declared_runs(_args(rows=["mini600"], full_student="runs/full_s{seed}"), [4],
                                          Path("runs/device"))
    assert not any(r.name.startswith("full-size") for r in given)
    assert {r.overrides[-1] for r in given if r.kind == "distill"} == {"teachers.1.run=runs/full_s4"}


def test_teachers_given_with_teacher_run_are_read_not_trained():
    """``--teacher-run`` names kd_table.py's teachers (one per teacher seed): declared as given, at that path, so
    the full-size students kd_table.py trained from them are the same experiments."""
    runs, students = device_table.declared_runs(
        _args(rows=["mini600"], teacher_run="runs/kd/teacher_s{seed}"), [10, 11], Path("runs/device"))
    teachers = [r for r in runs if r.name.startswith("teacher:")]
    assert [(r.run_dir, r.option("given")) for r in teachers] == [("runs/kd/teacher_s10", True),
                                                                  ("runs/kd/teacher_s11", True)]
    assert not any(r.option("given") for r in runs if r not in teachers)
    full = next(r for r in runs if r.name == "full-size student:s11")
    assert "teachers.0.run=runs/kd/teacher_s11" in full.overrides
    with pytest.raises(ConfigError, match=r"put \{seed\} in the path"):
        device_table.declared_runs(_args(rows=["mini600"], teacher_run="runs/kd/teacher"), [10], Path("runs/device"))
