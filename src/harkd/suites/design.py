"""The seed design of a benchmark claim: which seeds choose a recipe, which report it, and which teacher
run each student learns from.

- :data:`CHOOSING_SEEDS` (0-4): the seeds the recipes were chosen on (sweeps, schedule lengths, the rows of
  the tables up to issue 24). A number measured on them has already been looked at while choosing.
- :data:`HEADLINE_SEEDS` (10-14): named here before any headline run and used for nothing else: the seeds
  that report a claim (``--headline`` of the benchmark scripts).
- :data:`CONFIRMING_SEEDS` (20-24): named here before any confirmation run. When the headline seeds single out
  one lever among several tested at once, the lever is tested again, alone, on these seeds (``--confirm``),
  which chose nothing, so its p-value needs no correction for the others.
- Teacher design: ``per-seed`` (the default) trains one teacher per student seed with the student's seed, so
  that a claim's spread includes the teacher's and the paired test's unit is the (teacher, student) pair;
  ``single`` teaches every student seed from the teacher of seed 0 (every table before issue 24).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from harkd.errors import ConfigError

__all__ = ["CHOOSING_SEEDS", "HEADLINE_SEEDS", "CONFIRMING_SEEDS", "TEACHER_DESIGNS", "SINGLE_TEACHER_SEED", "teacher_seeds",
           "teacher_run_dir", "section_id", "seed_record", "design_note", "accuracy_on_test"]

CHOOSING_SEEDS = (0, 1, 2, 3, 4)
HEADLINE_SEEDS = (10, 11, 12, 13, 14)
CONFIRMING_SEEDS = (20, 21, 22, 23, 24)
TEACHER_DESIGNS = ("per-seed", "single")
SINGLE_TEACHER_SEED = 0


def teacher_seeds(design: str, seeds: Sequence[int]) -> list[int]:
    """The teacher seed of each student seed: the seed itself (``per-seed``) or :data:`SINGLE_TEACHER_SEED`."""
    if design not in TEACHER_DESIGNS:
        raise ConfigError(f"teacher design must be one of {', '.join(TEACHER_DESIGNS)}, got {design!r}")
    return [seed if design == "per-seed" else SINGLE_TEACHER_SEED for seed in seeds]


def teacher_run_dir(given: str, seed: int, design: str) -> str:
    """A teacher run directory given on the command line for teacher seed ``seed``: ``{seed}`` in it is the
    teacher seed; without it the path is one teacher, which only the ``single`` design may use."""
    if "{seed}" in given:
        return given.replace("{seed}", str(seed))
    if design != "single":
        raise ConfigError(f"teacher run {given} is one teacher for every student seed, but the teacher design is "
                          f"{design}: put {{seed}} in the path where the teacher's seed goes (e.g. "
                          "runs/device/skeleton_stgcn_aug_all_s{seed}), or use --teacher-design single")
    return given


def section_id(name: str, design: str, headline: bool, confirm: bool = False) -> str:
    """The results section (RESULTS.md marker, ``results/<section>.json``) a benchmark run writes: ``name``,
    ``-headline`` on the fresh headline seeds (``-confirm`` on the confirming ones), and the teacher design
    when it is not the usual one of its kind (one teacher for the tables of the choosing seeds, one per seed
    on fresh seeds), so that no design overwrites the other's rows."""
    usual = "per-seed" if headline or confirm else "single"
    return (name + ("-confirm" if confirm else "-headline" if headline else "")
            + ("" if design == usual else f"-{design}-teacher"))


def seed_record(design: str, seeds: Sequence[int], headline: bool, confirm: bool = False) -> dict:
    """What a results file records about its seeds: the teacher design, the (teacher, student) pairs, and
    whether the seeds report a claim (fresh :data:`HEADLINE_SEEDS`), confirm one (:data:`CONFIRMING_SEEDS`)
    or are the ones that chose it."""
    role = "confirming" if confirm else "reporting" if headline else "choosing"
    return {"teacher_design": design, "seeds": list(seeds), "teacher_seeds": teacher_seeds(design, seeds),
            "seed_role": role, "choosing_seeds": list(CHOOSING_SEEDS), "headline_seeds": list(HEADLINE_SEEDS),
            **({"confirming_seeds": list(CONFIRMING_SEEDS)} if confirm else {})}


def design_note(design: str, seeds: Sequence[int], headline: bool, confirm: bool = False) -> str:
    """The RESULTS.md header line saying which teacher each student seed had and what the seeds are for."""
    pairs = ", ".join(f"({t}, {s})" for s, t in zip(seeds, teacher_seeds(design, seeds)))
    teachers = ("**one teacher per student seed** (teacher seed = student seed), so the spread includes the "
                "teacher's; the paired test's unit is the (teacher, student) pair" if design == "per-seed" else
                "**one teacher run (seed 0) for every student seed** (`--teacher-design single`): the spread "
                "leaves out the teacher's")
    role = (f"confirming seeds {' '.join(map(str, CONFIRMING_SEEDS))}, named in harkd.suites.design before any run "
            "and used for nothing else: one hypothesis the headline seeds singled out, tested again alone "
            "(`--confirm`)" if confirm else
            f"fresh seeds {' '.join(map(str, HEADLINE_SEEDS))}, named in harkd.suites.design before any run and "
            "used for nothing else (`--headline`)" if headline else
            f"seeds {' '.join(map(str, seeds))}: the recipes were chosen on seeds "
            f"{' '.join(map(str, CHOOSING_SEEDS))}, so these rows are not fresh evidence; the headline reports on "
            f"seeds {' '.join(map(str, HEADLINE_SEEDS))} (`--headline`)")
    return (f"teacher design: {teachers}; (teacher seed, student seed) pairs {pairs}; each teacher's test "
            f"accuracy (last epoch) is shown and only reports; {role}")


def accuracy_on_test(run_dir: str | Path, checkpoint: str = "last") -> float:
    """Test-split accuracy (%) of a run's ``checkpoint`` (a teacher's: it only reports)."""
    from harkd.engine.evaluate import evaluate_run

    return 100 * evaluate_run(Path(run_dir), "test", checkpoint)["accuracy"]
