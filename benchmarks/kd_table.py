"""Does the paired modality make the sensor student better? (issue 11) UTD-MHAD and Berkeley-MHAD.

Suites (``--suites``), each a RESULTS.md section and ``benchmarks/results/<section>.json``:

- ``utd-kd``: the raw-acc 1D CNN (64/128/256, inertial augmentation) without a teacher, with KD
  from the augmented skeleton ST-GCN on its fixed (cached) evaluation view, with KD under
  paired temporal augmentation (teacher and student see the same time window; the teacher
  runs online), the mixup-only control (no teacher) and KD with paired mixup (online teacher).
- ``utd-kd-patient``: KD gain against schedule length: the no-KD, fixed-KD and paired-KD rows at each of
  ``--patient-epochs`` (default 60 and 150, as measured), trained on all training subjects with nothing selected
  (fixed cosine schedule, final epoch), and issue 24's levers: KD from an ensemble of three teacher seeds, and
  at 150 epochs the settings chosen on held-out subjects (:data:`HELD_OUT_LEVERS`: T and KD weight; a KD weight
  that follows the student's progress).
- ``berkeley-kd``: skeleton (D-Mocap ST-GCN) -> right-wrist accelerometer and -> all six
  accelerometers, the six raw and with each clip's mean removed (``remove_mean``, placement).
- ``utd-trial``: the published trial protocol (trials 1-2 train, 3-4 test, all subjects) with
  harkd's validation selection beside "as published" selection on the test split
  (``--select-on-test``, marked as such).
- The vision side (issue 12), every run on all training subjects for a fixed schedule, final epoch:
  ``utd-depth`` (depth only from scratch: depth motion maps -> ``dmm_resnet``, the body-cropped
  clip -> ``r2plus1d``), ``utd-vskd`` (the depth motion map teacher -> the raw-acc 1D CNN: no KD,
  KD, VSKD's DASK; KD from the skeleton, from the skeleton + depth teacher ensemble and from the
  skeleton + depth late-fusion teacher), ``utd-vskd-gaf`` (the same three rows with VSKD's GASF + GADF image student)
  and ``utd-sakdn-dmm`` (SAKDN's acc + gyro teacher -> the depth motion map student: no KD, KD,
  SAKDN).

Protocol of the cross-subject suites (``train.refit=best``): every student run selects its
epoch on a held-out training subject (``data.val_subjects`` auto: UTD-MHAD subject 7... as
recorded in run.json), then is refit from scratch on all training subjects for that many
epochs; the refit's final epoch is the headline, the held-out-selected checkpoint is shown
beside it. Teachers train on all training-subject recordings (no validation split) for their
config's fixed schedule and keep the last epoch, so nothing about them is chosen on held-out
data. Test subjects only report. Each row is paired with its baseline over the same seeds
(two-sided paired t-test, harkd.engine.stats; a gain needs >= 5 seeds and p < 0.05).

Also writes ``benchmarks/results/summary.json`` keys ``utd_acc_best``, ``utd_acc_best_nokd``,
``utd_acc_kd_gain``, ``berkeley_wrist``, ``berkeley_six_acc``, ``berkeley_wrist_kd_gain``,
``utd_depth_best``, ``utd_vskd_gain``, ``utd_sakdn_gain``.

Teachers and seeds (issue 24, :mod:`harkd.suites.design`): by default every student seed S learns from its
own teacher, trained with seed S (``--teacher-design per-seed``), so a claim's spread holds the teacher's
too and the paired test's unit is the (teacher, student) pair; ``--teacher-design single`` declares the
runs of the tables before issue 24 (one teacher, seed 0, for every student seed). Each row records its
``seeds``, ``teacher_seeds`` (one per pair) and every teacher's test accuracy (last epoch; it only
reports). The recipes were chosen on seeds 0-4 (:data:`CHOOSING_SEEDS`); ``--headline`` re-measures each
suite's headline rows (:attr:`Suite.headline`, the rows of the summary keys) on the fresh seeds 10-14
(:data:`HEADLINE_SEEDS`, named before any run) into section ``<suite>-headline``, and the summary keys
come from that section when it exists (:func:`section_variants`). A design other than the usual one of
its kind writes its own section (:func:`section_id`), so the single-teacher rows stay beside the others.

Each suite is a set of declared runs (:class:`harkd.suites.RunSpec`): its teachers, then every
(row, seed) student, which names the teacher run it needs. :func:`harkd.suites.run_suite` trains
them in that order, ``--jobs`` at a time (each process on ``--threads`` threads; ``--backend ray``
for a Ray cluster), and a half-done suite resumes: finished runs are read from ``<out>/.suite/``,
killed ones resume from their run directory.

    HARKD_DATA_ROOT=../shared/data python benchmarks/kd_table.py --jobs 2
    HARKD_DATA_ROOT=../shared/data python benchmarks/kd_table.py --headline --suites utd-kd-patient --jobs 6 --gpus 0
    python benchmarks/kd_table.py --root ../shared/data --suites utd-depth utd-vskd utd-sakdn-dmm --jobs 2
    python benchmarks/kd_table.py --root ../shared/data --suites utd-kd --seeds 0 1 --set train.epochs=2 --no-write
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harkd.suites import (BACKENDS, CHOOSING_SEEDS, CONFIRMING_SEEDS, HEADLINE_SEEDS, TEACHER_DESIGNS, RunSpec,
                          accuracy_on_test, command_line, design_note, record_header, replace_section, run_name,
                          run_script, runner, section_id, seed_record, teacher_run_dir, teacher_seeds, train_run,
                          use_data_root)
from harkd.suites.design import SINGLE_TEACHER_SEED

HERE = Path(__file__).resolve().parent
CONFIGS = HERE.parent / "configs"
AUGMENT = "{scale: 0.1, rotate: 15, shift: 0.1, noise: 0.02}"
AUGMENT_NO_SHIFT = "{scale: 0.1, rotate: 15, noise: 0.02}"
PAIRED = "{shift: 0.1}"
MIXUP = "{alpha: 0.4, mode: mixup}"
NO_VALIDATION = ["data.val_subjects=null", "data.val_fraction=0"]
DEPTH_ONLY = ("depth motion maps (12 x 64 x 64) -> ResNet (dmm_resnet)",
              "body-cropped depth clip -> (2+1)D CNN (r2plus1d)",
              "depth motion maps (12 x 64 x 64) -> ResNet (dmm_resnet), 150 epochs")
VSKD_ROW = "raw-acc 1D CNN, VSKD (DASK + CE + 0.01 KD) from depth"  # utd_vskd_gain: fixed before the runs
SAKDN_ROWS = ("SAKDN (CE + 0.01 KD + GSDM + semantic)", "no KD (same 300-d bottleneck student)")
#: the Berkeley-MHAD rows of the summary keys (berkeley_wrist, berkeley_wrist_kd_gain, berkeley_six_acc)
BERKELEY_ROWS = ("right wrist (Shimmer 2), no KD", "right wrist (Shimmer 2), KD",
                 "six accelerometers, clip mean removed, no KD")


@dataclass
class Row:
    label: str
    kind: str  # train | distill
    config: str  # under configs/
    overrides: list[str] = field(default_factory=list)
    baselines: tuple[str, ...] = ()  # labels of the rows it is paired against
    teacher: str | tuple[str, ...] | None = None  # key(s) of Suite.teachers: teachers.0.run, teachers.1.run, ...
    as_published: bool = False

    @property
    def teacher_keys(self) -> tuple[str, ...]:
        """The row's teacher keys; ``KEY+k`` is teacher KEY of the k-th next pair's teacher seed (an ensemble of
        teacher seeds: ``("skeleton", "skeleton+1", "skeleton+2")``)."""
        return (self.teacher,) if isinstance(self.teacher, str) else tuple(self.teacher or ())


def teacher_base(key: str) -> str:
    """The :attr:`Suite.teachers` key of row teacher ``key`` (``skeleton+1`` -> ``skeleton``)."""
    return key.partition("+")[0]


def teacher_of_pair(key: str, t_seeds: list[int], i: int) -> tuple[str, int]:
    """``(Suite.teachers key, teacher seed)`` of row teacher ``key`` for pair ``i``: ``KEY+k`` takes the teacher
    seed of pair ``i + k`` (cyclically over the distinct teacher seeds), so every pair has its own ensemble."""
    base, offset = teacher_base(key), key.partition("+")[2]
    distinct = list(dict.fromkeys(t_seeds))
    return base, distinct[(distinct.index(t_seeds[i]) + int(offset or 0)) % len(distinct)]


@dataclass
class Suite:
    section: str
    title: str
    folder: str  # dataset folder under the data root
    teachers: dict[str, tuple[str, list[str]]]  # key -> (config, overrides)
    rows: list[Row]
    common: list[str]
    notes: list[str]
    metric: str | None = None  # headline metric; None: the refit when there is one, else the selected epoch
    headline: tuple[str, ...] = ()  # labels of the rows --headline reports on fresh seeds (named before the runs)
    confirm: tuple[str, ...] = ()  # labels of the rows --confirm tests again on the confirming seeds


def utd_rows(epochs: int | None = None, tag: str = "") -> list[Row]:
    """The UTD-MHAD student rows; ``tag`` is appended to every label (and so to every baseline)."""
    e = [f"train.epochs={epochs}"] if epochs else []
    aug = [f"data.modalities.inertial.augment={AUGMENT}"]
    paired = [f"data.modalities.inertial.augment={AUGMENT_NO_SHIFT}", f"data.paired_augment={PAIRED}"]
    return [
        Row("no KD" + tag, "train", "utd_mhad/acc_cnn1d.yaml", aug + e),
        Row("KD, fixed teacher view (cached)" + tag, "distill", "utd_mhad/distill/skel2acc_kd.yaml", aug + e,
            ("no KD" + tag,), "skeleton"),
        Row("KD, paired time augmentation (teacher online)" + tag, "distill", "utd_mhad/distill/skel2acc_kd.yaml",
            paired + e, ("no KD" + tag,), "skeleton"),
        Row("mixup only (no teacher)" + tag, "train", "utd_mhad/acc_cnn1d.yaml", aug + [f"train.mixup={MIXUP}"] + e,
            ("no KD" + tag,)),
        Row("KD + paired mixup (teacher online)" + tag, "distill", "utd_mhad/distill/skel2acc_kd.yaml",
            paired + [f"train.mixup={MIXUP}"] + e, ("no KD" + tag, "mixup only (no teacher)" + tag), "skeleton"),
    ]


#: issue 24's lever "an ensemble of teacher seeds", declared before its runs: nothing about it is chosen
SEED_ENSEMBLE = "KD from 3 teacher seeds averaged (cached)"


def seed_ensemble_row(epochs: int) -> Row:
    """KD from the mean softened output of the teachers of this pair's teacher seed and the next two pairs'
    (``skel2acc_kd_seeds3.yaml``), paired with the no-KD and the one-teacher KD rows of the same schedule."""
    tag = f", {epochs} epochs"
    return Row(SEED_ENSEMBLE + tag, "distill", "utd_mhad/distill/skel2acc_kd_seeds3.yaml",
               [f"data.modalities.inertial.augment={AUGMENT}", f"train.epochs={epochs}"],
               ("no KD" + tag, HEADLINE_RECIPE + tag), ("skeleton", "skeleton+1", "skeleton+2"))


@dataclass(frozen=True)
class HeldOutLever:
    """An issue-24 lever whose setting was chosen on held-out training subjects (choosing seeds 0-1, subjects 5
    and 7, the 150-epoch schedule): the variant with the best mean last-epoch held-out accuracy in section
    ``sweep`` of benchmarks/SWEEPS.md, named here before its test runs."""

    label: str
    overrides: tuple[str, ...]  # the chosen variant, on top of skel2acc_kd.yaml and the patient rows' overrides
    lever: str  # the lever, as issue 24 names it
    choices: str  # what the sweep chose among
    sweep: str


TUNED_KD = "KD, T and weight chosen on held-out subjects (cached)"
PROGRESS_KD = "KD, weight following the student's progress (cached)"
HELD_OUT_LEVERS = (
    HeldOutLever(TUNED_KD, ("losses.1.args.temperature=4", "losses.1.weight=0.5"),
                 "the temperature and KD weight chosen on held-out subjects", "T in {2, 4, 8} x weight in {0.5, 1, 3}",
                 "kd_temperature_weight"),
    HeldOutLever(PROGRESS_KD, ("losses.1.weight_end=0",), "a KD weight that follows the student's progress",
                 "weight 1 -> 0 and 0 -> 1, linear over the schedule (`weight_end`)", "kd_weight_progress"),
)
PATIENT_EPOCHS = (60, 150)  # utd-kd-patient's schedule lengths (--patient-epochs)
LEVER_EPOCHS = 150  # the schedule the sweeps ran: the lever rows are declared for that schedule only


#: issue 24's lever "virtual accelerometer windows computed from the paired skeleton" (``data.virtual_inertial``,
#: harkd.data.virtual), declared before its runs: its one setting (0.5 s smoothing) was fixed by the virtual
#: clips' agreement with the recorded ones on training subjects 1, 3 and 5; nothing is chosen on held-out
#: subjects (SWEEPS.md sections acc_virtual_inertial and kd_virtual_inertial show them, on the choosing seeds)
VIRTUAL = "virtual accelerometer twins, no teacher"
VIRTUAL_KD = "KD + virtual accelerometer twins (cached)"
VIRTUAL_OVERRIDE = "data.virtual_inertial={}"
VIRTUAL_SWEEPS = ("acc_virtual_inertial", "kd_virtual_inertial")


def lever_rows(epochs: int) -> list[Row]:
    """The lever rows of schedule ``epochs`` (none unless it is the swept schedule :data:`LEVER_EPOCHS`): each
    held-out-chosen lever paired with the no-KD and the default KD (T = 4, weight 1) rows, the virtual
    twins without a teacher paired with no KD, and with KD paired with no KD, KD and the twins alone."""
    if epochs != LEVER_EPOCHS:
        return []
    tag = f", {epochs} epochs"
    common = [f"data.modalities.inertial.augment={AUGMENT}", f"train.epochs={epochs}"]
    return [*(Row(lever.label + tag, "distill", "utd_mhad/distill/skel2acc_kd.yaml", [*common, *lever.overrides],
                  ("no KD" + tag, HEADLINE_RECIPE + tag), "skeleton") for lever in HELD_OUT_LEVERS),
            Row(VIRTUAL + tag, "train", "utd_mhad/acc_cnn1d.yaml", [*common, VIRTUAL_OVERRIDE], ("no KD" + tag,)),
            Row(VIRTUAL_KD + tag, "distill", "utd_mhad/distill/skel2acc_kd.yaml", [*common, VIRTUAL_OVERRIDE],
                ("no KD" + tag, HEADLINE_RECIPE + tag, VIRTUAL + tag), "skeleton")]


def patient_headline(patient_epochs: list[int]) -> tuple[str, ...]:
    """utd-kd-patient's headline rows: no KD, KD and the seed ensemble at every schedule, and the lever rows."""
    return tuple(label for e in patient_epochs for label in (
        *(f"{label}, {e} epochs" for label in ("no KD", HEADLINE_RECIPE, SEED_ENSEMBLE)),
        *(row.label for row in lever_rows(e))))


#: the hypothesis --confirm tests again, declared before its runs (issue 24): of the four levers the headline seeds
#: tested against the same KD row, only the twins with KD beat it (+0.8, p = 0.034: above 0.05 / 4 = 0.0125), so
#: those rows are run again, alone, on the confirming seeds 20-24 (harkd.suites.design.CONFIRMING_SEEDS)
CONFIRMED_LEVER = VIRTUAL_KD


def patient_confirm(patient_epochs: list[int]) -> tuple[str, ...]:
    """utd-kd-patient's confirmation rows: no KD, KD and :data:`CONFIRMED_LEVER` on the swept schedule."""
    tag = f", {LEVER_EPOCHS} epochs"
    return (f"no KD{tag}", f"{HEADLINE_RECIPE}{tag}", f"{CONFIRMED_LEVER}{tag}") if LEVER_EPOCHS in patient_epochs else ()


def suites(patient_epochs: list[int]) -> dict[str, Suite]:
    utd_teacher = {"skeleton": ("utd_mhad/skeleton_stgcn_aug.yaml", NO_VALIDATION)}
    refit = ["train.refit=best"]
    utd_notes = [
        "protocol: cross-subject, train subjects 1, 3, 5, 7, test 2, 4, 6, 8 (430 recordings, only reported); "
        "each student run selects its epoch on one held-out training subject (data.val_subjects auto), then is "
        "refit on all four training subjects for that many epochs (train.refit=best): **refit, final epoch** is "
        "the headline, the held-out-selected checkpoint beside it",
        "teacher: the augmented skeleton ST-GCN (`configs/utd_mhad/skeleton_stgcn_aug.yaml`) trained on "
        "all 431 training-subject recordings for its fixed 60 epochs, last epoch",
        f"student: raw acc -> 1D CNN 64/128/256 (`acc_cnn1d.yaml`), inertial augmentation `{AUGMENT}` in every row "
        f"(the paired rows move its `shift` into `data.paired_augment={PAIRED}`, drawn once per recording for "
        f"teacher and student); KD: CE (label smoothing 0.1) + KD (T = 4); mixup `train.mixup={MIXUP}`",
    ]
    bk_teacher = {"skeleton": ("berkeley_mhad/skeleton_stgcn.yaml", NO_VALIDATION)}
    wrist = ["data.modalities.inertial.load.accelerometers=[2]"]
    centred = ["data.modalities.inertial.remove_mean=true"]
    bk = "berkeley_mhad/acc_cnn1d.yaml", "berkeley_mhad/distill/skel2acc_kd.yaml"
    aug_bk = [f"data.modalities.inertial.augment={AUGMENT_NO_SHIFT}"]
    trial_common = ["data.protocol=subject_specific"]
    trial_rows = []
    for published in (False, True):
        tag = " (as published: epoch chosen on TEST)" if published else " (validation-selected)"
        trial_rows += [
            Row("no KD" + tag, "train", "utd_mhad/acc_cnn1d.yaml", [f"data.modalities.inertial.augment={AUGMENT}"],
                as_published=published),
            Row("KD" + tag, "distill", "utd_mhad/distill/skel2acc_kd.yaml",
                [f"data.modalities.inertial.augment={AUGMENT}"], ("no KD" + tag,), "skeleton", published),
        ]
    vision_common = [
        "protocol: cross-subject, train subjects 1, 3, 5, 7, test 2, 4, 6, 8 (430 recordings, only reported); "
        "every run (teachers too) trains on all 431 training-subject recordings for its config's fixed cosine "
        "schedule and is measured at its **final epoch**: nothing is selected on any split. The depth "
        "representation and model were chosen beforehand by leave-one-training-subject-out validation on "
        "subjects 1, 3, 5, 7 only (benchmarks/SWEEPS.md, depth)"]
    depth_teacher = ("utd_mhad/depth_dmm.yaml", NO_VALIDATION)
    aug = [f"data.modalities.inertial.augment={AUGMENT}"]
    gaf = "utd_mhad/acc_gafboth_aug_resnet18.yaml"
    student_of = {"raw-acc 1D CNN": ("utd_mhad/acc_cnn1d.yaml", aug), "GASF + GADF ResNet": (gaf, [])}

    def vskd(student: str, kd: str, dask: str) -> list[Row]:
        """The three VSKD rows of one student: no KD, KD and DASK from the depth teacher."""
        config, overrides = student_of[student]
        base = f"{student}, no KD"
        return [Row(base, "train", config, overrides),
                Row(f"{student}, KD from depth", "distill", kd, overrides, (base,), "depth"),
                Row(f"{student}, VSKD (DASK + CE + 0.01 KD) from depth", "distill", dask, overrides,
                    (base, f"{student}, KD from depth"), "depth")]

    return {
        "utd-depth": Suite(
            "utd-depth", "Depth only, from scratch: depth motion maps and clips, UTD-MHAD cross-subject "
            "(benchmarks/kd_table.py --suites utd-depth)", "UTD-MHAD", {}, [
                Row(DEPTH_ONLY[0], "train", "utd_mhad/depth_dmm.yaml"),
                Row(DEPTH_ONLY[1], "train", "utd_mhad/depth_r2plus1d.yaml"),
                Row(DEPTH_ONLY[2], "train", "utd_mhad/depth_dmm.yaml", ["train.epochs=150"]),
            ], NO_VALIDATION, [*vision_common, "every model trains from scratch on UTD-MHAD alone (no pretraining), for its "
                               "config's epochs (the 150-epoch row: the patient length of section utd-kd-patient, "
                               "fixed before the run, both lengths shown); "
                               "depth motion maps: front/side/top motion energy of the body-cropped clip over the "
                               "whole clip and its three thirds (`data.modalities.depth.dmm`), computed once and "
                               "cached"], metric="last"),
        "utd-vskd": Suite(
            "utd-vskd", "Depth -> accelerometer students (VSKD's direction) with the depth motion map teacher, and a "
            "skeleton + depth teacher ensemble, UTD-MHAD cross-subject (benchmarks/kd_table.py --suites utd-vskd)",
            "UTD-MHAD", {"depth": depth_teacher, "skeleton": ("utd_mhad/skeleton_stgcn_aug.yaml", NO_VALIDATION),
                         "fusion": ("utd_mhad/skel_depth_fusion.yaml", NO_VALIDATION)}, [
                *vskd("raw-acc 1D CNN", "utd_mhad/distill/depth2acc_kd.yaml", "utd_mhad/distill/depth2acc_dask.yaml"),
                Row("raw-acc 1D CNN, KD from skeleton", "distill", "utd_mhad/distill/skel2acc_kd.yaml", aug,
                    ("raw-acc 1D CNN, no KD",), "skeleton"),
                Row("raw-acc 1D CNN, KD from the skeleton + depth ensemble", "distill",
                    "utd_mhad/distill/skeldepth2acc_ensemble.yaml", aug,
                    ("raw-acc 1D CNN, no KD", "raw-acc 1D CNN, KD from skeleton"), ("skeleton", "depth")),
                Row("raw-acc 1D CNN, KD from the skeleton + depth late-fusion teacher", "distill",
                    "utd_mhad/distill/skel2acc_kd.yaml", aug,
                    ("raw-acc 1D CNN, no KD", "raw-acc 1D CNN, KD from skeleton"), "fusion"),
            ], NO_VALIDATION, [*vision_common, "depth teacher: `configs/utd_mhad/depth_dmm.yaml`; skeleton "
                               "teacher: the augmented ST-GCN (`skeleton_stgcn_aug.yaml`); student: raw acc "
                               f"-> 1D CNN 64/128/256, inertial augmentation `{AUGMENT}`, 60 epochs; KD: CE (label "
                               "smoothing 0.1) + KD (T = 4); VSKD: CE + 0.01 KD + DASK on the pooled features; "
                               "ensemble: the mean of the two teachers' softmax(z / 4); fused teacher: "
                               "`skel_depth_fusion.yaml` (ST-GCN + depth motion map branches, late fusion)"],
            metric="last", headline=("raw-acc 1D CNN, no KD", "raw-acc 1D CNN, KD from depth", VSKD_ROW)),
        "utd-vskd-gaf": Suite(
            "utd-vskd-gaf", "Depth -> accelerometer GAF-image students (VSKD's student type) with the depth motion map "
            "teacher, UTD-MHAD cross-subject (benchmarks/kd_table.py --suites utd-vskd-gaf)", "UTD-MHAD",
            {"depth": depth_teacher},
            vskd("GASF + GADF ResNet", "utd_mhad/distill/depth2gaf_kd.yaml", "utd_mhad/distill/depth2gaf_dask.yaml"),
            NO_VALIDATION, [*vision_common, "depth teacher: `configs/utd_mhad/depth_dmm.yaml`; student: "
                            f"`{gaf}` (GASF + GADF images of the accelerometer, augmentation), its 60 epochs"],
            metric="last"),
        "utd-sakdn-dmm": Suite(
            "utd-sakdn-dmm", "Acc + gyro teachers (SPAMFM-fused, semantic) -> depth motion map student (SAKDN's "
            "direction), UTD-MHAD cross-subject (benchmarks/kd_table.py --suites utd-sakdn-dmm)", "UTD-MHAD",
            {"accgyro": ("utd_mhad/accgyro_sakdn_teacher.yaml", NO_VALIDATION)}, [
                Row(SAKDN_ROWS[1], "train", "utd_mhad/depth_dmm_sem300.yaml"),
                Row("KD", "distill", "utd_mhad/distill/accgyro2dmm_kd.yaml", [], (SAKDN_ROWS[1],), "accgyro"),
                Row(SAKDN_ROWS[0], "distill", "utd_mhad/distill/accgyro2dmm_sakdn.yaml", [], (SAKDN_ROWS[1], "KD"),
                    "accgyro"),
            ], NO_VALIDATION, [*vision_common, "teacher: `configs/utd_mhad/accgyro_sakdn_teacher.yaml` (acc and gyro "
                               "GASF branches, SPAMFM-fused, GloVe semantic loss); student: "
                               "`depth_dmm_sem300.yaml` (the depth motion map ResNet with a 300-d semantic "
                               "bottleneck)"], metric="last", headline=(SAKDN_ROWS[1], "KD", SAKDN_ROWS[0])),
        "utd-kd": Suite("utd-kd", "Skeleton -> accelerometer student: fixed vs consistent teaching, UTD-MHAD "
                        "cross-subject (benchmarks/kd_table.py --suites utd-kd)", "UTD-MHAD", utd_teacher,
                        utd_rows(), refit, utd_notes),
        "utd-kd-patient": Suite(
            "utd-kd-patient", "Patient schedules: KD gain against schedule length, UTD-MHAD cross-subject "
            "(benchmarks/kd_table.py --suites utd-kd-patient)", "UTD-MHAD", utd_teacher,
            [row for e in patient_epochs
             for row in [*utd_rows(e, f", {e} epochs")[:3], seed_ensemble_row(e), *lever_rows(e)]],
            NO_VALIDATION,
            ["protocol: cross-subject, train subjects 1, 3, 5, 7, test 2, 4, 6, 8 (430 recordings, only reported); "
             "every run trains on all 431 training-subject recordings for a fixed cosine schedule of the stated "
             "length and is measured at its **final epoch**: nothing is selected on any split, so rows of "
             "different lengths compare the schedules themselves", *utd_notes[1:],
             f"{SEED_ENSEMBLE}: issue 24's lever 'an ensemble of teacher seeds', declared before its runs (nothing "
             "about it chosen on any split): the mean softmax(z / 4) of the teachers of the pair's teacher seed and "
             "of the next two pairs' (cyclically), `configs/utd_mhad/distill/skel2acc_kd_seeds3.yaml`; paired with "
             "the no-KD and the one-teacher KD rows of the same schedule",
             *(f"{lever.label}: issue 24's lever '{lever.lever}': of {lever.choices}, the variant with the best "
               "mean last-epoch accuracy on held-out training subjects 5 and 7 (choosing seeds 0-1; "
               f"benchmarks/SWEEPS.md, section {lever.sweep}), `{' '.join(lever.overrides)}`, named before its "
               f"test runs; {LEVER_EPOCHS} epochs only (the swept schedule); paired with the no-KD and the "
               "default KD (T = 4, weight 1) rows" for lever in HELD_OUT_LEVERS),
             f"{VIRTUAL} / {VIRTUAL_KD}: issue 24's lever 'virtual accelerometer windows computed from the paired "
             "skeleton' (`data.virtual_inertial`, harkd.data.virtual): every training recording gets a second "
             "sample whose accelerometer clip is the sensor site's acceleration minus gravity (Savitzky-Golay, "
             "0.5 s), in the forearm's (actions 1-21) or thigh's (22-27) moving frame, turned once onto the "
             "recording's own accelerometer; the 0.5 s was fixed by the virtual clips' agreement with the recorded "
             "ones on training subjects 1, 3 and 5, declared before the runs; held-out look on the choosing seeds: "
             f"SWEEPS.md sections {' and '.join(VIRTUAL_SWEEPS)}; {LEVER_EPOCHS} epochs only"], metric="last",
            headline=patient_headline(patient_epochs), confirm=patient_confirm(patient_epochs)),
        "berkeley-kd": Suite(
            "berkeley-kd", "Skeleton -> accelerometer students, Berkeley-MHAD cross-subject, full release "
            "(benchmarks/kd_table.py --suites berkeley-kd)", "Berkeley-MHAD", bk_teacher, [
                Row("right wrist (Shimmer 2), no KD", "train", bk[0], wrist + aug_bk),
                Row("right wrist (Shimmer 2), KD", "distill", bk[1], wrist + aug_bk,
                    ("right wrist (Shimmer 2), no KD",), "skeleton"),
                Row("six accelerometers, raw, no KD", "train", bk[0], aug_bk),
                Row("six accelerometers, clip mean removed, no KD", "train", bk[0], centred + aug_bk,
                    ("six accelerometers, raw, no KD", "right wrist (Shimmer 2), no KD")),
                Row("six accelerometers, clip mean removed, KD", "distill", bk[1], centred + aug_bk,
                    ("six accelerometers, clip mean removed, no KD",), "skeleton"),
            ], refit, [
                "protocol: cross-subject, train subjects 1-7, test 8-12 (275 recordings, only reported); each "
                "student run selects its epoch on one held-out training subject (data.val_subjects auto), then is "
                "refit on all seven (train.refit=best): refit, final epoch is the headline",
                "teacher: D-Mocap skeleton ST-GCN (`configs/berkeley_mhad/skeleton_stgcn.yaml`) trained on "
                "all training-subject recordings for its fixed 60 epochs, last epoch",
                f"students: 1D CNN 64/128/256 (`configs/berkeley_mhad/acc_cnn1d.yaml`, 30 Hz common grid, 128 "
                f"samples), inertial augmentation `{AUGMENT_NO_SHIFT}` (the rotation turns all sensors together); "
                "`remove_mean`: each clip's per-channel mean subtracted (the static gravity direction, which "
                "depends on how each sensor sits on the body); KD: CE (label smoothing 0.1) + KD (T = 4)",
            ], headline=BERKELEY_ROWS),
        "utd-trial": Suite(
            "utd-trial", "The published trial protocol, side by side: validation-selected vs as published, "
            "UTD-MHAD trials 1-2 / 3-4 (benchmarks/kd_table.py --suites utd-trial)", "UTD-MHAD",
            {"skeleton": ("utd_mhad/skeleton_stgcn_aug.yaml", trial_common + NO_VALIDATION)}, trial_rows,
            trial_common, [
                "protocol `subject_specific`: trials 1-2 of every subject train (432), trials 3-4 test (429); "
                "validation-selected rows carve 15 % per class from the training trials (the published code has "
                "no validation split); **as published** rows train on all training trials and keep the epoch "
                "with the best TEST accuracy (`--select-on-test`, the released SAKDN/VSKD practice): an "
                "optimistic number, not an estimate of accuracy on new data",
                "teacher: augmented skeleton ST-GCN trained on the training trials (fixed 60 epochs, last epoch); "
                f"students: 1D CNN 64/128/256 with inertial augmentation `{AUGMENT}`, 60 epochs; KD: CE + KD (T = 4)",
            ]),
    }


def _measure(run_dir: str) -> dict:
    """Test accuracy of the selected checkpoint and, when refit, of the refit's final epoch."""
    from harkd.engine.evaluate import evaluate_run
    from harkd.engine.rundir import read_run_meta
    from harkd.engine.trainer import read_metrics_file

    run = Path(run_dir)
    meta = read_run_meta(run)
    out = {"run_dir": run_dir, "selected": 100 * evaluate_run(run, "test", "best")["accuracy"],
           "last": 100 * evaluate_run(run, "test", "last")["accuracy"],
           "validation": meta.get("validation"), "selection": meta.get("selection")}
    metrics = read_metrics_file(run / "metrics.jsonl")
    out["best_epoch"] = max((m.get("best_epoch") or 0) for m in metrics) if metrics else None
    out["seconds_per_epoch"] = statistics.median(m["seconds"] for m in metrics) if metrics else None
    if (run / "refit" / "run.json").is_file():
        out["refit"] = 100 * evaluate_run(run / "refit", "test", "last")["accuracy"]
        out["refit_epochs"] = len(read_metrics_file(run / "refit" / "metrics.jsonl"))
    print(json.dumps({k: v for k, v in out.items() if not isinstance(v, dict)}), flush=True)
    return out


def _job(spec: RunSpec) -> dict:
    """Train (or resume) one run; a student is then measured, a teacher's last epoch only tested (it reports)."""
    run_dir = str(train_run(spec))
    return _measure(run_dir) if spec.measure else {"run_dir": run_dir, "test_last": accuracy_on_test(run_dir)}


def teacher_name(key: str, seed: int = SINGLE_TEACHER_SEED) -> str:
    """The suite run name of teacher ``key`` trained with ``seed`` (seed 0's keeps the single-teacher name)."""
    return f"teacher:{key}" if seed == SINGLE_TEACHER_SEED else f"teacher:{key}:s{seed}"


def teacher_runs(suite: Suite, seeds: list[int], out: Path, extra: list[str], teacher_run: str | None = None,
                 design: str = "per-seed") -> tuple[list[RunSpec], dict[tuple[str, int], str]]:
    """The teachers the suite's rows need, one per (teacher key, teacher seed) of ``design``, and their run
    directories: one per config, protocol and seed (suites naming the same teacher share it); none trained
    with ``teacher_run`` (a run directory trained by the same rule, ``{seed}`` standing for its seed)."""
    used = {teacher_base(key) for row in suite.rows for key in row.teacher_keys}
    runs, dirs = [], {}
    for key, (config, overrides) in suite.teachers.items():
        if key not in used:
            continue
        protocol = "trial" if "data.protocol=subject_specific" in overrides else "xsub"
        for seed in dict.fromkeys(teacher_seeds(design, seeds)):
            if teacher_run:
                dirs[key, seed] = teacher_run_dir(teacher_run, seed, design)
                continue
            dirs[key, seed] = str(out / f"teacher_{Path(config).parent}_{Path(config).stem}_{protocol}_s{seed}")
            runs.append(RunSpec(teacher_name(key, seed), "train", str(CONFIGS / config), dirs[key, seed],
                                (*overrides, f"seed={seed}", *extra), measure=False))
    return runs, dirs


def suite_runs(suite: Suite, seeds: list[int], out: Path, extra: list[str], teacher_run: str | None = None,
               design: str = "per-seed") -> tuple[list[RunSpec], list[tuple[Row, str]]]:
    """The suite's declared runs: its teachers (:func:`teacher_runs`), then every (row, seed) student, needing
    its row's teachers of that seed's teacher seed. Also the (row, run name) of each student. The ``single``
    design declares the runs of every table before issue 24 (one teacher, seed 0)."""
    runs, teachers = teacher_runs(suite, seeds, out, extra, teacher_run, design)
    students = []
    t_seeds = teacher_seeds(design, seeds)
    for row in suite.rows:
        for pair, (seed, t_seed) in enumerate(zip(seeds, t_seeds)):
            overrides = [*suite.common, *row.overrides, f"seed={seed}", *extra]
            if row.as_published:
                overrides = [o for o in overrides if o != "train.refit=best"] + NO_VALIDATION
            taught = [teacher_of_pair(key, t_seeds, pair) for key in row.teacher_keys]
            overrides += [f"teachers.{i}.run={teachers.get(t, 'UNDECLARED')}" for i, t in enumerate(taught)]
            name = run_name(row.label, seed, t_seed if row.teacher_keys else None)
            runs.append(RunSpec(name, row.kind, str(CONFIGS / row.config), str(out / suite.section / name),
                                tuple(overrides), tuple(teacher_name(*t) for t in taught),
                                select_on="test" if row.as_published else "val"))
            students.append((row, name))
    return runs, students


def run_suite(suite: Suite, seeds: list[int], out: Path, extra: list[str], jobs: int,
              teacher_run: str | None = None, threads: int = 1, backend: str = "local", design: str = "per-seed",
              role: str = "choosing", gpus: list[int] = ()) -> list[dict]:
    """Run the suite's teachers, then its students (:func:`suite_runs`), ``jobs`` at a time (packed over
    ``gpus`` when given); one entry per row, with its (teacher, student) seed pairs and teachers' test accuracy."""
    from harkd.engine.stats import summarize

    runs, students = suite_runs(suite, seeds, out, extra, teacher_run, design)
    _, teacher_dirs = teacher_runs(suite, seeds, out, extra, teacher_run, design)
    external = [teacher_name(key, seed) for key, seed in teacher_dirs] if teacher_run else []
    results = runner.run_suite(runs, _job, jobs=jobs, threads=threads, backend=backend, external=external,
                               state_dir=out / ".suite" / suite.section, gpus=gpus)
    accuracy = {}  # teacher run directory -> its test accuracy (last epoch)
    for (key, seed), run_dir in teacher_dirs.items():
        measured = results.get(teacher_name(key, seed)) or {}
        accuracy[run_dir] = measured["test_last"] if "test_last" in measured else accuracy_on_test(run_dir)
    t_seeds = teacher_seeds(design, seeds)

    def taught_by(key: str) -> dict:  # row teacher ``key``'s seed, run and test accuracy in each pair
        pairs = [teacher_of_pair(key, t_seeds, i) for i in range(len(seeds))]
        return {"seeds": [seed for _, seed in pairs], "run_dirs": [teacher_dirs[p] for p in pairs],
                "test_last": [accuracy[teacher_dirs[p]] for p in pairs]}

    rows = []
    for row in suite.rows:
        runs = [results[name] for w_row, name in students if w_row is row]
        entry = {"row": row.label, "kind": row.kind, "config": f"configs/{row.config}", "seeds": seeds,
                 "overrides": [*suite.common, *row.overrides], "as_published": row.as_published,
                 "teacher_design": design, "seed_role": role,
                 "teacher_seeds": t_seeds if row.teacher_keys else None,
                 "teachers": {key: taught_by(key) for key in row.teacher_keys},
                 "command": command(row, suite), "runs": runs, "metric": suite.metric}
        if design == "single":  # the field of the single-teacher tables: the teacher run (one per key)
            dirs = [teacher_dirs[teacher_base(key), SINGLE_TEACHER_SEED] for key in row.teacher_keys]
            entry["teacher"] = dirs[0] if isinstance(row.teacher, str) else dirs or None
        for metric in ("refit", "selected", "last"):
            values = [r[metric] for r in runs if metric in r]
            if len(values) == len(runs):
                entry[metric] = {"values": values, **summarize(values)}
        entry["seconds_per_epoch"] = statistics.median(r["seconds_per_epoch"] for r in runs)
        entry["refit_epochs"] = [r.get("refit_epochs") for r in runs]
        rows.append(entry)
    pair_rows(rows, suite)
    return rows


def command(row: Row, suite: Suite) -> str:
    sets = " ".join(f"--set '{o}'" for o in [*suite.common, *row.overrides])
    keys = row.teacher_keys
    teacher = " --set teachers.0.run=TEACHER" if len(keys) == 1 else "".join(
        f" --set teachers.{i}.run={key.upper()}_TEACHER" for i, key in enumerate(keys))
    flag = " --select-on-test" if row.as_published else ""
    return f"harkd {row.kind} configs/{row.config} --set seed=S {sets}{teacher}{flag}"


def headline(row: dict) -> str:
    return row.get("metric") or ("refit" if "refit" in row else "selected")


def pair_rows(rows: list[dict], suite: Suite) -> None:
    from harkd.engine.stats import paired_test

    by_label = {r["row"]: r for r in rows}
    specs = {r.label: r for r in suite.rows}
    for row in rows:
        spec = specs[row["row"]]
        row["gains"] = {}
        for base in spec.baselines:
            metric = headline(row)
            other = by_label.get(base)  # None: that row was skipped
            if other is not None and metric in other:
                row["gains"][base] = {m: paired_test(row[m]["values"], other[m]["values"])
                                      for m in ("refit", "selected", "last") if m in row and m in other}


def pct(stat: dict | None) -> str:
    if not stat:
        return "-"
    return f"{stat['mean']:.1f}" if stat["n"] == 1 else f"{stat['mean']:.1f} +- {stat['std']:.1f}"


def gain_text(row: dict, metric: str) -> str:
    parts = []
    for base, tests in row["gains"].items():
        t = tests.get(metric)
        if t:
            parts.append(f"{t['mean']:+.1f} vs {base} (p = {t['p_value']:.2g}, {t['verdict']})")
    return "; ".join(parts) or "-"


def teacher_cell(row: dict) -> str:
    """Each teacher's test accuracy (last epoch) over the row's pairs, e.g. ``96.5 +- 0.2 (5 teachers)``."""
    from harkd.engine.stats import summarize

    parts = []
    for key, taught in (row.get("teachers") or {}).items():
        distinct = dict(zip(taught["run_dirs"], taught["test_last"]))
        text = pct(summarize(list(distinct.values()))) + (
            f" ({len(distinct)} teachers)" if len(distinct) > 1 else f" (seed {row['teacher_seeds'][0]})")
        parts.append(text if len(row["teachers"]) == 1 else f"{key} {text}")
    return "; ".join(parts) or "-"


def table(rows: list[dict]) -> str:
    if rows and rows[0].get("metric") == "last":
        lines = ["| row | test acc. final epoch (%) | paired gain | teacher test acc. (%) | s / epoch | "
                 "command (S = seed) |", "|---|---:|---|---:|---:|---|"]
        lines += [f"| {r['row']} | {pct(r.get('last'))} | {gain_text(r, 'last')} | {teacher_cell(r)} | "
                  f"{r['seconds_per_epoch']:.2f} | `{r['command']}` |" for r in rows]
        return "\n".join(lines)
    refit = any("refit" in r for r in rows)
    head = ("| row | test acc. refit, final epoch (%) | paired gain, refit | test acc. held-out-selected (%) | "
            "paired gain, selected | teacher test acc. (%) | refit epochs | s / epoch | command (S = seed) |"
            ) if refit else ("| row | test acc. selected (%) | paired gain | test acc. last epoch (%) | teacher test "
                             "acc. (%) | s / epoch | command (S = seed) |")
    lines = [head, "|---|---:|---|---:|---|---:|---:|---:|---|" if refit else "|---|---:|---|---:|---:|---:|---|"]
    for r in rows:
        if refit:
            epochs = sorted({e for e in r["refit_epochs"] if e})
            span = f"{epochs[0]}-{epochs[-1]}" if len(epochs) > 1 else (str(epochs[0]) if epochs else "-")
            lines.append(f"| {r['row']} | {pct(r.get('refit'))} | {gain_text(r, 'refit')} | {pct(r.get('selected'))} | "
                         f"{gain_text(r, 'selected')} | {teacher_cell(r)} | {span} | {r['seconds_per_epoch']:.2f} | "
                         f"`{r['command']}` |")
        else:
            lines.append(f"| {r['row']} | {pct(r.get('selected'))} | {gain_text(r, 'selected')} | "
                         f"{pct(r.get('last'))} | {teacher_cell(r)} | {r['seconds_per_epoch']:.2f} | "
                         f"`{r['command']}` |")
    return "\n".join(lines)


def _seeds(row: dict) -> dict:
    """The seed design of a row written since issue 24 (student seeds, teacher seed of each pair, role)."""
    if "teacher_design" not in row:
        return {}
    return {"seeds": row["seeds"], "teacher_seeds": row["teacher_seeds"], "teacher_design": row["teacher_design"],
            "seed_role": row["seed_role"]}


def _acc(row: dict, section: str) -> dict:
    stat = row[headline(row)]
    what = {"refit": "refit, final epoch", "last": "final epoch, nothing selected"}.get(headline(row), "selected")
    return {"mean": stat["mean"], "std": stat["std"], "n": stat["n"], "section": section,
            "row": f"{row['row']} ({what})", **_seeds(row)}


def _gain(row: dict, base: str, section: str) -> dict:
    t = row["gains"][base][headline(row)]
    return {"mean": t["mean"], "p_value": t["p_value"], "n": t["n"], "section": section,
            "row": f"{row['row']} vs {base}", "verdict": t["verdict"], "test": t["test"], **_seeds(row)}


UTD_SECTIONS = ("utd-kd", "utd-kd-patient")
#: the recipe ``utd_acc_best`` reports: harkd's default KD (``teacher_cache: true``, the teacher sees the fixed view)
HEADLINE_RECIPE = "KD, fixed teacher view (cached)"
SUMMARY_SECTIONS = (*UTD_SECTIONS, "berkeley-kd", "utd-depth", "utd-vskd", "utd-sakdn-dmm")
#: the suites with headline rows, in the order --headline runs them (utd-kd-patient first: the device table's
#: ensemble teachers include its 150-epoch students)
HEADLINE_SUITES = ("utd-kd-patient", "berkeley-kd", "utd-vskd", "utd-sakdn-dmm")


def section_variants(name: str) -> tuple[str, ...]:
    """The sections of suite ``name`` a summary key may come from, the preferred first: the fresh-seed headline
    with one teacher per seed, then one teacher per seed on the choosing seeds, then the single-teacher table."""
    return section_id(name, "per-seed", True), section_id(name, "per-seed", False), name


def _pick(sections: dict[str, list[dict]], name: str) -> tuple[str, list[dict]]:
    """(section, rows) of the preferred variant of suite ``name`` that ``sections`` holds (rows empty: none)."""
    return next(((s, sections[s]) for s in section_variants(name) if sections.get(s)), (name, []))


def utd_headline(sections: dict[str, list[dict]]) -> tuple[str, dict] | None:
    """``(section, row)`` of ``utd_acc_best``: the :data:`HEADLINE_RECIPE` row on the longest schedule of
    utd-kd-patient, else that row of utd-kd (each from its preferred section, :func:`section_variants`). A named
    row, not the best one: picking the row with the best test mean would select on the test split (and hop to
    whichever row a re-run favours)."""
    section, rows = _pick(sections, "utd-kd-patient")
    patient = [r for r in rows if r["row"].startswith(HEADLINE_RECIPE + ", ")]
    if patient:
        return section, max(patient, key=lambda r: int(r["row"].rsplit(", ", 1)[1].split()[0]))
    section, rows = _pick(sections, "utd-kd")
    row = next((r for r in rows if r["row"] == HEADLINE_RECIPE), None)
    return None if row is None else (section, row)


def summary_keys(sections: dict[str, list[dict]]) -> dict:
    """summary.json's keys from the sections' rows (accuracies in percent, gains paired), each suite's from its
    preferred section (:func:`section_variants`: fresh headline seeds and one teacher per seed first).

    ``utd_depth_best``: the best depth-only row of utd-depth; ``utd_vskd_gain``: the VSKD (DASK) 1D CNN
    student against its no-KD twin; ``utd_sakdn_gain``: the SAKDN depth student against its no-KD twin.

    ``utd_acc_best``: the :data:`HEADLINE_RECIPE` row (:func:`utd_headline`), with the no-KD row of
    the same section (same augmentation and schedule, no teacher) and the paired gain. Rows written since
    issue 24 add their ``seeds``, ``teacher_seeds`` (one per pair), design and seed role; the three utd keys
    then also carry the pairs' teacher seeds and the gain's ``p_value``."""
    keys = {}
    found = utd_headline(sections)
    if found:
        section, best = found
        no_kd = next(iter(best["gains"]), best["row"])  # the row's first baseline: its no-KD twin
        base = next(r for r in sections[section] if r["row"] == no_kd)
        keys.update(utd_acc_best=_acc(best, section), utd_acc_best_nokd=_acc(base, section))
        if best is not base:
            keys["utd_acc_kd_gain"] = _gain(best, no_kd, section)
            if "teacher_design" in best:  # the pairs: the no-KD student of seed s is paired with teacher s's student
                for key in ("utd_acc_best", "utd_acc_best_nokd"):
                    keys[key].update(teacher_seeds=best["teacher_seeds"], p_value=keys["utd_acc_kd_gain"]["p_value"])
    section, rows = _pick(sections, "utd-depth")
    depth = [r for r in rows if r["row"] in DEPTH_ONLY]
    if depth:
        keys["utd_depth_best"] = _acc(max(depth, key=lambda r: r[headline(r)]["mean"]), section)
    section, rows = _pick(sections, "utd-vskd")
    rows = {r["row"]: r for r in rows}
    if VSKD_ROW in rows:
        keys["utd_vskd_gain"] = _gain(rows[VSKD_ROW], "raw-acc 1D CNN, no KD", section)
    section, rows = _pick(sections, "utd-sakdn-dmm")
    rows = {r["row"]: r for r in rows}
    if SAKDN_ROWS[0] in rows:
        keys["utd_sakdn_gain"] = _gain(rows[SAKDN_ROWS[0]], SAKDN_ROWS[1], section)
    section, rows = _pick(sections, "berkeley-kd")
    rows = {r["row"]: r for r in rows}
    if rows:
        wrist = rows[BERKELEY_ROWS[0]]
        six = max((r for r in rows.values() if r["row"].startswith("six") and r["kind"] == "train"),
                  key=lambda r: r[headline(r)]["mean"])
        keys.update(berkeley_wrist=_acc(wrist, section), berkeley_six_acc=_acc(six, section),
                    berkeley_wrist_kd_gain=_gain(rows[BERKELEY_ROWS[1]], wrist["row"], section))
    return keys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", help="data root holding UTD-MHAD/ and Berkeley-MHAD/ (default: $HARKD_DATA_ROOT)")
    ap.add_argument("--suites", nargs="+", help="default: utd-kd berkeley-kd utd-trial; with --headline, every "
                    "suite that has headline rows")
    ap.add_argument("--seeds", nargs="+", type=int,
                    help=f"student seeds (default: {' '.join(map(str, CHOOSING_SEEDS))}, the seeds that chose the "
                         "recipes)")
    ap.add_argument("--headline", action="store_true",
                    help=f"report the headline rows of each suite on the fresh seeds "
                         f"{' '.join(map(str, HEADLINE_SEEDS))} (named before the runs, used for nothing else); "
                         "written as section <suite>-headline")
    ap.add_argument("--confirm", action="store_true",
                    help=f"test the confirmation rows of each suite (one hypothesis the headline seeds singled out) "
                         f"again on the confirming seeds {' '.join(map(str, CONFIRMING_SEEDS))} (named before the "
                         "runs, used for nothing else); written as section <suite>-confirm")
    ap.add_argument("--teacher-design", choices=TEACHER_DESIGNS, default="per-seed",
                    help="per-seed (default): student seed S learns from the teacher trained with seed S; single: "
                         "every seed from the teacher of seed 0 (the tables before issue 24)")
    ap.add_argument("--out", default="runs/kd", help="run directories (resumed if present)")
    ap.add_argument("--jobs", type=int, default=1, help="runs trained at once (each on --threads threads)")
    ap.add_argument("--threads", type=int, default=1, help="thread budget of each run (default 1)")
    ap.add_argument("--gpus", default="", help="pack the --jobs runs over these GPUs (e.g. 0 or 0,1; local backend)")
    ap.add_argument("--backend", choices=BACKENDS, default="local",
                    help="local processes, or Ray tasks (pip install 'harkd[ray]'; RAY_ADDRESS names a cluster)")
    ap.add_argument("--patient-epochs", type=int, nargs="+", default=list(PATIENT_EPOCHS),
                    help="schedule lengths of the utd-kd-patient suite")
    ap.add_argument("--teacher-run", action="append", default=[], metavar="SUITE=RUN_DIR",
                    help="reuse teachers trained by this script's rule (all training-subject recordings, fixed "
                         "schedule, last epoch) elsewhere, {seed} standing for the teacher's seed, e.g. "
                         "utd-kd-patient=runs/device/skeleton_stgcn_aug_all_s{seed} (a path without {seed}: one "
                         "teacher, --teacher-design single only)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="extra override for every run, teachers included (e.g. a quick train.epochs=2)")
    ap.add_argument("--skip", nargs="+", default=[], metavar="ROW", help="leave out the rows with these labels")
    ap.add_argument("--tag", help="write the sections as <section>-<tag> (a side measurement, e.g. the same rows "
                    "on a GPU: summary.json never reads a tagged section)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    if args.tag is not None and not re.fullmatch(r"[a-z0-9][a-z0-9-]*", args.tag):
        ap.error(f"--tag must be lower-case letters, digits and dashes, got {args.tag!r}")
    all_suites = suites(args.patient_epochs)
    if args.headline and args.confirm:
        ap.error("--headline and --confirm run different rows on different seeds: pick one")
    for flag, fresh in (("--headline", HEADLINE_SEEDS), ("--confirm", CONFIRMING_SEEDS)):
        if getattr(args, flag[2:]) and args.seeds:
            ap.error(f"{flag} reports on the seeds named before the runs ({' '.join(map(str, fresh))}): drop --seeds")
    seeds = list(HEADLINE_SEEDS if args.headline else CONFIRMING_SEEDS if args.confirm else
                 args.seeds or CHOOSING_SEEDS)
    confirming = [name for name, suite in all_suites.items() if suite.confirm]
    names = args.suites or list(HEADLINE_SUITES if args.headline else confirming if args.confirm else
                                ("utd-kd", "berkeley-kd", "utd-trial"))
    unknown = [s for s in names if s not in all_suites]
    if unknown:
        ap.error(f"unknown suite {unknown[0]!r} (suites: {', '.join(all_suites)})")
    if args.headline:
        without = [n for n in names if not all_suites[n].headline]
        if without:
            ap.error(f"suite {without[0]!r} has no headline rows (--headline: {', '.join(HEADLINE_SUITES)})")
    if args.confirm:
        without = [n for n in names if not all_suites[n].confirm]
        if without:
            ap.error(f"suite {without[0]!r} has no confirmation rows (--confirm: {', '.join(confirming) or 'none'})")
    gpus = [g for g in args.gpus.split(",") if g.strip()]
    given = dict(item.split("=", 1) for item in args.teacher_run)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sections: dict[str, list[dict]] = {}
    for name in names:
        suite = all_suites[name]
        suite.rows = [r for r in suite.rows
                      if r.label not in args.skip and (not args.headline or r.label in suite.headline)
                      and (not args.confirm or r.label in suite.confirm)]
        if not use_data_root(args.root, suite.folder):
            continue
        role = seed_record(args.teacher_design, seeds, args.headline, args.confirm)["seed_role"]
        rows = run_suite(suite, seeds, out, args.overrides, args.jobs, given.get(name), args.threads, args.backend,
                         args.teacher_design, role, gpus)
        text = table(rows)
        print(text)
        if args.no_write:
            continue
        section = (section_id(name, args.teacher_design, args.headline, args.confirm)
                   + (f"-{args.tag}" if args.tag else ""))
        where = (f"{args.jobs} run(s) at a time packed on GPU {','.join(gpus)}" if gpus else
                 f"{args.threads} thread(s) a run, {args.jobs} run(s) at a time")
        notes = [*suite.notes, design_note(args.teacher_design, seeds, args.headline, args.confirm),
                 f"mean +- std over seeds {' '.join(map(str, seeds))}"
                 + (f"; extra overrides: {', '.join(args.overrides)}" if args.overrides else ""),
                 "paired gain: the row minus its baseline on the same seeds, two-sided paired t-test (the exact "
                 "sign-flip p is in the JSON); called a gain only with >= 5 seeds and p < 0.05",
                 f"s / epoch: median of each run's epoch times, {where}"]
        title = (suite.title + (" - headline, fresh seeds" if args.headline else "")
                 + (" - confirmation, confirming seeds" if args.confirm else "")
                 + (f" [{args.tag}]" if args.tag else ""))
        header = record_header(title, *notes, date=datetime.date.today().isoformat())
        replace_section(HERE / "RESULTS.md", section, header + text + "\n")
        results = HERE / "results"
        results.mkdir(exist_ok=True)
        record = {"section": section, "suite": name, "date": datetime.datetime.now().isoformat(timespec="seconds"),
                  "machine": header.split("- machine: ", 1)[1].split("\n", 1)[0],
                  "command": command_line(), "header": header,
                  **seed_record(args.teacher_design, seeds, args.headline, args.confirm), "rows": rows}
        (results / f"{section}.json").write_text(json.dumps(record, indent=1) + "\n")
        sections[section] = rows
    if sections and not args.no_write:
        for name in (v for s in SUMMARY_SECTIONS for v in section_variants(s)):
            saved_section = HERE / "results" / f"{name}.json"  # keys come from every saved section, not only these
            if name not in sections and saved_section.is_file():
                sections[name] = json.loads(saved_section.read_text())["rows"]
        summary = summary_keys(sections)
        path = HERE / "results" / "summary.json"
        saved = json.loads(path.read_text()) if path.is_file() else {}
        saved.update(summary)
        path.write_text(json.dumps(saved, indent=1) + "\n")
        print("summary.json:", json.dumps(summary))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(run_script(main))
