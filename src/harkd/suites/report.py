"""A suite's results file: RESULTS.md sections between markers, their header lines, the data-root check."""

from __future__ import annotations

import datetime
import os
import statistics
import sys
from pathlib import Path
from typing import Callable

from harkd.engine.machine import machine_description
from harkd.errors import HarkdError, os_error_message

__all__ = ["command_line", "mean_std", "record_header", "replace_section", "run_script", "use_data_root"]


def replace_section(path: Path, mark: str, body: str) -> None:
    """Write ``body`` between ``<!-- mark -->`` markers, replacing an older section."""
    start, end = f"<!-- {mark} -->", f"<!-- /{mark} -->"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def use_data_root(root: str | None, folder: str) -> bool:
    """Point HARKD_DATA_ROOT at ``root`` (if given); False, after a skip message, without ``folder`` under it."""
    if root:
        os.environ["HARKD_DATA_ROOT"] = str(Path(root).resolve())
    if not os.environ.get("HARKD_DATA_ROOT") or not (Path(os.environ["HARKD_DATA_ROOT"]) / folder).exists():
        print(f"skipped: no {folder} under --root / HARKD_DATA_ROOT (e.g. ../shared/data)")
        return False
    return True


def _script_path(script: str) -> str:
    """``script`` relative to the checkout holding it (``benchmarks/x.py`` wherever the clone or worktree is)."""
    path = Path(script).resolve()
    root = next((p for p in path.parents if (p / "pyproject.toml").is_file()), None)
    return path.relative_to(root).as_posix() if root is not None else script


def command_line() -> str:
    """This process's command: ``python benchmarks/x.py ...`` (the script relative to its checkout), or
    ``python -m benchmarks.x ...``."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if not sys.argv:
        script = []
    elif spec is not None and spec.name != "__main__":
        script = ["-m", spec.name]
    else:
        script = [_script_path(sys.argv[0])]
    return " ".join([Path(sys.executable).name, *script, *sys.argv[1:]])


def record_header(title: str, *notes: str, date: str | None = None) -> str:
    """A results section's heading and its date, machine, command and ``notes`` lines."""
    date = date or datetime.date.today().isoformat()
    lines = [f"## {title}", "", f"- date: {date}", f"- machine: {machine_description()}",
             f"- command: `{command_line()}`", *(f"- {n}" for n in notes)]
    return "\n".join(lines) + "\n\n"


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{100 * values[0]:.1f}"
    return f"{100 * statistics.mean(values):.1f} +- {100 * statistics.stdev(values):.1f}"


def run_script(main: Callable[[], int]) -> int:
    """A benchmark script's exit code: ``main()``'s, or 2 after one line on stderr for a harkd error (a bad
    data file, a run directory another process holds), 1 after one line for a filesystem error (a full disk),
    130 when interrupted; no traceback."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "benchmark"
    try:
        return main()
    except HarkdError as err:
        print(f"{name}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"{name}: error: {os_error_message(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{name}: interrupted (finished runs are kept; run it again to resume)", file=sys.stderr)
        return 130
