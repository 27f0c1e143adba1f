"""harkd.suites.design: the seeds that choose vs the seeds that report, and each student seed's teacher."""

import re

import pytest

from harkd.errors import ConfigError
from harkd.suites import (CHOOSING_SEEDS, CONFIRMING_SEEDS, HEADLINE_SEEDS, design_note, run_name, section_id, seed_record,
                          teacher_run_dir, teacher_seeds)


def test_headline_and_confirming_seeds_are_fresh():
    assert HEADLINE_SEEDS == (10, 11, 12, 13, 14) and not set(HEADLINE_SEEDS) & set(CHOOSING_SEEDS)
    assert CONFIRMING_SEEDS == (20, 21, 22, 23, 24) and not set(CONFIRMING_SEEDS) & {*HEADLINE_SEEDS, *CHOOSING_SEEDS}


def test_each_design_names_the_teacher_of_every_student_seed():
    assert teacher_seeds("per-seed", [10, 11]) == [10, 11] and teacher_seeds("single", [10, 11]) == [0, 0]
    with pytest.raises(ConfigError, match=re.escape("teacher design must be one of per-seed, single, got 'both'")):
        teacher_seeds("both", [0])


def test_a_student_of_another_teacher_than_seed_0_is_named_after_it():
    assert run_name("KD, 150 epochs", 3) == run_name("KD, 150 epochs", 3, 0) == "kd__150_epochs_s3"
    assert run_name("KD, 150 epochs", 3, 3) == "kd__150_epochs_s3_t3"


def test_a_given_teacher_run_names_its_seed_unless_there_is_one_teacher():
    assert teacher_run_dir("runs/t_s{seed}", 12, "per-seed") == "runs/t_s12"
    assert teacher_run_dir("runs/t_s0", 12, "single") == "runs/t_s0"
    with pytest.raises(ConfigError, match="teacher run runs/t_s0 is one teacher for every student seed"):
        teacher_run_dir("runs/t_s0", 12, "per-seed")


def test_the_record_and_the_header_say_what_the_seeds_are_for():
    assert seed_record("per-seed", [10, 11], True) == {
        "teacher_design": "per-seed", "seeds": [10, 11], "teacher_seeds": [10, 11], "seed_role": "reporting",
        "choosing_seeds": [0, 1, 2, 3, 4], "headline_seeds": [10, 11, 12, 13, 14]}
    assert seed_record("single", [0, 1], False)["seed_role"] == "choosing"
    fresh = design_note("per-seed", [10, 11], True)
    assert "**one teacher per student seed**" in fresh and "pairs (10, 10), (11, 11)" in fresh
    assert "fresh seeds 10 11 12 13 14" in fresh
    old = design_note("single", [0, 1], False)
    assert "**one teacher run (seed 0) for every student seed**" in old and "pairs (0, 0), (0, 1)" in old
    assert "not fresh evidence" in old
    assert section_id("device", "per-seed", True) == "device-headline"
    assert section_id("device", "single", False) == "device"
    confirming = seed_record("per-seed", [20, 21], False, confirm=True)
    assert confirming["seed_role"] == "confirming" and confirming["confirming_seeds"] == [20, 21, 22, 23, 24]
    assert "confirming seeds 20 21 22 23 24" in design_note("per-seed", [20, 21], False, confirm=True)
    assert section_id("utd-kd-patient", "per-seed", False, confirm=True) == "utd-kd-patient-confirm"
