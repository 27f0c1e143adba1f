"""Which target ACS picks on the student's training recordings: full teachers vs cross-fitted folds.

PSKD's ACS loss follows, per sample, the most confident teacher that classifies it correctly, else the
label. Teachers trained on the student's training recordings are right on nearly all of them; cross-fitted
fold teachers (``teachers: {folds: [...]}``) show their errors on unseen subjects. This counts, for the
three PSKD teachers (skeleton, fused skeleton + accelerometer, accelerometer; seed 0 runs of
``utd_benchmark.py --suite single`` and ``--suite folds``), how often each is followed:

    python -m benchmarks.acs_choices --root ../shared/data --runs runs/bench   # from the repository root
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from benchmarks.utd_benchmark import HERE, stage_overrides
from harkd.suites import record_header, replace_section, run_script, use_data_root

TEACHERS = ("skeleton_stgcn", "skel_acc_fusion", "acc_cnn1d")


def choices(overrides: list[str]) -> torch.Tensor:
    """ACS's choice per training recording of pskd_no_progressive.yaml with ``overrides`` (-1: the label)."""
    from harkd.distillation import load_distill_config
    from harkd.distillation.experiment import DISTILL
    from harkd.engine.recipe import prepare_plan
    from harkd.losses.pskd import acs_choose_teacher

    plan = DISTILL.plan(load_distill_config(HERE.parent / "configs/utd_mhad/distill/pskd_no_progressive.yaml",
                                            overrides))
    prepared = prepare_plan(plan)
    task = DISTILL.build(plan, prepared).eval()
    picked = []
    for batch in torch.utils.data.DataLoader(prepared.datasets["train"], batch_size=64):
        logits = [out["logits"] for out in task.teacher_outputs(batch)]
        picked.append(acs_choose_teacher(logits, batch["label"])[0])
    return torch.cat(picked)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", help="data root holding UTD-MHAD/ (default: $HARKD_DATA_ROOT)")
    ap.add_argument("--runs", default="runs/bench", help="the benchmark's run directories (seed-0 teachers)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if not use_data_root(args.root, "UTD-MHAD"):
        return 0
    runs = Path(args.runs)
    variants = {
        "full teachers (trained on every training subject)": stage_overrides(list(TEACHERS), None, 0, runs),
        "cross-fitted folds (each recording taught by the fold that held it out)":
            stage_overrides([f"{t}@folds" for t in TEACHERS], None, 0, runs),
    }
    rows = ["| teachers | training recordings | follows skeleton (%) | follows fused (%) | follows accelerometer (%) "
            "| follows the label: no teacher right (%) |", "|---|---:|---:|---:|---:|---:|"]
    for label, overrides in variants.items():
        picked = choices(overrides)
        share = [f"{100 * (picked == k).float().mean().item():.1f}" for k in (0, 1, 2, -1)]
        rows.append(f"| {label} | {len(picked)} | {' | '.join(share)} |")
    table = "\n".join(rows)
    print(table)
    if not args.no_write:
        body = record_header("ACS's choices on the training recordings, full vs cross-fitted teachers, UTD-MHAD "
                             "cross-subject (benchmarks/acs_choices.py)",
                             "the student's training split (validation carve excluded); teachers at temperature 1; "
                             "ties go to the lower teacher index (skeleton first)") + table + "\n"
        replace_section(HERE / "RESULTS.md", "acs-choices", body)
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
