"""Entry point of the ``harkd`` command.

Each subcommand lives in its own module under :mod:`harkd.cli` and exposes
``register(subparsers)``, which adds its parser (with examples in the epilog) and
sets ``func`` to a callable taking the parsed namespace and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from harkd import __version__
from harkd.errors import HarkdError

SUBCOMMAND_MODULES = ("demo", "synth", "data", "gaf", "train", "distill", "evaluate", "export", "bench", "stream")

EXAMPLES = """\
examples:
  harkd demo                                  # synthetic dataset end to end, no download
  harkd synth utd-mhad /tmp/utd --subjects 4  # write a synthetic UTD-MHAD-format dataset
  harkd data info --dataset utd-mhad --root ../shared/data/UTD-MHAD
  harkd gaf a10_s1_t1_inertial.mat --sensor acc --out preview.png
  harkd train configs/utd_mhad/acc_cnn1d.yaml --set seed=1   # real data under $HARKD_DATA_ROOT
  harkd evaluate runs/utd_acc_cnn1d --json
"""


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' layout and shows defaults."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harkd",
        description="Cross-modal knowledge distillation for human action recognition.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"harkd {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(f"harkd.cli.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args.func(args) or 0)
    except HarkdError as err:
        print(f"harkd: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harkd: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
