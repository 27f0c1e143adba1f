"""``harkd synth``: write a synthetic dataset in a real dataset's file layout."""

from __future__ import annotations

import argparse
import re

from harkd.errors import InputError

DATASETS = ("utd-mhad",)
DEFAULT_DEPTH_SIZE = "120x160"

EXAMPLES = """\
examples:
  harkd synth utd-mhad /tmp/utd                         # all 27 actions x 8 subjects x 4 trials
  harkd synth utd-mhad /tmp/utd --subjects 4 --trials 2 --actions 1,2,10-12
  harkd synth utd-mhad /tmp/utd --depth-size 240x320    # the real resolution (~3x slower)
  harkd synth utd-mhad /tmp/utd --no-depth --like-release

The full default grid (864 recordings, depth at 120x160) takes about a minute on
two cores and ~160 MB; with --no-depth about 10 s and ~40 MB.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from harkd.cli.main import HelpFormatter

    parser = subparsers.add_parser(
        "synth", help="write a synthetic dataset in a real dataset's layout",
        description="Write a synthetic dataset with the real release's folders, file names, variables, "
                    "shapes, rates and units. One simulated body performs each action, so the inertial "
                    "sensor, skeleton and depth video agree physically. Same seed, same arrays.",
        epilog=EXAMPLES, formatter_class=HelpFormatter)
    parser.add_argument("dataset", choices=DATASETS, help="dataset layout to imitate")
    parser.add_argument("out", help="output root folder (created if needed)")
    parser.add_argument("--subjects", type=int, default=8, help="subjects 1..N (1-8, default 8)")
    parser.add_argument("--trials", type=int, default=4, help="trials 1..N (1-4, default 4)")
    parser.add_argument("--actions", default=None, help="action ids, e.g. 1,2,10-12 (1-27, default all)")
    parser.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default 0)")
    parser.add_argument("--depth-size", default=DEFAULT_DEPTH_SIZE,
                        help=f"depth frame HEIGHTxWIDTH (default {DEFAULT_DEPTH_SIZE}; the real data is 240x320)")
    parser.add_argument("--no-depth", action="store_true", help="write only inertial and skeleton files")
    parser.add_argument("--like-release", action="store_true",
                        help="leave out the 3 trials missing from the real release (a8_s1_t4, a23_s6_t4, a27_s8_t4)")
    parser.set_defaults(func=run)


def parse_ids(text: str, option: str, maximum: int) -> list[int]:
    """Ids from "1,2,10-12" (1-based, inclusive ranges), each within 1..maximum."""
    ids: list[int] = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise InputError(f"{option}: cannot read '{part.strip()}' in '{text}' (use ids and ranges like 1,2,10-12)")
        ids.extend(range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1))
    bad = sorted({i for i in ids if not 1 <= i <= maximum})
    if bad:
        raise InputError(f"{option}: ids must be between 1 and {maximum}, got {', '.join(map(str, bad))}")
    return sorted(set(ids))


def parse_size(text: str) -> tuple[int, int]:
    """(height, width) from "120x160"; each side between 8 and 4096."""
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m or not all(8 <= int(v) <= 4096 for v in m.groups()):
        raise InputError(f"--depth-size: expected HEIGHTxWIDTH with each side 8-4096 pixels (e.g. 120x160), got '{text}'")
    return int(m.group(1)), int(m.group(2))


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""  # unreachable


def run(args: argparse.Namespace) -> int:
    from harkd.data.synth import UTD_MISSING, write_utd_mhad

    for option, value, top in (("--subjects", args.subjects, 8), ("--trials", args.trials, 4)):
        if not 1 <= value <= top:
            raise InputError(f"{option} must be between 1 and {top}, got {value}")
    if args.seed < 0:
        raise InputError(f"--seed must be >= 0, got {args.seed}")
    actions = parse_ids(args.actions, "--actions", 27) if args.actions else None
    size = parse_size(args.depth_size)
    modalities = ("inertial", "skeleton") if args.no_depth else ("inertial", "skeleton", "depth")
    summary = write_utd_mhad(args.out, subjects=args.subjects, trials=args.trials, actions=actions,
                             seed=args.seed, depth_size=size, modalities=modalities,
                             missing=UTD_MISSING if args.like_release else ())
    files = ", ".join(f"{n} {m}" for m, n in summary.files.items())
    depth = "" if args.no_depth else f", depth {size[0]}x{size[1]}"
    print(f"wrote synthetic {args.dataset} to {summary.root}: {summary.recordings} recordings ({files} files{depth}), "
          f"{_human(summary.bytes)} in {summary.seconds:.1f} s")
    return 0
