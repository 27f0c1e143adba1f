"""A suite's results file: RESULTS.md sections between markers, their header lines, the data-root check."""

from __future__ import annotations

import datetime
import os
import statistics
import sys
from pathlib import Path

from harkd.engine.machine import machine_description

__all__ = ["command_line", "mean_std", "record_header", "replace_section", "use_data_root"]


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


def command_line() -> str:
    """This process's command as typed: ``python benchmarks/x.py ...``, or ``python -m benchmarks.x ...``."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    script = [] if not sys.argv else (["-m", spec.name] if spec is not None and spec.name != "__main__" else sys.argv[:1])
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
