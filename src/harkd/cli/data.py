"""``harkd data``: inspect a dataset root (``harkd data info``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

DEFAULT_VAL_FRACTION = 0.15
MAX_ABSENT_ROWS = 20  # a partial download (e.g. one subject) lacks hundreds of keys

EXAMPLES = """\
examples:
  harkd data info --dataset utd-mhad --root ../shared/data/UTD-MHAD
  harkd data info --dataset berkeley-mhad --root ../shared/data/Berkeley-MHAD-s01
  harkd data info --dataset utd-mhad --root ../shared/data/UTD-MHAD --protocol subject_specific
  harkd data info --dataset utd-mhad --root ../shared/data/UTD-MHAD --check --json > info.json
  harkd data info --config configs/phone_har/pose_stgcn.yaml --check   # a config's data (e.g. a manifest)
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    from harkd.cli.main import HelpFormatter, float_in, int_at_least

    data = subparsers.add_parser("data", help="inspect datasets", description="Inspect datasets.",
                                 epilog=EXAMPLES, formatter_class=HelpFormatter)
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    info = sub.add_parser(
        "info", help="recordings per modality, splits, gaps, skipped files, clip lengths",
        description="Scan a dataset root and summarise it: recordings per modality, train/val/test "
                    "counts of a protocol, missing recordings, skipped files with reasons, what the "
                    "readers repaired (e.g. interpolated accelerometer gaps) and clip lengths (frames). "
                    "--check loads and validates every file.",
        epilog=EXAMPLES, formatter_class=HelpFormatter)
    info.add_argument("--config", help="an experiment or distillation YAML: its data section (dataset, root, manifest, "
                                       "protocol, validation) and imports; the options below override it")
    info.add_argument("--dataset", help="registered dataset name (default: utd-mhad, or the config's)")
    info.add_argument("--root", help="dataset root folder, e.g. .../UTD-MHAD (required without --config)")
    info.add_argument("--protocol", help="split protocol to count (default: cross_subject, or the config's)")
    info.add_argument("--val-fraction", type=float_in(0, 1),
                      help="validation fraction of the training side, in [0, 1) (default: 0.15, or the config's)")
    info.add_argument("--val-subjects", type=_val_subjects, metavar="auto|none|S,S",
                      help="validation: auto (whole training subjects held out for a by-subject protocol, as "
                           "data.val_subjects auto; the default unless the config says otherwise), none (the "
                           "per-class carve) or subject ids, e.g. 7 or 1,3")
    info.add_argument("--seed", type=int_at_least(0, 2**32 - 1), default=0, help="seed of the validation carve")
    info.add_argument("--check", action="store_true", help="load and validate every file (slow for depth)")
    info.add_argument("--json", action="store_true", help="print machine-readable JSON")
    info.set_defaults(func=run_info)
    data.set_defaults(func=lambda args: (data.print_help(), 2)[1])


def _val_subjects(text: str):
    """``--val-subjects``: ``auto``, ``none`` or comma-separated subject ids."""
    if text in ("auto", "none"):
        return text
    try:
        return [int(s) for s in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, none or subject ids such as 7 or 1,3, got {text!r}") from None


def _inspected(args: argparse.Namespace):
    """``(spec, root, protocol, val_fraction, val_subjects)`` to inspect: the --config file's data section
    (its imports loaded first) with the command's options over it, else the options alone."""
    from harkd.data import get_dataset
    from harkd.data.manifest import dataset_of
    from harkd.engine.config import DataConfig
    from harkd.engine.schema import from_dict, load_yaml
    from harkd.errors import ConfigError, DataError
    from harkd.plugins import load_plugins

    given = {"dataset": args.dataset, "root": args.root, "protocol": args.protocol, "val_fraction": args.val_fraction}
    given = {k: v for k, v in given.items() if v is not None}
    if args.val_subjects is not None:
        given["val_subjects"] = None if args.val_subjects == "none" else args.val_subjects
    if args.config:
        try:
            config = load_yaml(open(args.config).read())
        except OSError as err:
            raise DataError(args.config, f"cannot read the config ({err.strerror or err})") from None
        if not isinstance(config, dict) or not isinstance(config.get("data"), dict):
            raise ConfigError(f"{args.config}: no 'data' section to inspect")
        load_plugins(config.get("imports"), f"imports in {args.config}")
        data = from_dict(DataConfig, {**config["data"], **given}, "data")
        return dataset_of(data), data.resolved_root(), data.protocol, data.val_fraction, data.val_subjects
    if (args.dataset or "").strip().lower() == "manifest":
        raise ConfigError("dataset manifest is described by a config's data.manifest: pass --config EXPERIMENT.yaml")
    if not args.root:
        raise ConfigError("harkd data info needs --root (the dataset's folder) or --config (an experiment's data)")
    return (get_dataset(args.dataset or "utd-mhad"), args.root, given.get("protocol", "cross_subject"),
            given.get("val_fraction", DEFAULT_VAL_FRACTION), given.get("val_subjects", "auto"))


def run_info(args: argparse.Namespace) -> int:
    from harkd.data.info import summarize

    spec, root, protocol, val_fraction, val_subjects = _inspected(args)
    spec.protocol(protocol)  # fail early on an unknown protocol
    index = spec.scan(root)
    summary = summarize(spec, index, protocol, check=args.check,
                        val_fraction=val_fraction, seed=args.seed, val_subjects=val_subjects)
    if args.json:
        print(json.dumps(summary, indent=2))
    elif sys.stdout.isatty():
        _print_rich(summary)
    else:
        print(_plain(summary))
    return 1 if summary["errors"] else 0


def _rows(summary: dict[str, Any]) -> list[tuple[str, list[list[str]]]]:
    """The report as (section title, rows) with string cells."""
    sections = [("Recordings per modality", [["modality", "recordings"]] +
                 [[m, str(n)] for m, n in summary["modalities"].items()] +
                 [["any (keys)", str(summary["recordings"])]])]
    if "split" in summary:
        s = summary["split"]
        sections.append((f"Split '{s['protocol']}' (validation: {s['validation']['how']})",
                         [["training side", "train", "val", "test"],
                          [str(s["train"] + s["val"]), str(s["train"]), str(s["val"]), str(s["test"])]]))
    lengths = summary["lengths"]
    sections.append(("Clip length (frames)", [["modality", "min", "median", "max", "n"]] +
                     [[m, str(v["min"]), f"{v['median']:g}", str(v["max"]), str(v["n"])] for m, v in lengths.items()]))
    missing = summary["missing"]
    rows = [["key", "missing"]] + [[k, ", ".join(v)] for k, v in missing["incomplete"].items()]
    absent = missing["absent"]
    rows += [[k, "all modalities (absent from the release grid)"] for k in absent[:MAX_ABSENT_ROWS]]
    if len(absent) > MAX_ABSENT_ROWS:
        rows.append([f"... {len(absent) - MAX_ABSENT_ROWS} more", "absent (--json lists every key)"])
    sections.append(("Missing recordings", rows))
    sections.append(("Skipped files", [["path", "reason"]] + [[s["path"], s["reason"]] for s in summary["skipped"]]))
    sections.append(("Repaired on load (warnings)",
                     [["path", "repair"]] + [(w.split(": ", 1) + [""])[:2] for w in summary.get("warnings", [])]))
    if summary["checked"] or summary["errors"]:
        sections.append(("Load errors" + (" (--check)" if summary["checked"] else ""),
                         [["path", "problem"]] + [[e["path"], e["reason"]] for e in summary["errors"]]))
    return sections


def _plain(summary: dict[str, Any]) -> str:
    lines = [f"{summary['dataset']} at {summary['root']}"]
    for title, rows in _rows(summary):
        lines.append(f"\n{title}:")
        if len(rows) == 1:
            lines.append("  (none)")
            continue
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines += ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    if not summary["checked"]:
        lines.append("\n(frame counts of slow modalities and full validation: --check)")
    return "\n".join(lines)


def _print_rich(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{summary['dataset']}[/] at {summary['root']}")
    for title, rows in _rows(summary):
        table = Table(title=title, title_justify="left")
        for head in rows[0]:
            table.add_column(head)
        for row in rows[1:]:
            table.add_row(*row)
        if len(rows) == 1:
            table.add_row(*(["(none)"] + [""] * (len(rows[0]) - 1)))
        console.print(table)
    if not summary["checked"]:
        console.print("(frame counts of slow modalities and full validation: --check)")
