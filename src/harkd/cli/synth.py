"""``harkd synth``: write a synthetic dataset in a real dataset's file layout."""

from __future__ import annotations

import argparse
import re

from harkd.errors import InputError

DATASETS = ("utd-mhad", "mmact", "berkeley-mhad", "phone-har")
#: --subjects and --trials when not given: phone-har writes 6 subjects x 6 actions x 1 take (36 recordings)
DEFAULT_COUNTS = {"phone-har": (6, 1)}
DEFAULT_DEPTH_SIZE = "120x160"

EXAMPLES = """\
examples:
  harkd synth utd-mhad /tmp/utd                         # all 27 actions x 8 subjects x 4 trials
  harkd synth utd-mhad /tmp/utd --subjects 4 --trials 2 --actions 1,2,10-12
  harkd synth utd-mhad /tmp/utd --depth-size 240x320    # the real resolution (~3x slower)
  harkd synth utd-mhad /tmp/utd --no-depth --like-release
  harkd synth mmact /tmp/mmact --subjects 2 --actions 1-4 --empty-csv --missing-stream --uneven
  harkd synth mmact /tmp/mmact --subjects 20 --scenes 1-4 --sessions 1-5 --video
  harkd synth berkeley-mhad /tmp/bmhad --subjects 12 --uneven --like-release   # 659 recordings like the release
  harkd synth berkeley-mhad /tmp/bmhad --subjects 2 --actions 1-3 --missing-stream --no-overlap
  harkd synth phone-har phone-har       # your own recordings: phone CSVs, MediaPipe CSVs, labels.csv

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
    parser.add_argument("--subjects", type=int, help="subjects 1..N (1-8; mmact and phone-har 1-20; default 8, "
                                                    "phone-har 6)")
    parser.add_argument("--trials", type=int, help="trials 1..N (1-4, default 4; phone-har: takes 1-5, default 1)")
    parser.add_argument("--actions", default=None, help="action ids, e.g. 1,2,10-12 (1-27; mmact 1-36; default all)")
    parser.add_argument("--seed", type=int, default=0, help="random seed, >= 0 (default 0)")
    parser.add_argument("--depth-size", default=DEFAULT_DEPTH_SIZE,
                        help=f"depth frame HEIGHTxWIDTH (default {DEFAULT_DEPTH_SIZE}; the real data is 240x320)")
    parser.add_argument("--no-depth", action="store_true",
                        help="write no depth or video: utd-mhad writes only inertial and skeleton files "
                             "(berkeley-mhad writes no depth, mmact video only with --video)")
    parser.add_argument("--like-release", action="store_true",
                        help="reproduce the real release's gaps: utd-mhad leaves out the 3 missing trials (a8_s1_t4, "
                             "a23_s6_t4, a27_s8_t4); berkeley-mhad see below")
    mm = parser.add_argument_group("mmact options")
    mm.add_argument("--scenes", default="1,2", help="scene ids (1-4, default 1,2)")
    mm.add_argument("--sessions", default="1,5", help="session ids (1-5, default 1,5)")
    mm.add_argument("--padding", choices=("none", "zero", "mixed"), default="mixed",
                    help="folder numbers: subject1, subject01, or zero-padded for even subjects (default)")
    mm.add_argument("--uneven", action="store_true", help="jittered sample times and one late-stamped row per CSV")
    mm.add_argument("--empty-csv", action="store_true", help="leave the first take's acc_watch CSV empty")
    mm.add_argument("--missing-stream", action="store_true", help="leave out the last take's gyro CSV")
    mm.add_argument("--video", action="store_true", help="also write tiny mp4 clips for cams 1-4 (video extra)")
    bk = parser.add_argument_group(
        "berkeley-mhad options", "also --subjects (1-12), --actions (1-11), --uneven (jittered Shimmer "
        "intervals with near-duplicate stamps and gaps), --missing-stream (no Shimmer03 file for the first "
        "recording), --like-release (the real release's faults: no s04_a08_r05, no accelerometer files for "
        "s02_a07_r05, gaps of 1.02-1.19 s without samples in the same 11 Shimmer files (ten of Shimmer03 in "
        "subjects 3, 5, 9; Shimmer04 of s07_a07_r02), and the extra _b01/_b02/_t-pose Time_stamps captures)")
    bk.add_argument("--repetitions", type=int, default=5, help="repetitions 1..N (1-5, default 5)")
    bk.add_argument("--no-overlap", action="store_true",
                    help="shift the last recording's Shimmer05 clock by an hour so it overlaps nothing")
    ph = parser.add_argument_group(
        "phone-har options", "a dataset as people record one (configs/phone_har/manifest.yaml describes it): "
        "acc/<key>.csv phone accelerometer rows timestamp,x,y,z (ms, m/s^2, ~50 Hz with jitter), pose/<key>.csv "
        "MediaPipe Pose landmarks at 30 fps, labels.csv (recording_id,subject,action,take,acc_file,pose_file); "
        "also --subjects, --trials (takes), --actions (names: walk,jog,sit down,stand up,squat,wave)")
    ph.add_argument("--pose-every", type=int, default=3,
                    help="one recording in N has no pose file (0: every recording has one)")
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
    if args.no_depth and getattr(args, "video", False):
        raise InputError("--no-depth and --video contradict each other: --no-depth writes no camera data")
    subjects, trials = DEFAULT_COUNTS.get(args.dataset, (8, 4))
    args.subjects = subjects if args.subjects is None else args.subjects
    args.trials = trials if args.trials is None else args.trials
    if args.dataset == "phone-har":
        return run_phone_har(args)
    if args.dataset == "mmact":
        return run_mmact(args)
    if args.dataset == "berkeley-mhad":
        return run_berkeley(args)
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


def run_mmact(args: argparse.Namespace) -> int:
    """``harkd synth mmact``: see :func:`harkd.data.synth.mmact.write_mmact`."""
    from harkd.data.synth.mmact import write_mmact

    if not 1 <= args.subjects <= 20:
        raise InputError(f"--subjects must be between 1 and 20, got {args.subjects}")
    if args.seed < 0:
        raise InputError(f"--seed must be >= 0, got {args.seed}")
    summary = write_mmact(args.out, subjects=args.subjects, scenes=parse_ids(args.scenes, "--scenes", 4),
                          sessions=parse_ids(args.sessions, "--sessions", 5), seed=args.seed,
                          actions=parse_ids(args.actions, "--actions", 36) if args.actions else None,
                          uneven=args.uneven, empty_csv=args.empty_csv, missing_stream=args.missing_stream,
                          padding=args.padding, video=args.video)
    files = ", ".join(f"{n} {m}" for m, n in summary.files.items())
    print(f"wrote synthetic mmact to {summary.root}: {summary.recordings} takes ({files} files), "
          f"{_human(summary.bytes)} in {summary.seconds:.1f} s")
    return 0


def run_berkeley(args: argparse.Namespace) -> int:
    """``harkd synth berkeley-mhad``: see :func:`harkd.data.synth.write_berkeley_mhad`."""
    from harkd.data.berkeley_mhad import key_of
    from harkd.data.synth import write_berkeley_mhad

    for option, value, top in (("--subjects", args.subjects, 12), ("--repetitions", args.repetitions, 5)):
        if not 1 <= value <= top:
            raise InputError(f"{option} must be between 1 and {top}, got {value}")
    if args.seed < 0:
        raise InputError(f"--seed must be >= 0, got {args.seed}")
    actions = parse_ids(args.actions, "--actions", 11) if args.actions else list(range(1, 12))
    first, last = key_of(1, actions[0], 1), key_of(args.subjects, actions[-1], args.repetitions)
    summary = write_berkeley_mhad(args.out, subjects=args.subjects, actions=actions, repetitions=args.repetitions,
                                  seed=args.seed, uneven=args.uneven, like_release=args.like_release,
                                  missing_streams=[(first, "acc3")] if args.missing_stream else (),
                                  no_overlap=[(last, "acc5")] if args.no_overlap else ())
    files = ", ".join(f"{n} {m}" for m, n in summary.files.items())
    print(f"wrote synthetic berkeley-mhad to {summary.root}: {summary.recordings} recordings ({files} files), "
          f"{_human(summary.bytes)} in {summary.seconds:.1f} s")
    return 0


def run_phone_har(args: argparse.Namespace) -> int:
    """``harkd synth phone-har``: see :func:`harkd.data.synth.phone_har.write_phone_har`."""
    from harkd.data.synth.phone_har import write_phone_har

    actions = [a.strip() for a in args.actions.split(",")] if args.actions else None
    summary = write_phone_har(args.out, subjects=args.subjects, takes=args.trials, actions=actions, seed=args.seed,
                              pose_every=args.pose_every)
    print(f"wrote synthetic phone-har to {summary.root}: {summary.recordings} recordings ({summary.files['acc']} phone "
          f"CSVs, {summary.files['pose']} MediaPipe CSVs, labels.csv), {_human(summary.bytes)} in "
          f"{summary.seconds:.1f} s")
    return 0
