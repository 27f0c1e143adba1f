"""Entry point of the ``harkd`` command.

Each subcommand lives in its own module under :mod:`harkd.cli` and exposes
``register(subparsers)``, which adds its parser (with examples in the epilog and
``formatter_class=HelpFormatter``, which shows defaults) and sets ``func`` to a
callable taking the parsed namespace and returning an exit code. Numeric options use
the ``type=`` validators below (:func:`int_at_least`, :func:`positive_float`): a value
out of range is a one-line usage error with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import re
import sys
import warnings

from harkd._version import __version__
from harkd.errors import DataWarning, HarkdError, os_error_message

DEBUG_ENV = "HARKD_DEBUG"  # set to 1 to see the traceback of an unexpected error

SUBCOMMAND_MODULES = ("demo", "synth", "data", "gaf", "train", "distill", "evaluate", "compare", "export", "bench",
                      "stream", "plot")

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
    """Keeps the examples' layout and appends ``(default: X)`` to every option that has a
    default (not None/False) and whose help does not already say ``(default...``."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (not action.option_strings or action.default in (None, False, argparse.SUPPRESS)
                or "(default" in text or "%(default)" in text):
            return text
        return f"{text} (default: %(default)s)"


MAX_WINDOW_SAMPLES = 100_000  # export/bench --window-samples (harkd.deploy.stream buffers as many)


def int_at_least(minimum: int, maximum: int | None = None):
    """An argparse ``type=``: an integer >= ``minimum`` (and <= ``maximum``), else a one-line usage error."""
    words = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {words}, got '{text}'") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {words}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"expected {words} up to {maximum}, got {value}")
        return value

    parse.__name__ = words
    return parse


def float_in(low: float, high: float | None = None, *, open_low: bool = False):
    """An argparse ``type=``: a finite number >= ``low`` (> with ``open_low``; <= ``high``), else a one-line usage error."""
    bound = f"between {low:g} and {high:g}" if high is not None else f"{'>' if open_low else '>='} {low:g}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number {bound}, got '{text}'") from None
        inside = (value > low if open_low else value >= low) and (high is None or value <= high)
        if not (math.isfinite(value) and inside):
            raise argparse.ArgumentTypeError(f"expected a finite number {bound}, got {text}")
        return value

    return parse


positive_float = float_in(0, open_low=True)


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
    _add_import_option(parser)
    return parser


def _add_import_option(parser: argparse.ArgumentParser) -> None:
    """``--import MODULE`` on ``parser`` and every (nested) subcommand: plug-ins (harkd.plugins)."""
    parser.add_argument("--import", dest="imports", action="append", default=argparse.SUPPRESS, metavar="MODULE",
                        help="import a plug-in module (or .py file) that registers datasets, models, losses or "
                             "readers before the command runs; repeatable")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                _add_import_option(sub)


_shown: set[str] = set()  # warning lines already printed by this command


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings on one line: ``harkd: warning: ...`` (other libraries' with their category), each
    distinct line once per process (a file repaired on load is reported once, however often it is read)."""
    text = str(message) if issubclass(category, DataWarning) else f"{category.__name__}: {message}"
    if text in _shown:
        return
    _shown.add(text)
    print(f"harkd: warning: {text}", file=sys.stderr if file is None else file, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run ``harkd ARGV``; returns the exit status (argparse usage errors raise SystemExit(2)).

    stdout is flushed before returning, so a reader that left early (``| head``) ends
    in a quiet exit 0 here rather than in an error at interpreter exit. A closed stdout or
    stderr (``>&-``) is replaced by /dev/null first: the command runs on quietly.
    """
    _open_closed_std_streams()
    try:
        return _main(argv)
    finally:
        _flush_stdout()


def _open_closed_std_streams() -> None:
    """Point closed descriptors 0-2 at /dev/null (a file opened later must not become "stdout"), and a
    missing ``sys.stdout`` / ``sys.stderr`` at it too; ``sys.stdin`` stays None (see :func:`stdin_or_error`)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                null = os.open(os.devnull, os.O_RDWR)
                if null != fd:
                    os.dup2(null, fd)
                    os.close(null)
            except OSError:
                pass
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))


def stdin_or_error(option: str):
    """``sys.stdin`` for a command reading it; an InputError naming ``option`` when it is closed (``<&-``)."""
    from harkd.errors import InputError

    if sys.stdin is None:
        raise InputError(f"{option}: stdin is closed: pipe rows in (e.g. sensor_reader | harkd ...) "
                         "or pass a file instead of -")
    return sys.stdin


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0 if args.command is None else 2
    warnings.showwarning = _show_warning
    _shown.clear()
    warnings.simplefilter("always", DataWarning)  # _show_warning prints each distinct line once
    try:
        from harkd.plugins import load_plugins

        load_plugins(getattr(args, "imports", ()), "--import")
        code = int(args.func(args) or 0)
        sys.stdout.flush()
        return code
    except HarkdError as err:
        print(f"harkd: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("harkd: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `harkd evaluate --json | head`: the reader left, nothing is wrong
        _silence_stdout()
        return 0
    except OSError as err:
        print(f"harkd: error: {os_error_message(err)}", file=sys.stderr)
        return 1
    except Exception as err:  # a bug: one line unless HARKD_DEBUG asks for the traceback
        if os.environ.get(DEBUG_ENV):
            raise
        memory = out_of_memory_message(err)
        if memory:
            print(f"harkd: error: {memory}", file=sys.stderr)
            return 1
        print(f"harkd: internal error: {type(err).__name__}: {err} (this is a bug in harkd; "
              f"set {DEBUG_ENV}=1 for the traceback and report it)", file=sys.stderr)
        return 1


_ALLOCATION = re.compile(r"(?:can't allocate memory|not enough memory|out of memory)\D*?(\d+) bytes", re.I)


def out_of_memory_message(err: BaseException) -> str | None:
    """One line for an allocation that failed (MemoryError, torch's allocator): what was asked for and what
    to lower; None for other errors."""
    match = _ALLOCATION.search(str(err)) if isinstance(err, RuntimeError) else None
    if not (isinstance(err, MemoryError) or match):
        return None
    asked = f" (an allocation of {_bytes(int(match.group(1)))})" if match else f" ({err})" if str(err) else ""
    return (f"not enough memory{asked}: a size in the config or the options is too large for this machine; "
            "lower it (model widths, train.batch_size, data lengths / frames / sizes)")


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000:
            return f"{n:.0f} {unit}"
        n /= 1000
    return f"{n:.0f} PB"


def _flush_stdout() -> None:
    """Flush stdout; a closed pipe silences it instead of failing at exit."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except (OSError, ValueError, AttributeError):  # closed or replaced stdout: nothing to flush
        pass


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
