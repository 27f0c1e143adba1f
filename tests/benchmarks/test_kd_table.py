"""benchmarks/kd_table.py: every row's config loads with its overrides, the documented recipe configs are
exactly the rows that were measured, and the summary keys follow the paired rows."""

import re
from pathlib import Path

import pytest

from benchmarks import kd_table
from harkd.recipes import get_recipe
from harkd.engine.stats import summarize

ROOT = Path(__file__).resolve().parents[2]

SUITES = kd_table.suites([60, 150])
ROWS = [(name, row) for name, suite in SUITES.items() for row in suite.rows]


FIXED_SCHEDULE = ("utd-kd-patient", "utd-depth", "utd-vskd", "utd-vskd-gaf", "utd-sakdn-dmm")  # nothing selected


def _load(suite, row, seed=1, teacher="runs/teacher"):
    teachers = [f"teachers.{i}.run={teacher}{i or ''}" for i in range(len(row.teacher_keys))]
    return get_recipe(row.kind).load(ROOT / "configs" / row.config, [*suite.common, *row.overrides, f"seed={seed}",
                                                                      *teachers])


@pytest.mark.parametrize("name,row", ROWS, ids=[f"{n}:{r.label}" for n, r in ROWS])
def test_row_config_loads_with_its_overrides(name, row):
    cfg = _load(SUITES[name], row)
    assert cfg.seed == 1
    assert cfg.train.refit == (None if name in ("utd-trial", *FIXED_SCHEDULE) else "best")
    if name in FIXED_SCHEDULE:  # fixed schedules on all training subjects: nothing to select on
        assert cfg.data.val_subjects is None and cfg.data.val_fraction == 0
    if name == "utd-kd-patient":
        assert cfg.train.epochs == int(row.label.rsplit(", ", 1)[1].split()[0])
    assert [t.run for t in getattr(cfg, "teachers", None) or []] == ["runs/teacher", "runs/teacher1"][:len(row.teacher_keys)]
    assert set(row.teacher_keys) <= set(SUITES[name].teachers)


@pytest.mark.parametrize("section,label,config", [
    ("utd-kd", "no KD", "utd_mhad/acc_cnn1d_aug.yaml"),
    ("utd-kd", "KD, paired time augmentation (teacher online)", "utd_mhad/distill/skel2acc_consistent.yaml"),
    ("berkeley-kd", "six accelerometers, clip mean removed, no KD", "berkeley_mhad/acc_cnn1d_centred.yaml"),
    ("utd-kd-patient", "no KD, 150 epochs", "utd_mhad/acc_cnn1d_patient.yaml"),
    ("utd-kd-patient", "KD, fixed teacher view (cached), 150 epochs", "utd_mhad/distill/skel2acc_patient.yaml"),
])
def test_documented_recipe_is_the_measured_row(section, label, config):
    suite = SUITES[section]
    row = next(r for r in suite.rows if r.label == label)
    measured = _load(suite, row, seed=0).to_dict()
    documented = get_recipe(row.kind).load(ROOT / "configs" / config,
                                           ["teachers.0.run=runs/teacher"] if row.teacher else []).to_dict()
    measured.pop("name"), documented.pop("name")
    assert documented == measured


def test_documented_teacher_is_the_measured_teacher():
    config, overrides = SUITES["utd-kd"].teachers["skeleton"]
    measured = get_recipe("train").load(ROOT / "configs" / config, overrides).to_dict()
    documented = get_recipe("train").load(ROOT / "configs/utd_mhad/skeleton_stgcn_aug_all.yaml").to_dict()
    measured.pop("name"), documented.pop("name")
    assert documented == measured


def _row(label, values, kind="train"):
    return {"row": label, "kind": kind, "refit": {"values": values, **summarize(values)}, "gains": {}}


def test_summary_keys_report_the_named_recipe_and_pair_it_with_no_kd():
    base = _row("no KD", [80.0, 81.0, 82.0, 83.0, 84.0])
    kd = _row("KD, fixed teacher view (cached)", [82.0, 83.5, 84.0, 85.5, 86.0], "distill")
    better = _row("KD, paired time augmentation (teacher online)", [90.0] * 5, "distill")  # best on test: not it
    suite = SUITES["utd-kd"]
    suite.rows = [r for r in suite.rows if r.label in ("no KD", kd["row"], better["row"])]
    kd_table.pair_rows([base, kd, better], suite)
    keys = kd_table.summary_keys({"utd-kd": [base, kd, better]})
    assert keys["utd_acc_best"]["row"] == "KD, fixed teacher view (cached) (refit, final epoch)"
    assert keys["utd_acc_best"]["mean"] == pytest.approx(84.2) and keys["utd_acc_best"]["n"] == 5
    assert keys["utd_acc_best_nokd"]["mean"] == pytest.approx(82.0)
    gain = keys["utd_acc_kd_gain"]
    assert gain["mean"] == pytest.approx(2.2) and gain["n"] == 5 and gain["p_value"] < 0.05
    assert gain["verdict"] == "gain" and gain["section"] == "utd-kd"


def test_patient_rows_pair_with_the_no_kd_row_of_the_same_length():
    suite = SUITES["utd-kd-patient"]
    assert [r.label for r in suite.rows] == [f"{label}, {e} epochs" for e in (60, 150) for label in (
        "no KD", "KD, fixed teacher view (cached)", "KD, paired time augmentation (teacher online)")]
    assert all(r.baselines == (f"no KD, {r.label.rsplit(', ', 1)[1]}",) for r in suite.rows if r.teacher)


def test_summary_keys_pair_a_final_epoch_row_with_its_own_no_kd_twin():
    def last(label, values, kind="train"):
        return {"row": label, "kind": kind, "last": {"values": values, **summarize(values)}, "metric": "last",
                "seconds_per_epoch": 1.0, "command": "harkd ..."}

    suite = SUITES["utd-kd-patient"]
    rows = [last("no KD, 60 epochs", [80.0, 81.0, 82.0, 83.0, 84.0]),
            last("KD, fixed teacher view (cached), 60 epochs", [80.0, 81.0, 82.5, 83.0, 84.0], "distill"),
            last("KD, paired time augmentation (teacher online), 60 epochs", [81.0, 82.0, 83.0, 84.0, 85.0], "distill"),
            last("no KD, 150 epochs", [86.0, 87.0, 88.0, 89.0, 90.0]),
            last("KD, fixed teacher view (cached), 150 epochs", [85.0, 86.5, 87.0, 88.5, 89.0], "distill"),
            last("KD, paired time augmentation (teacher online), 150 epochs", [86.0, 88.0, 88.5, 90.0, 91.0],
                 "distill")]
    kd_table.pair_rows(rows, suite)
    keys = kd_table.summary_keys({"utd-kd-patient": rows})
    # the named recipe on the longest schedule, though the online row has the better test mean
    assert keys["utd_acc_best"]["row"] == "KD, fixed teacher view (cached), 150 epochs (final epoch, nothing selected)"
    assert keys["utd_acc_best_nokd"]["row"] == "no KD, 150 epochs (final epoch, nothing selected)"
    assert keys["utd_acc_kd_gain"]["mean"] == pytest.approx(-0.8)
    assert "| no KD, 60 epochs | 82.0 +- 1.6 | - |" in kd_table.table(rows)


def test_suite_runs_declare_the_teacher_and_every_student_needs_it():
    from harkd.suites import dependency_order

    suite = kd_table.suites([60, 200])["utd-kd"]
    runs, students = kd_table.suite_runs(suite, [0, 1], Path("runs/kd"), ["train.epochs=2"])
    teacher = "runs/kd/teacher_utd_mhad_skeleton_stgcn_aug_xsub_s0"
    assert runs[0] == kd_table.RunSpec("teacher:skeleton", "train", str(ROOT / "configs/utd_mhad/skeleton_stgcn_aug.yaml"),
                                       teacher, (*kd_table.NO_VALIDATION, "seed=0", "train.epochs=2"), measure=False)
    assert dependency_order(runs)[0].name == "teacher:skeleton"
    by_name = {r.name: r for r in runs}
    kd = by_name["kd__fixed_teacher_view__cached_s1"]
    assert kd.needs == ("teacher:skeleton",) and kd.run_dir == "runs/kd/utd-kd/kd__fixed_teacher_view__cached_s1"
    assert kd.overrides[-1] == f"teachers.0.run={teacher}" and "seed=1" in kd.overrides
    assert by_name["no_kd_s0"].needs == () and len(students) == 2 * len(suite.rows)


def test_a_row_naming_an_undeclared_teacher_is_a_clear_error():
    from harkd.errors import ConfigError
    from harkd.suites import dependency_order

    suite = kd_table.suites([60])["utd-kd"]
    suite.rows = [kd_table.Row("KD", "distill", "utd_mhad/distill/skel2acc_kd.yaml", teacher="depth")]
    runs, _ = kd_table.suite_runs(suite, [0], Path("runs/kd"), [])
    with pytest.raises(ConfigError, match=re.escape("suite run 'kd_s0' needs run 'teacher:depth', which the suite "
                                                    "does not declare: add that teacher run to the suite (or give "
                                                    "its run directory)")):
        dependency_order(runs)


def test_a_given_teacher_run_is_used_and_not_trained():
    suite = kd_table.suites([60])["utd-kd"]
    runs, _ = kd_table.suite_runs(suite, [0], Path("runs/kd"), [], teacher_run="runs/device/teacher_s0")
    assert all(r.measure for r in runs)
    assert {r.overrides[-1] for r in runs if r.needs} == {"teachers.0.run=runs/device/teacher_s0"}


def _last(label, values, kind="train"):
    return {"row": label, "kind": kind, "last": {"values": values, **summarize(values)}, "metric": "last",
            "seconds_per_epoch": 1.0, "command": "harkd ..."}


def test_ensemble_row_needs_both_teachers_in_order():
    suite = kd_table.suites([60])["utd-vskd"]
    runs, _ = kd_table.suite_runs(suite, [0], Path("runs/kd"), [])
    ensemble = next(r for r in runs if r.name.startswith("raw_acc_1d_cnn__kd_from_the_skeleton___depth_ensemble"))
    assert ensemble.needs == ("teacher:skeleton", "teacher:depth")
    assert ensemble.overrides[-2:] == ("teachers.0.run=runs/kd/teacher_utd_mhad_skeleton_stgcn_aug_xsub_s0",
                                       "teachers.1.run=runs/kd/teacher_utd_mhad_depth_dmm_xsub_s0")


def test_vision_summary_keys():
    sections = {"utd-depth": [_last(kd_table.DEPTH_ONLY[0], [84.0, 85.0, 86.0, 85.0, 85.0]),
                              _last(kd_table.DEPTH_ONLY[1], [70.0, 71.0, 72.0, 71.0, 71.0])],
                "utd-vskd": [_last("raw-acc 1D CNN, no KD", [80.0, 81.0, 82.0, 83.0, 84.0]),
                             _last(kd_table.VSKD_ROW, [81.0, 83.0, 83.5, 85.0, 85.5], "distill")],
                "utd-sakdn-dmm": [_last(kd_table.SAKDN_ROWS[1], [80.0, 81.0, 82.0, 83.0, 84.0]),
                                  _last(kd_table.SAKDN_ROWS[0], [80.5, 81.0, 82.0, 82.5, 84.0], "distill")]}
    for name, rows in sections.items():
        suite = kd_table.suites([60])[name]
        suite.rows = [r for r in suite.rows if r.label in {row["row"] for row in rows}]
        kd_table.pair_rows(rows, suite)
    keys = kd_table.summary_keys(sections)
    assert keys["utd_depth_best"]["mean"] == pytest.approx(85.0)
    assert keys["utd_depth_best"]["row"].startswith(kd_table.DEPTH_ONLY[0])
    assert keys["utd_vskd_gain"]["mean"] == pytest.approx(1.6) and keys["utd_vskd_gain"]["verdict"] == "gain"
    assert keys["utd_sakdn_gain"]["mean"] == pytest.approx(0.0) and keys["utd_sakdn_gain"]["section"] == "utd-sakdn-dmm"
    assert keys["utd_sakdn_gain"]["verdict"] != "gain"
