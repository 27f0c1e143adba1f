"""Real UTD-MHAD (cross-subject) tables: configs x seeds, one table per suite.

Suites: ``single`` and ``video`` (single-modality baselines, ``harkd train``),
``skel2acc``, ``pskd`` and ``depth2acc`` (distillation into the same accelerometer student,
``harkd distill``; their teachers are the ``single``/``video`` suites' runs of the same
seed, so run those first), ``sakdn`` (sensor -> depth video; its teacher is the ``single``
suite's ``accgyro_sakdn_teacher`` run).
Every run selects its checkpoint on the validation split carved from the training
subjects; the test subjects are evaluated for both the validation-selected (``best``)
and the last-epoch checkpoint. The table (mean +- std test accuracy, seconds per
epoch, the command per row) is printed and written to the suite's section of
benchmarks/RESULTS.md.

Every stage of a (row, seed) is a declared run (:class:`harkd.suites.RunSpec`) that needs its
teacher runs and the previous stage; :func:`harkd.suites.run_suite` runs them in that order,
``--jobs`` at a time (``--backend ray`` for a Ray cluster) and resumes a half-done suite. A
teacher run from another suite (``--suite single``) that is absent is a clear error up front.

    HARKD_DATA_ROOT=../shared/data python benchmarks/utd_benchmark.py --suite single
    python benchmarks/utd_benchmark.py --root ../shared/data --suite skel2acc --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import NamedTuple

from harkd.errors import ConfigError
from harkd.suites import (BACKENDS, RunSpec, mean_std, record_header, replace_section, run_script,
                          runner, train_run, use_data_root)

HERE = Path(__file__).resolve().parent
class Stage(NamedTuple):
    """One run of a row: a config under configs/utd_mhad, ``train`` or ``distill``, the teacher runs (this
    suite's single-modality configs, same seed; ``NAME@folds``: NAME's cross-fitting fold runs, see
    FOLDS), a suffix naming the run when one config is run with other teachers or ``overrides``, and
    ``stage``: one stage of a multi-stage config, trained alone (``harkd distill --stage``). A later stage
    of a row starts from the previous stage's student (init_from)."""
    config: str
    kind: str
    teachers: list
    suffix: str = ""
    overrides: tuple = ()
    stage: str = ""

    @property
    def label(self) -> str:
        """The config's stem and the stage trained (``pskd_stage2``): RESULTS' config column."""
        return "_".join(x for x in (Path(self.config).stem, self.stage) if x)

    def run_name(self, tag: str = "", seed=None) -> str:
        """The stage's run name; with ``seed`` (an int, or ``"S"`` in a printed command) its seed's run."""
        name = "_".join(x for x in (self.label, self.suffix, tag) if x)
        return name if seed is None else f"{name}_s{seed}"


# Cross-fitting folds of a teacher config: fold run NAME_fold13 holds training subjects 1 and 3 out (its
# validation split) and teaches their recordings; NAME_fold57 the others (configs' teachers: {folds: [...]}).
FOLDS = ((1, 3), (5, 7))


def _fold_suffix(held) -> str:
    return "fold" + "".join(map(str, held))


# suite -> (title, rows); a row is (label, stages)
def _single(config):
    return [Stage(config, "train", [])]


def _distill(config, *teachers, suffix=""):
    return [Stage(config, "distill", list(teachers), suffix)]


def _progressive(config: str, teacher_tag: str = "", suffix: str = ""):
    """PSKD's three stages of ``distill/{config}.yaml``, each trained alone (``--stage``) from the previous
    one, one teacher of _PSKD each (``teacher_tag``: "@folds")."""
    return [Stage(f"distill/{config}.yaml", "distill", [t + teacher_tag], suffix, stage=f"stage{i + 1}")
            for i, t in enumerate(_PSKD)]


_PSKD = ("skeleton_stgcn", "skel_acc_fusion", "acc_cnn1d")
SUITES = {
    "single": ("Single-modality baselines (sensor, skeleton, fused)", [(c, _single(f"{c}.yaml")) for c in (
        "acc_gaf_resnet18", "acc_gafds_resnet18", "accgyro_gaf_resnet18", "acc_cnn1d", "accgyro_cnn1d",
        "skeleton_stgcn", "skel_acc_fusion", "accgyro_sakdn_teacher", "skeleton_stgcn_aug",
        "accgyro_sakdn_teacher_gafboth")]),
    "gaf": ("Accelerometer GAF images vs the raw series (issue 3's tuning, chosen on a held-out training subject)",
            [(label, _single(f"{c}.yaml")) for label, c in (
                ("raw acc -> 1D CNN (reference)", "acc_cnn1d"),
                ("GASF, training-split scaling -> ResNet-18-style", "acc_gafds_resnet18"),
                ("GASF, training-split scaling, augmentation -> ResNet-18-style", "acc_gafds_aug_resnet18"),
                ("GASF + GADF channels, training-split scaling, augmentation -> ResNet-18-style",
                 "acc_gafboth_aug_resnet18"))]),
    "video": ("Single-modality baselines (depth video)", [(c, _single(f"{c}.yaml")) for c in (
        "depth_tsn", "depth_trn")]),
    "skel2acc": ("Skeleton -> accelerometer student (raw-acc 1D CNN, same budget in every row)", [
        ("no KD", _single("acc_cnn1d.yaml")),
        ("KD", _distill("distill/skel2acc_kd.yaml", "skeleton_stgcn")),
        ("KD + FitNet", _distill("distill/skel2acc_fitnet.yaml", "skeleton_stgcn")),
        ("KD + RKD", _distill("distill/skel2acc_rkd.yaml", "skeleton_stgcn")),
        ("KD + SP", _distill("distill/skel2acc_sp.yaml", "skeleton_stgcn")),
        ("KD + CRD", _distill("distill/skel2acc_crd.yaml", "skeleton_stgcn")),
    ]),
    "skel2gaf": ("Skeleton -> accelerometer GAF-image student (GASF + GADF, augmentation, ResNet-18-style)", [
        ("no KD", _single("acc_gafboth_aug_resnet18.yaml")),
        ("KD", _distill("distill/skel2acc_kd_gafboth.yaml", "skeleton_stgcn")),
        ("KD, augmented skeleton teacher", _distill("distill/skel2acc_kd_gafboth.yaml", "skeleton_stgcn_aug",
                                                    suffix="skelaug")),
    ]),
    "pskd": ("PSKD and its ablations: skeleton, fused and accelerometer teachers -> accelerometer student "
             "(raw-acc 1D CNN, 60 epochs in every row)", [
        ("no KD", _single("acc_cnn1d.yaml")),
        ("KD (skeleton teacher)", _distill("distill/skel2acc_kd.yaml", "skeleton_stgcn")),
        ("KD (augmented skeleton teacher)", _distill("distill/skel2acc_kd.yaml", "skeleton_stgcn_aug",
                                                     suffix="skelaug")),
        ("PSKD: 3 progressive stages + ACS", _progressive("pskd")),
        ("PSKD without progressive stages (ACS, 3 teachers)", _distill("distill/pskd_no_progressive.yaml", *_PSKD)),
        ("PSKD without ACS (progressive, KD)", _progressive("pskd_noacs")),
    ]),
    "folds": ("Cross-fitting fold teachers (each trained without two training subjects, which it teaches; "
              "test accuracy for reference)", [
        (f"{c}, subjects {a} and {b} held out", [Stage(f"{c}.yaml", "train", [], _fold_suffix((a, b)),
                                                       (f"data.val_subjects=[{a}, {b}]",))])
        for c in _PSKD for a, b in FOLDS]),
    "pskd-xfit": ("PSKD with cross-fitted teachers (every training recording taught by fold teachers that never "
                  "trained on it) -> accelerometer student (raw-acc 1D CNN, 60 epochs in every row)", [
        ("no KD", _single("acc_cnn1d.yaml")),
        ("KD (cross-fitted skeleton teacher)", _distill("distill/skel2acc_kd.yaml", "skeleton_stgcn@folds",
                                                        suffix="xfit")),
        ("PSKD: 3 progressive stages + ACS", _progressive("pskd", "@folds", "xfit")),
        ("PSKD without progressive stages (ACS, 3 teachers)",
         _distill("distill/pskd_no_progressive.yaml", *(f"{t}@folds" for t in _PSKD), suffix="xfit")),
        ("PSKD without ACS (progressive, KD)", _progressive("pskd_noacs", "@folds", "xfit")),
    ]),
    "depth2acc": ("Depth video -> accelerometer student (raw-acc 1D CNN, same budget in every row)", [
        ("no KD", _single("acc_cnn1d.yaml")),
        ("KD", _distill("distill/depth2acc_kd.yaml", "depth_trn")),
        ("VSKD (DASK + CE + 0.01 KD)", _distill("distill/depth2acc_dask.yaml", "depth_trn")),
    ]),
    "depth2gaf": ("Depth video -> accelerometer GAF-image student (VSKD's student type: GASF + GADF, augmentation, "
                  "ResNet-18-style; same budget in every row)", [
        ("no KD", _single("acc_gafboth_aug_resnet18.yaml")),
        ("KD", _distill("distill/depth2gaf_kd.yaml", "depth_trn")),
        ("VSKD (DASK + CE + 0.01 KD)", _distill("distill/depth2gaf_dask.yaml", "depth_trn")),
    ]),
    "sakdn": ("Acc + gyro GAF teacher (SPAMFM-fused, semantic) -> depth video student (depth TRN, 40 epochs "
              "in every row)", [
        ("no KD (same 300-d bottleneck student)", _single("depth_trn_sem300.yaml")),
        ("KD", _distill("distill/accgyro2depth_kd.yaml", "accgyro_sakdn_teacher")),
        ("SAKDN (CE + 0.01 KD + GSDM + semantic)", _distill("distill/accgyro2depth_sakdn.yaml",
                                                             "accgyro_sakdn_teacher")),
        ("KD, GASF + GADF augmented teacher", _distill("distill/accgyro2depth_kd.yaml",
                                                       "accgyro_sakdn_teacher_gafboth", suffix="gafboth")),
        ("SAKDN, GASF + GADF augmented teacher", _distill("distill/accgyro2depth_sakdn.yaml",
                                                          "accgyro_sakdn_teacher_gafboth", suffix="gafboth")),
    ]),
}


# extra header lines of a suite's RESULTS.md section
SUITE_NOTES = {
    "folds": "validation of these runs: their two held-out training subjects (data.val_subjects), the very "
             "recordings each fold later teaches; distillation therefore reads each fold's last epoch "
             "(teachers: {folds: [...]} defaults to checkpoint: last)",
    "pskd-xfit": "teachers: the fold runs of the `folds` section (seed 0), each training recording taught by the "
                 "fold that held it out; the students' validation is the usual 15 % per class",
}


def stage_overrides(teachers: list[str], init_from: Path | None, seed, out: Path, teacher_seed=None) -> list[str]:
    """Point a config at this suite's teacher runs (``teacher_seed``, default the student's) and the previous stage."""
    tseed = seed if teacher_seed is None else teacher_seed
    extra = []
    for i, t in enumerate(teachers):
        name, _, folds = t.partition("@")
        if folds:
            runs = ", ".join(str(out / f"{name}_{_fold_suffix(held)}_s{tseed}") for held in FOLDS)
            extra += [f"teachers.{i}.run=null", f"teachers.{i}.folds=[{runs}]"]
        else:
            extra.append(f"teachers.{i}.run={out / f'{t}_s{tseed}'}")
    return extra + ([f"init_from={init_from}"] if init_from else [])


def teacher_runs(teachers: list[str], seed, teacher_seed=None) -> tuple[str, ...]:
    """Run names of a stage's teachers (``NAME@folds``: NAME's fold runs), as :func:`stage_overrides` points at them."""
    tseed = seed if teacher_seed is None else teacher_seed
    names = []
    for t in teachers:
        name, _, folds = t.partition("@")
        names += [f"{name}_{_fold_suffix(held)}_s{tseed}" for held in FOLDS] if folds else [f"{name}_s{tseed}"]
    return tuple(names)


def row_runs(stages: list, seed: int, out: Path, overrides: list[str], teacher_seed: int | None = None,
             tag: str = "") -> list[RunSpec]:
    """A row's stages for one seed as declared runs: each needs its teachers' runs and the previous stage."""
    runs, previous = [], None
    for stage in stages:
        extra = stage_overrides(stage.teachers, previous and out / previous.name, seed, out, teacher_seed)
        name = stage.run_name(tag, seed)
        needs = teacher_runs(stage.teachers, seed, teacher_seed) + ((previous.name,) if previous else ())
        previous = RunSpec(name, stage.kind, str(HERE.parent / "configs" / "utd_mhad" / stage.config),
                           str(out / name), (f"seed={seed}", *extra, *stage.overrides, *overrides), needs,
                           options=(("stage", stage.stage),) if stage.stage else ())
        runs.append(previous)
    return runs


def _producer(name: str) -> str:
    """The suite whose runs include the run ``name`` (e.g. ``single`` for ``skeleton_stgcn_s0``)."""
    base = name.rsplit("_s", 1)[0]
    found = [suite for suite, (_, rows) in SUITES.items() for _, stages in rows for st in stages
             if not st.teachers and st.run_name() == base]
    return found[0] if found else "single"


def external_teachers(runs: list[RunSpec], out: Path) -> list[str]:
    """Needed runs the suite does not declare: trained before (by another suite) into ``out``, else a ConfigError."""
    declared = {r.name for r in runs}
    external = []
    for run in runs:
        for need in run.needs:
            if need in declared or need in external:
                continue
            if not (out / need / "run.json").is_file():
                raise ConfigError(f"run {run.name} needs the teacher run {out / need}, which does not exist: "
                                  f"train it first (utd_benchmark.py --suite {_producer(need)} with the same --out "
                                  "and seeds, or --teacher-seed)")
            external.append(need)
    return external


def _job(spec: RunSpec) -> dict:
    """Train (or resume) one stage; its wall time and metrics records."""
    from harkd.engine.evaluate import read_metrics

    start = time.perf_counter()
    train_run(spec)
    return {"wall_s": time.perf_counter() - start, "records": read_metrics(spec.run_dir)}


def row_result(runs: list[RunSpec], results: dict, seed: int, stage) -> dict:
    """A (row, seed)'s result: its stages' wall time and epochs, the last stage tested (best and last epoch)."""
    from harkd.engine.evaluate import evaluate_run

    records = [r for run in runs for r in results[run.name]["records"]]
    run_dir = runs[-1].run_dir
    result = {"config": stage.config, "kind": stage.kind, "seed": seed, "run_dir": run_dir,
              "wall_s": sum(results[run.name]["wall_s"] for run in runs), "epochs": len(records),
              "s_per_epoch": statistics.median(r["seconds"] for r in records)}
    for checkpoint in ("best", "last"):
        res = evaluate_run(run_dir, "test", checkpoint)
        result[f"test_{checkpoint}"] = res["accuracy"]
        result[f"f1_{checkpoint}"] = res["macro_f1"]
    result["val_best"] = max(r.get("val_accuracy", 0) for r in records)
    print(json.dumps(result), flush=True)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", help="data root holding UTD-MHAD/ (default: $HARKD_DATA_ROOT)")
    ap.add_argument("--suite", choices=sorted(SUITES), default="single")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--out", default="runs/bench", help="run directories (resumed if present)")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--skip", nargs="*", default=[], metavar="ROW", help="row labels to leave out of this table")
    ap.add_argument("--teacher-seed", type=int, default=None,
                    help="use the teachers of this seed for every student seed (default: the student's seed)")
    ap.add_argument("--tag", default="", help="a variant name (e.g. with --set overrides): suffixes the student "
                    "run directories and the RESULTS.md section, so the plain suite's runs and table stay")
    ap.add_argument("--section", default=None, help="RESULTS.md section name suffix (default: --tag), e.g. for a "
                    "table of the same runs over more seeds")
    ap.add_argument("--jobs", type=int, default=1, help="runs trained at once (default 1: in this process)")
    ap.add_argument("--threads", type=int, default=None,
                    help="thread budget of each run (default: torch's own with --jobs 1, else cores / jobs)")
    ap.add_argument("--backend", choices=BACKENDS, default="local",
                    help="local processes, or Ray tasks (pip install 'harkd[ray]'; RAY_ADDRESS names a cluster)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if not use_data_root(args.root, "UTD-MHAD"):
        return 0
    title, suite = SUITES[args.suite]
    out = Path(args.out)
    chosen = [(label, stages) for label, stages in suite if label not in args.skip]
    plan = {(label, seed): row_runs(stages, seed, out, args.overrides, args.teacher_seed, args.tag)
            for label, stages in chosen for seed in args.seeds}
    runs = [run for row in plan.values() for run in row]
    results = runner.run_suite(runs, _job, jobs=args.jobs, threads=args.threads, backend=args.backend,
                               external=external_teachers(runs, out), state_dir=out / ".suite" / args.suite)
    rows = ["| row | config | test acc. best-on-val (%) | test acc. last epoch (%) | macro-F1 best (%) | s / epoch | epochs | command (S = seed) |",
            "|---|---|---:|---:|---:|---:|---:|---|"]
    for label, stages in chosen:
        rs = [row_result(plan[label, s], results, s, stages[-1]) for s in args.seeds]
        commands = []
        for i, stage in enumerate(stages):
            previous = f"RUNS/{stages[i - 1].run_name(args.tag, 'S')}" if i else None
            extra = " ".join(f"--set '{o}'" for o in stage_overrides(stage.teachers, previous, "S", Path("RUNS"),
                                                                     args.teacher_seed))
            common = " ".join(f"--set '{o}'" for o in (*stage.overrides, *args.overrides))
            run_dir = f"--run-dir RUNS/{stage.run_name(args.tag, 'S')}"
            config = f"configs/utd_mhad/{stage.config}" + (f" --stage {stage.stage}" if stage.stage else "")
            commands.append(" ".join(x for x in (f"harkd {stage.kind} {config} --set seed=S",
                                                 extra, common, run_dir) if x))
        command = " && ".join(commands)
        config = " + ".join(stage.label for stage in stages)
        rows.append(f"| {label} | `{config}` | {mean_std([r['test_best'] for r in rs])} | "
                    f"{mean_std([r['test_last'] for r in rs])} | {mean_std([r['f1_best'] for r in rs])} | "
                    f"{statistics.median(r['s_per_epoch'] for r in rs):.2f} | {rs[0]['epochs']} | `{command}` |")
    table = "\n".join(rows)
    print(table)
    if not args.no_write:
        section = args.tag if args.section is None else args.section
        body = record_header(
            f"{title}{section and f' [{section}]'}, UTD-MHAD cross-subject "
            f"(benchmarks/utd_benchmark.py --suite {args.suite})",
            "protocol: train subjects 1,3,5,7 (validation: 15 % per class carved from them), test subjects "
            "2,4,6,8 (430 recordings), never used for selection; mean +- std over seeds "
            f"{' '.join(map(str, args.seeds))}"
            + (f"; every student seed distils from the seed-{args.teacher_seed} teachers" if args.teacher_seed is not None
               else "; each seed's student distils from the same seed's teachers"),
            "s / epoch: median over seeds of each run's median epoch time, 2 CPU cores; other work shared the "
            "machine during some runs, so treat it as indicative",
            "best-on-val: the checkpoint with the best validation accuracy (ties: lower validation loss); "
            "last epoch: the final weights", *([SUITE_NOTES[args.suite]] if args.suite in SUITE_NOTES else [])
        ) + table + "\n"
        replace_section(HERE / "RESULTS.md", f"utd-{args.suite}{section and '-' + section}", body)
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
