"""benchmarks/kd_table.py: every row's config loads with its overrides, the documented recipe configs are
exactly the rows that were measured, and the summary keys follow the paired rows."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
import kd_table  # noqa: E402

from harkd.recipes import get_recipe  # noqa: E402
from harkd.engine.stats import summarize  # noqa: E402

SUITES = kd_table.suites(200)
ROWS = [(name, row) for name, suite in SUITES.items() for row in suite.rows]


def _load(suite, row, seed=1, teacher="runs/teacher"):
    overrides = [*suite.common, *row.overrides, f"seed={seed}"] + ([f"teachers.0.run={teacher}"] if row.teacher else [])
    return get_recipe(row.kind).load(ROOT / "configs" / row.config, overrides)


@pytest.mark.parametrize("name,row", ROWS, ids=[f"{n}:{r.label}" for n, r in ROWS])
def test_row_config_loads_with_its_overrides(name, row):
    cfg = _load(SUITES[name], row)
    assert cfg.seed == 1
    assert cfg.train.refit == (None if name == "utd-trial" else "best")
    if row.teacher:
        assert cfg.teachers[0].run == "runs/teacher"


@pytest.mark.parametrize("section,label,config", [
    ("utd-kd", "no KD", "utd_mhad/acc_cnn1d_aug.yaml"),
    ("utd-kd", "KD, paired time augmentation (teacher online)", "utd_mhad/distill/skel2acc_consistent.yaml"),
    ("berkeley-kd", "six accelerometers, clip mean removed, no KD", "berkeley_mhad/acc_cnn1d_centred.yaml"),
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


def test_summary_keys_pick_the_best_row_and_pair_it_with_no_kd():
    base = _row("no KD", [80.0, 81.0, 82.0, 83.0, 84.0])
    kd = _row("KD, fixed teacher view (cached)", [82.0, 83.5, 84.0, 85.5, 86.0], "distill")
    suite = SUITES["utd-kd"]
    suite.rows = [r for r in suite.rows if r.label in ("no KD", kd["row"])]
    kd_table.pair_rows([base, kd], suite)
    keys = kd_table.summary_keys({"utd-kd": [base, kd]})
    assert keys["utd_acc_best"]["row"] == "KD, fixed teacher view (cached) (refit, final epoch)"
    assert keys["utd_acc_best"]["mean"] == pytest.approx(84.2) and keys["utd_acc_best"]["n"] == 5
    assert keys["utd_acc_best_nokd"]["mean"] == pytest.approx(82.0)
    gain = keys["utd_acc_kd_gain"]
    assert gain["mean"] == pytest.approx(2.2) and gain["n"] == 5 and gain["p_value"] < 0.05
    assert gain["verdict"] == "gain" and gain["section"] == "utd-kd"
