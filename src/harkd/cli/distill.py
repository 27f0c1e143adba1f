"""``harkd distill CONFIG``: distil frozen teachers into a student, resumable."""

from __future__ import annotations

import argparse
import functools

from harkd.cli.train import add_run_arguments, run

EXAMPLES = """\
examples:
  harkd train configs/utd_mhad/skeleton_stgcn.yaml                  # 1. the teacher
  harkd distill configs/utd_mhad/distill/skel2acc_kd.yaml           # 2. the student, paired batches
  harkd distill configs/utd_mhad/distill/skel2acc_kd.yaml --set seed=1 --set losses.1.weight=0.5
  harkd distill configs/utd_mhad/distill/pskd.yaml --stage stage2 --set init_from=runs/pskd_stage1  # one stage
  harkd evaluate runs/utd_skel2acc_kd --json                         # the student alone, test split
"""


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "distill", help="distil one or more frozen teachers into a student (cross-modal KD)",
        description="Train a student with frozen teachers loaded from harkd train run directories. Every batch "
                    "pairs the student's and the teachers' inputs of the same recordings; the loss is a weighted "
                    "sum of terms (ce, kd, fitnet, ...), each logged. Same run directory, resume and selection "
                    "rules as harkd train; checkpoints hold the student and the losses' learned parts.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser)
    parser.add_argument("--stage", metavar="NAME", help="train only this stage of a multi-stage config (stage1, "
                        "stage2, ... or its name) as its own run; --set applies to that stage's config")
    parser.set_defaults(func=functools.partial(run, kind="distill"))
