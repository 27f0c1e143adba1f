"""benchmarks/kd_table.py: every row's config loads with its overrides, the documented recipe configs are
exactly the rows that were measured, and the summary keys follow the paired rows."""

import re
from pathlib import Path

import pytest

from benchmarks import kd_table
from harkd.errors import ConfigError
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
    assert [t.run for t in getattr(cfg, "teachers", None) or []] == [
        f"runs/teacher{i or ''}" for i in range(len(row.teacher_keys))]  # the config has exactly the row's teachers
    assert {kd_table.teacher_base(key) for key in row.teacher_keys} <= set(SUITES[name].teachers)


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
        "no KD", "KD, fixed teacher view (cached)", "KD, paired time augmentation (teacher online)",
        kd_table.SEED_ENSEMBLE) + ((kd_table.TUNED_KD, kd_table.PROGRESS_KD, kd_table.VIRTUAL, kd_table.VIRTUAL_KD) if e == 150 else ())]
    assert all(r.baselines[0] == f"no KD, {r.label.rsplit(', ', 1)[1]}" for r in suite.rows if r.teacher)
    ensemble = suite.rows[3]
    assert ensemble.baselines[1:] == ("KD, fixed teacher view (cached), 60 epochs",)
    tuned, progress, virtual, virtual_kd = suite.rows[-4:]
    # the held-out-chosen levers: the default recipe with the swept keys only
    default = next(r for r in suite.rows if r.label == "KD, fixed teacher view (cached), 150 epochs")
    assert tuned.baselines[1:] == progress.baselines[1:] == (default.label,)
    assert tuned.config == progress.config == default.config
    assert tuned.overrides == default.overrides + ["losses.1.args.temperature=4", "losses.1.weight=0.5"]
    assert progress.overrides == default.overrides + ["losses.1.weight_end=0"]
    nokd = next(r for r in suite.rows if r.label == "no KD, 150 epochs")
    assert (virtual.kind, virtual.config, virtual.teacher) == ("train", nokd.config, None)
    assert virtual.overrides == nokd.overrides + ["data.virtual_inertial={}"] and virtual.baselines == (nokd.label,)
    assert virtual_kd.overrides == default.overrides + ["data.virtual_inertial={}"]
    assert virtual_kd.baselines == (nokd.label, default.label, virtual.label) and virtual_kd.config == default.config


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
    """The single-teacher design declares the runs of the tables before issue 24: one teacher, seed 0."""
    from harkd.suites import dependency_order

    suite = kd_table.suites([60, 200])["utd-kd"]
    runs, students = kd_table.suite_runs(suite, [0, 1], Path("runs/kd"), ["train.epochs=2"], design="single")
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
    runs, _ = kd_table.suite_runs(suite, [0, 1], Path("runs/kd"), [], teacher_run="runs/device/teacher_s0",
                                  design="single")
    assert all(r.measure for r in runs)
    assert {r.overrides[-1] for r in runs if r.needs} == {"teachers.0.run=runs/device/teacher_s0"}


def test_given_teacher_runs_name_their_seed_in_the_per_seed_design():
    suite = kd_table.suites([60])["utd-kd"]
    runs, _ = kd_table.suite_runs(suite, [0, 1], Path("runs/kd"), [], teacher_run="runs/device/teacher_s{seed}")
    assert all(r.measure for r in runs)
    taught = {r.name: (r.needs, r.overrides[-1]) for r in runs if r.needs}
    assert taught["kd__fixed_teacher_view__cached_s0"] == (("teacher:skeleton",),
                                                           "teachers.0.run=runs/device/teacher_s0")
    assert taught["kd__fixed_teacher_view__cached_s1_t1"] == (("teacher:skeleton:s1",),
                                                              "teachers.0.run=runs/device/teacher_s1")
    with pytest.raises(ConfigError, match=re.escape(
            "teacher run runs/device/teacher_s0 is one teacher for every student seed, but the teacher design is "
            "per-seed: put {seed} in the path where the teacher's seed goes (e.g. "
            "runs/device/skeleton_stgcn_aug_all_s{seed}), or use --teacher-design single")):
        kd_table.suite_runs(suite, [0, 1], Path("runs/kd"), [], teacher_run="runs/device/teacher_s0")


def test_the_per_seed_design_trains_one_teacher_per_student_seed():
    """Teacher seed = student seed; seed 0's teacher and students are the single design's runs (shared), the
    other seeds' KD students get their own directories (``_t<seed>``), the no-KD rows are the same runs."""
    suite = kd_table.suites([60, 150])["utd-kd-patient"]
    out = Path("runs/kd")
    runs, students = kd_table.suite_runs(suite, [0, 3], out, ["train.epochs=2"])
    single, _ = kd_table.suite_runs(suite, [0, 3], out, ["train.epochs=2"], design="single")
    teachers = [r for r in runs if not r.measure]
    config = str(ROOT / "configs/utd_mhad/skeleton_stgcn_aug.yaml")
    assert teachers == [
        kd_table.RunSpec("teacher:skeleton", "train", config, "runs/kd/teacher_utd_mhad_skeleton_stgcn_aug_xsub_s0",
                         (*kd_table.NO_VALIDATION, "seed=0", "train.epochs=2"), measure=False),
        kd_table.RunSpec("teacher:skeleton:s3", "train", config, "runs/kd/teacher_utd_mhad_skeleton_stgcn_aug_xsub_s3",
                         (*kd_table.NO_VALIDATION, "seed=3", "train.epochs=2"), measure=False)]
    by_name = {r.name: r for r in runs}
    kd3 = by_name["kd__fixed_teacher_view__cached___150_epochs_s3_t3"]
    assert kd3.needs == ("teacher:skeleton:s3",) and "seed=3" in kd3.overrides
    assert kd3.overrides[-1] == "teachers.0.run=runs/kd/teacher_utd_mhad_skeleton_stgcn_aug_xsub_s3"
    assert kd3.run_dir == "runs/kd/utd-kd-patient/kd__fixed_teacher_view__cached___150_epochs_s3_t3"
    shared = [r for r in runs if r in single]  # the teacher of seed 0, every seed-0 student, every no-KD run
    assert {r.name for r in shared} == {"teacher:skeleton", *(f"{n}_s0" for n in (
        "no_kd__60_epochs", "kd__fixed_teacher_view__cached___60_epochs",
        "kd__paired_time_augmentation__teacher_online___60_epochs", "no_kd__150_epochs",
        "kd__fixed_teacher_view__cached___150_epochs", "kd__paired_time_augmentation__teacher_online___150_epochs",
        "kd__t_and_weight_chosen_on_held_out_subjects__cached___150_epochs",
        "kd__weight_following_the_student_s_progress__cached___150_epochs",
        "kd___virtual_accelerometer_twins__cached___150_epochs", "virtual_accelerometer_twins__no_teacher__150_epochs")),
        "no_kd__60_epochs_s3", "no_kd__150_epochs_s3", "virtual_accelerometer_twins__no_teacher__150_epochs_s3"}
    assert len(students) == 2 * len(suite.rows)


def test_a_seed_ensemble_row_learns_from_its_pairs_teacher_and_the_next_two():
    """``skeleton+k``: the teacher of the k-th next pair's seed, cyclically, so each pair has its own ensemble and
    no extra teacher is trained."""
    assert [kd_table.teacher_of_pair("skeleton+2", [10, 11, 12, 13, 14], i) for i in (0, 3, 4)] == [
        ("skeleton", 12), ("skeleton", 10), ("skeleton", 11)]
    assert kd_table.teacher_of_pair("skeleton+1", [0, 0, 0], 2) == ("skeleton", 0)  # one teacher: itself
    suite = kd_table.suites([60])["utd-kd-patient"]
    runs, _ = kd_table.suite_runs(suite, [10, 11, 12], Path("runs/kd"), [])
    assert [r.name for r in runs if not r.measure] == ["teacher:skeleton:s10", "teacher:skeleton:s11",
                                                       "teacher:skeleton:s12"]
    run = next(r for r in runs if r.name.startswith("kd_from_3_teacher_seeds") and r.name.endswith("_s11_t11"))
    assert run.needs == ("teacher:skeleton:s11", "teacher:skeleton:s12", "teacher:skeleton:s10")
    assert run.overrides[-3:] == tuple(f"teachers.{i}.run=runs/kd/teacher_utd_mhad_skeleton_stgcn_aug_xsub_s{s}"
                                       for i, s in enumerate((11, 12, 10)))
    assert run.config.endswith("configs/utd_mhad/distill/skel2acc_kd_seeds3.yaml")


def test_a_suite_declares_only_the_teachers_its_rows_need():
    suite = kd_table.suites([60])["utd-vskd"]
    suite.rows = [r for r in suite.rows if r.label in suite.headline]
    runs, _ = kd_table.suite_runs(suite, [10, 11], Path("runs/kd"), [])
    assert [r.name for r in runs if not r.measure] == ["teacher:depth:s10", "teacher:depth:s11"]


def test_headline_rows_are_rows_of_their_suite_and_hold_the_summary_keys():
    named = {name: suite.headline for name, suite in SUITES.items() if suite.headline}
    assert set(named) == set(kd_table.HEADLINE_SUITES) == {"utd-kd-patient", "berkeley-kd", "utd-vskd", "utd-sakdn-dmm"}
    for name, labels in named.items():
        rows = {r.label: r for r in SUITES[name].rows}
        assert set(labels) <= set(rows)
        for label in labels:  # every kept row's baselines that matter for a key are kept too
            assert rows[label].teacher is None or rows[label].baselines[0] in labels
    assert named["utd-kd-patient"] == tuple(f"{label}, {e} epochs" for e in (60, 150) for label in (
        "no KD", "KD, fixed teacher view (cached)", kd_table.SEED_ENSEMBLE)
        + ((kd_table.TUNED_KD, kd_table.PROGRESS_KD, kd_table.VIRTUAL, kd_table.VIRTUAL_KD) if e == 150 else ()))
    assert kd_table.VSKD_ROW in named["utd-vskd"] and kd_table.SAKDN_ROWS[0] in named["utd-sakdn-dmm"]
    assert kd_table.HEADLINE_SEEDS == (10, 11, 12, 13, 14)
    assert not set(kd_table.HEADLINE_SEEDS) & set(kd_table.CHOOSING_SEEDS)


def test_the_confirmation_tests_one_lever_again_with_its_baselines_on_seeds_that_chose_nothing():
    confirming = {name: suite.confirm for name, suite in SUITES.items() if suite.confirm}
    assert confirming == {"utd-kd-patient": ("no KD, 150 epochs", "KD, fixed teacher view (cached), 150 epochs",
                                             f"{kd_table.VIRTUAL_KD}, 150 epochs")}
    rows = {r.label: r for r in SUITES["utd-kd-patient"].rows}
    lever = rows[f"{kd_table.CONFIRMED_LEVER}, 150 epochs"]
    assert set(lever.baselines) & set(confirming["utd-kd-patient"]) == set(confirming["utd-kd-patient"][:2])
    assert kd_table.suites([60])["utd-kd-patient"].confirm == ()  # the lever was measured on 150 epochs only
    assert kd_table.section_id("utd-kd-patient", "per-seed", False, confirm=True) == "utd-kd-patient-confirm"
    assert kd_table.section_id("utd-kd-patient", "single", False, True) == "utd-kd-patient-confirm-single-teacher"
    fresh = set(kd_table.CONFIRMING_SEEDS)
    assert len(fresh) == 5 and not fresh & (set(kd_table.HEADLINE_SEEDS) | set(kd_table.CHOOSING_SEEDS))


@pytest.mark.parametrize("design,headline,section", [
    ("single", False, "utd-kd-patient"), ("per-seed", False, "utd-kd-patient-per-seed-teacher"),
    ("per-seed", True, "utd-kd-patient-headline"), ("single", True, "utd-kd-patient-headline-single-teacher")])
def test_each_design_writes_its_own_section(design, headline, section):
    assert kd_table.section_id("utd-kd-patient", design, headline) == section



def test_run_suite_records_the_pairs_and_each_teachers_test_accuracy(monkeypatch, tmp_path):
    """Rows carry the student seeds, the teacher seed of each pair and each teacher's test accuracy (from the
    teacher job, or measured afterwards for a teacher finished before); gains pair seed by seed."""
    accuracy = {0: 96.5, 1: 96.3, 2: 96.7}

    def job(spec):
        seed = int(next(o for o in spec.overrides if o.startswith("seed=")).split("=")[1])
        if not spec.measure:
            return {"run_dir": spec.run_dir, "test_last": accuracy[seed]}
        value = 80.0 + seed + (2.0 + seed / 10 if spec.needs else 0.0)
        return {"run_dir": spec.run_dir, "last": value, "seconds_per_epoch": 1.0}

    monkeypatch.setattr(kd_table, "_job", job)
    monkeypatch.setattr(kd_table, "accuracy_on_test", lambda run_dir: pytest.fail("measured again"))
    suite = kd_table.suites([60])["utd-kd-patient"]
    suite.rows = suite.rows[:2]
    rows = kd_table.run_suite(suite, [0, 1, 2], tmp_path, [], jobs=1, role="reporting")
    no_kd, kd = rows
    assert no_kd["teacher_seeds"] is None and no_kd["teachers"] == {} and "teacher" not in no_kd
    assert kd["seeds"] == [0, 1, 2] and kd["teacher_seeds"] == [0, 1, 2] and kd["teacher_design"] == "per-seed"
    assert kd["seed_role"] == "reporting"
    assert kd["teachers"]["skeleton"] == {
        "seeds": [0, 1, 2],
        "run_dirs": [str(tmp_path / f"teacher_utd_mhad_skeleton_stgcn_aug_xsub_s{s}") for s in (0, 1, 2)],
        "test_last": [96.5, 96.3, 96.7]}
    assert kd["gains"]["no KD, 60 epochs"]["last"]["mean"] == pytest.approx(2.1)
    assert kd_table.teacher_cell(kd) == "96.5 +- 0.2 (3 teachers)"
    single = kd_table.run_suite(suite, [0, 1, 2], tmp_path, [], jobs=1, design="single")[1]
    assert single["teacher_seeds"] == [0, 0, 0] and single["teachers"]["skeleton"]["test_last"] == [96.5] * 3
    assert single["teacher"] == str(tmp_path / "teacher_utd_mhad_skeleton_stgcn_aug_xsub_s0")
    assert kd_table.teacher_cell(single) == "96.5 (seed 0)"
    assert ("| KD, fixed teacher view (cached), 60 epochs | 83.1 +- 1.1 | +2.1 vs no KD, 60 epochs (p = 0.00076, no "
            "significant gain) | 96.5 (seed 0) | 1.00 |") in kd_table.table([no_kd, single])


def test_summary_keys_come_from_the_headline_section_with_seeds_teachers_and_p():
    fresh = dict(seeds=[10, 11, 12, 13, 14], teacher_design="per-seed", seed_role="reporting")
    rows = {}
    for section, base, design in (("utd-kd-patient", 80.0, {}), ("utd-kd-patient-headline", 85.0, fresh)):
        rows[section] = [
            {**_last("no KD, 150 epochs", [base + i for i in range(5)]), **design,
             **({"teacher_seeds": None} if design else {})},
            {**_last("KD, fixed teacher view (cached), 150 epochs", [base + 2 + i + 0.1 * (i % 2) for i in range(5)],
                     "distill"), **design, **({"teacher_seeds": fresh["seeds"]} if design else {})}]
        kd_table.pair_rows(rows[section], _patient_suite(150))
    keys = kd_table.summary_keys(rows)
    best, nokd, gain = keys["utd_acc_best"], keys["utd_acc_best_nokd"], keys["utd_acc_kd_gain"]
    assert best["section"] == nokd["section"] == gain["section"] == "utd-kd-patient-headline"
    assert best["mean"] == pytest.approx(89.04) and nokd["mean"] == pytest.approx(87.0)
    for key in (best, nokd, gain):
        assert key["seeds"] == key["teacher_seeds"] == [10, 11, 12, 13, 14] and key["seed_role"] == "reporting"
        assert key["p_value"] == gain["p_value"] < 0.05
    old = kd_table.summary_keys({"utd-kd-patient": rows["utd-kd-patient"]})  # the single-teacher table alone
    assert old["utd_acc_best"]["section"] == "utd-kd-patient" and "teacher_seeds" not in old["utd_acc_best"]
    confirming = {**rows, "utd-kd-patient-confirm": [{**r, "last": {**r["last"], "mean": 99.0}}
                                                     for r in rows["utd-kd-patient-headline"]]}
    assert kd_table.summary_keys(confirming)["utd_acc_best"] == best  # a confirmation never writes a key


def _patient_suite(epochs):
    suite = kd_table.suites([epochs])["utd-kd-patient"]
    suite.rows = suite.rows[:2]
    return suite


def test_headline_seeds_suites_and_tags_are_checked(capsys):
    with pytest.raises(SystemExit):
        kd_table.main(["--headline", "--seeds", "0", "1"])
    err = capsys.readouterr().err
    assert "--headline reports on the seeds named before the runs (10 11 12 13 14): drop --seeds" in err
    with pytest.raises(SystemExit):
        kd_table.main(["--headline", "--suites", "utd-trial"])
    assert ("suite 'utd-trial' has no headline rows (--headline: utd-kd-patient, berkeley-kd, utd-vskd, "
            "utd-sakdn-dmm)") in capsys.readouterr().err
    with pytest.raises(SystemExit):
        kd_table.main(["--confirm", "--seeds", "0"])
    assert "--confirm reports on the seeds named before the runs (20 21 22 23 24): drop --seeds" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        kd_table.main(["--confirm", "--suites", "berkeley-kd"])
    assert "suite 'berkeley-kd' has no confirmation rows (--confirm: utd-kd-patient)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        kd_table.main(["--confirm", "--headline"])
    assert "--headline and --confirm run different rows on different seeds: pick one" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        kd_table.main(["--tag", "GPU run"])
    assert "--tag must be lower-case letters, digits and dashes, got 'GPU run'" in capsys.readouterr().err


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
