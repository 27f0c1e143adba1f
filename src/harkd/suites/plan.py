"""A suite as declared runs: each run names the runs it needs (its teachers, the stage it starts from)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Iterable, Sequence

from harkd.errors import ConfigError

__all__ = ["RunSpec", "dependency_order", "run_name"]


@dataclass(frozen=True)
class RunSpec:
    """One ``harkd train`` / ``harkd distill`` run of a suite.

    ``name``: unique in the suite; ``needs``: names of the runs it reads (teachers,
    ``init_from``), which must finish first; ``measure``: whether the suite reads a result
    from it (a teacher is only trained); ``select_on``: ``"test"`` for ``--select-on-test``.
    """

    name: str
    kind: str
    config: str
    run_dir: str
    overrides: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    measure: bool = True
    select_on: str = "val"
    options: tuple[tuple[str, object], ...] = field(default=())  # extra settings a suite's job reads

    def option(self, key: str, default=None):
        return dict(self.options).get(key, default)

    def to_dict(self) -> dict:
        """The spec as JSON reads it back (tuples as lists, nested ones too), so a saved spec compares equal."""
        return json.loads(json.dumps(asdict(self), default=str))


def run_name(label: str, seed: int, teacher_seed: int | None = None) -> str:
    """A row's run directory name for one seed: its label in lower-case letters, digits and underscores, then
    ``_s<seed>``, then ``_t<teacher seed>`` for a student taught by a teacher of another seed than 0 (so the
    runs of the single-teacher design, all taught by seed 0, keep their names)."""
    name = "".join(c if c.isalnum() else "_" for c in label.lower()).strip("_") + f"_s{seed}"
    return name + (f"_t{teacher_seed}" if teacher_seed else "")


def dependency_order(runs: Iterable[RunSpec], external: Sequence[str] = ()) -> list[RunSpec]:
    """``runs`` ordered so that every run comes after the runs it needs (else in the given order).

    A run listed twice with the same settings is kept once. ``external``: names satisfied
    outside the suite (e.g. a teacher run directory given on the command line). Duplicate
    names with different settings, unknown dependencies and cycles are ConfigErrors.
    """
    by_name: dict[str, RunSpec] = {}
    for run in runs:
        if run.name in by_name and by_name[run.name] != run:
            raise ConfigError(f"suite run {run.name!r} is declared twice with different settings "
                              f"({by_name[run.name].config} and {run.config}): give each run its own name")
        by_name.setdefault(run.name, run)
    for run in by_name.values():
        for need in run.needs:
            if need not in by_name and need not in external:
                raise ConfigError(f"suite run {run.name!r} needs run {need!r}, which the suite does not declare: "
                                  "add that teacher run to the suite (or give its run directory)")
    order: list[RunSpec] = []
    state: dict[str, str] = {}  # name -> "visiting" | "done"

    def visit(run: RunSpec, chain: tuple[str, ...]) -> None:
        if state.get(run.name) == "done":
            return
        if state.get(run.name) == "visiting":
            cycle = " -> ".join([*chain[chain.index(run.name):], run.name])
            raise ConfigError(f"suite runs need each other in a circle: {cycle}")
        state[run.name] = "visiting"
        for need in run.needs:
            if need in by_name:
                visit(by_name[need], (*chain, run.name))
        state[run.name] = "done"
        order.append(run)

    for run in by_name.values():
        visit(run, ())
    return order

