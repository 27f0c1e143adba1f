"""Report figures of runs: a confusion matrix, a run's learning curves, several runs' curves overlaid.

Every title names the run (its directory), its seed and the checkpoint it shows; curves have
integer epoch ticks and mark the epoch best.pt holds. Figures are drawn on
:class:`matplotlib.figure.Figure` objects (no pyplot state, no backend switched for the caller).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harkd.engine.lifecycle import AS_PUBLISHED, selected_on_test
from harkd.engine.rundir import read_run_meta
from harkd.engine.trainer import read_metrics_file
from harkd.errors import DataError, InputError, MissingDependencyError, warn

__all__ = ["comparison_figure", "plot_comparison", "RunIdentity", "run_identity", "read_metrics", "run_curves", "curve_keys", "check_keys", "best_epoch",
           "confusion_figure", "learning_curves_figure", "runs_figure", "plot_confusion", "plot_learning_curves",
           "image_formats", "write_figures", "DEFAULT_KEYS"]

#: record keys that are not curves (the x axis, and the epoch best.pt holds)
NOT_CURVES = ("epoch", "best_epoch")
#: ``harkd plot``'s keys when none are given (those some run logs)
DEFAULT_KEYS = ("train_loss", "val_loss", "val_accuracy")
#: per-run colours and, past ten runs, line styles
COLOURS, STYLES = 10, ("-", "--", "-.", ":")


@dataclass(frozen=True)
class RunIdentity:
    """What a figure calls a run: its directory's name, its seed, and whether its checkpoint
    (and so its ``val_*`` curves) was chosen on the test split (``--select-on-test``)."""

    name: str
    seed: int | None = None
    on_test: bool = False

    @property
    def label(self) -> str:
        seed = "" if self.seed is None else f", seed {self.seed}"
        return f"{self.name}{seed}" + (f" {AS_PUBLISHED}" if self.on_test else "")


def run_identity(run_dir: str | Path) -> RunIdentity:
    """The identity of a run directory, from its run.json (one DataError naming it when missing or damaged)."""
    meta = read_run_meta(run_dir)
    seed = meta.get("seed")
    return RunIdentity(Path(run_dir).resolve().name, seed if isinstance(seed, int) else None, selected_on_test(meta))


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The epoch records of ``run_dir/metrics.jsonl`` ([] when the file is absent)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    return read_metrics_file(path)


def run_curves(run_dirs: list[str | Path]) -> list[tuple[RunIdentity, list[dict]]]:
    """Each run's identity and epoch records; one error line for a missing run or a run with no epoch."""
    out = []
    for run_dir in map(Path, run_dirs):
        if not run_dir.is_dir():
            raise DataError(run_dir, "not found: give run directories written by harkd train or harkd distill")
        metrics = run_dir / "metrics.jsonl"
        if not metrics.is_file():
            raise DataError(metrics, "not found: is this a harkd run directory? (a run writes it after its first "
                                     "epoch)")
        records = read_metrics_file(metrics)
        if not records:
            raise DataError(metrics, "holds no epoch yet: the run has not finished its first epoch")
        out.append((run_identity(run_dir), records))
    return out


def curve_keys(records: list[dict]) -> list[str]:
    """The keys of ``records`` that hold a number in some epoch, in the order first logged."""
    keys: dict[str, None] = {}
    for record in records:
        for key, value in record.items():
            if key not in NOT_CURVES and isinstance(value, (int, float)) and not isinstance(value, bool):
                keys.setdefault(key)
    return list(keys)


def check_keys(keys: list[str] | None, curves: list[tuple[RunIdentity, list[dict]]]) -> list[str]:
    """``keys`` checked against the runs' records (None: those of :data:`DEFAULT_KEYS` some run logs).

    A key no run logs is an InputError listing the keys there are; a key only some runs log is
    warned about once per run (those runs have no line in its panel)."""
    logged = [set(curve_keys(records)) for _, records in curves]
    available = sorted(set().union(*logged))
    if keys is None:
        keys = [k for k in DEFAULT_KEYS if k in available]
        if not keys:
            raise InputError(f"the runs log none of {', '.join(DEFAULT_KEYS)}: choose --keys among "
                             f"{', '.join(available)}")
        return keys
    if not keys:
        raise InputError(f"--keys: give at least one key, e.g. --keys {','.join(DEFAULT_KEYS[:2])}")
    for key in keys:
        if key not in available:
            what = "the run's" if len(curves) == 1 else "any run's"
            raise InputError(f"--keys: no {key!r} in {what} metrics.jsonl; available: {', '.join(available)}")
    for (identity, _), has in zip(curves, logged):
        lacking = [k for k in keys if k not in has]
        if lacking:
            warn(f"run {identity.label} logs no {', '.join(lacking)}: it has no line in "
                 f"{'that panel' if len(lacking) == 1 else 'those panels'}")
    return keys


def write_figures(result: dict, run_dir: str | Path) -> tuple[list[str], list[str]]:
    """Write ``confusion_<split>.png`` and ``learning_curves.png`` into ``run_dir``.

    Returns (written paths, one warning line per figure that could not be written)."""
    run_dir = Path(run_dir)
    identity = run_identity(run_dir)
    records = read_metrics(run_dir)
    jobs = [(run_dir / f"confusion_{result['split']}.png",
             lambda out: plot_confusion(result, out, identity, checkpoint_epoch(records, result)))]
    if records:
        jobs.append((run_dir / "learning_curves.png", lambda out: plot_learning_curves(records, out, identity)))
    written, failed = [], []
    for out, draw in jobs:
        try:
            written.append(str(draw(out)))
        except OSError as err:
            failed.append(f"could not write {out}: {err.strerror or err} (the results are complete; "
                          "--no-plots skips the figures)")
    return written, failed


def best_epoch(records: list[dict]) -> int | None:
    """The epoch best.pt holds by validation (None without a validation split)."""
    best = records[-1].get("best_epoch", -1) if records else -1
    return best if isinstance(best, int) and best > 0 else None


def checkpoint_epoch(records: list[dict], result: dict) -> int | None:
    """The epoch of the checkpoint ``result`` evaluated (best.pt without validation is the last epoch)."""
    if not records:
        return None
    last = records[-1].get("epoch")
    return last if Path(result["checkpoint"]).stem == "last" else best_epoch(records) or last


def _figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependencyError("matplotlib", "plot", "figures") from None
    return Figure


def image_formats() -> dict:
    """The image file extensions matplotlib writes here (extension -> description)."""
    return _figure_class()().canvas.get_supported_filetypes()


def _figure(nrows: int = 1, ncols: int = 1, **kwargs):
    """A constrained-layout Figure and its axes (a 2-D array), without pyplot."""
    fig = _figure_class()(layout="constrained", **kwargs)
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def _save(fig, out: str | Path) -> Path:
    fig.savefig(out, dpi=120)
    return Path(out)


def plot_confusion(result: dict, out: str | Path, identity: RunIdentity | None = None,
                   epoch: int | None = None) -> Path:
    """Write :func:`confusion_figure` to ``out``."""
    return _save(confusion_figure(result, identity, epoch), out)


def confusion_figure(result: dict, identity: RunIdentity | None = None, epoch: int | None = None):
    """Row-normalised confusion matrix of an :func:`~harkd.engine.evaluate.evaluate_run` result, with class
    names; the title names the run and seed (``identity``), the checkpoint (of ``epoch``) and the split."""
    cm = np.asarray(result["confusion_matrix"], dtype=np.float64)
    rows = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    names = result["class_names"]
    size = max(6.0, 0.32 * len(names) + 3)
    fig, axes = _figure(figsize=(size + 1.5, size + 0.4))
    ax = axes[0, 0]
    image = ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    checkpoint = Path(result["checkpoint"]).name + ("" if epoch is None else f" (epoch {epoch})")
    who = "" if identity is None else f"{identity.label} · "
    ax.set_title(f"{who}{checkpoint} · {result['split']} split\naccuracy {result['accuracy']:.3f}, "
                 f"macro-F1 {result['macro_f1']:.3f}, {result.get('num_samples', int(cm.sum()))} recordings",
                 fontsize=10)
    for i, j in zip(*np.nonzero(cm)):
        ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=6,
                color="white" if rows[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    return fig


def _epoch_axis(ax) -> None:
    """Integer epoch ticks, a light grid, and a legend when something is labelled."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def _series(records: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """(epochs, values) of ``key``, NaN where an epoch did not log it."""
    epochs = np.array([r.get("epoch", n + 1) for n, r in enumerate(records)], dtype=np.float64)
    values = np.array([r.get(key) if isinstance(r.get(key), (int, float)) else np.nan for r in records],
                      dtype=np.float64)
    return epochs, values


def _marker(n: int) -> str:
    """Points on a short curve (a 1-epoch run is a dot, not an invisible line), plain lines on long ones."""
    return "o" if n <= 30 else ""


def _spread_scale(ax, values: list[np.ndarray]) -> None:
    """A log y axis when positive curves span more than two decades (a small KD term beside the CE)."""
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.array([])
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 100:
        ax.set_yscale("log")


def plot_learning_curves(records: list[dict], out: str | Path, identity: RunIdentity | None = None) -> Path:
    """Write :func:`learning_curves_figure` to ``out``."""
    return _save(learning_curves_figure(records, identity), out)


def learning_curves_figure(records: list[dict], identity: RunIdentity | None = None):
    """Per epoch, from ``metrics.jsonl`` records: the training and validation loss; the logged loss
    terms (``train_ce``, ``train_kd``, ... of a distillation, each before its weight); the validation
    scores; a dotted line at the epoch best.pt holds. The title names the run and seed (``identity``)
    and the epochs of best.pt and last.pt."""
    keys = curve_keys(records)
    terms = [k for k in keys if k.startswith("train_") and k != "train_loss"]
    scores = [k for k in keys if k.startswith("val_") and k != "val_loss"]
    on_test = identity is not None and identity.on_test
    panels = [(title, panel_keys) for title, panel_keys in (
        ("loss", [k for k in ("train_loss", "val_loss") if k in keys]),
        ("loss terms (before their weights)", terms),
        ("test split (selection, as published)" if on_test else "validation", scores)) if panel_keys] or [("loss", [])]
    fig, axes = _figure(1, len(panels), figsize=(4.6 * len(panels) + 0.6, 4.2))
    best = best_epoch(records)
    for ax, (title, panel_keys) in zip(axes[0], panels):
        drawn = []
        for key in panel_keys:
            epochs, values = _series(records, key)
            ax.plot(epochs, values, "--" if key == "val_loss" else "-", marker=_marker(len(records)), markersize=3,
                    label=f"{key} (test split)" if on_test and key.startswith("val_") else key)
            drawn.append(values)
        _spread_scale(ax, drawn)
        if panel_keys == scores and all(((v >= 0) & (v <= 1))[np.isfinite(v)].all() for v in drawn):
            ax.set_ylim(0, 1.02)
        if best is not None:
            ax.axvline(best, color="0.35", linestyle=":", label=f"best.pt (epoch {best})")
        ax.set(title=title, ylabel="score" if panel_keys == scores else "loss")
        _epoch_axis(ax)
    last = records[-1].get("epoch", len(records)) if records else 0
    chosen = ("no validation split: best.pt = last.pt" if best is None else
              f"best.pt: epoch {best}, chosen on the {'test split ' + AS_PUBLISHED if on_test else 'validation split'}"
              f" · last.pt: epoch {last}")
    who = "learning curves" if identity is None else f"{identity.label} · learning curves"
    fig.suptitle(f"{who}\n{chosen}", fontsize=11)
    return fig


def runs_figure(curves: list[tuple[RunIdentity, list[dict]]], keys: list[str]):
    """A Figure of ``curves`` (:func:`run_curves`): one panel per key, one line per run (labelled by run
    name and seed), a ring at each run's best.pt epoch."""
    from matplotlib.lines import Line2D

    ncols = 2 if len(keys) == 4 else min(len(keys), 3)
    nrows = math.ceil(len(keys) / ncols)
    fig, axes = _figure(nrows, ncols, figsize=(4.6 * ncols + 3.2, 3.8 * nrows + 0.6))
    handles = []
    for i, (identity, records) in enumerate(curves):
        style = {"color": f"C{i % COLOURS}", "linestyle": STYLES[i // COLOURS % len(STYLES)]}
        best = best_epoch(records)
        handles.append(Line2D([], [], label=identity.label, **style))
        for ax, key in zip(axes.flat, keys):
            epochs, values = _series(records, key)
            if np.isnan(values).all():
                continue
            ax.plot(epochs, values, marker=_marker(len(records)), markersize=2.5, **style)
            at = epochs == best
            if best is not None and at.any():
                ax.plot(epochs[at], values[at], "o", markersize=8, markerfacecolor="none", color=style["color"])
    for ax, key in zip(axes.flat, keys):
        ax.set_title(key)
        _spread_scale(ax, [line.get_ydata() for line in ax.get_lines()])
        _epoch_axis(ax)
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    handles.append(Line2D([], [], marker="o", markersize=8, markerfacecolor="none", color="0.3", linestyle="",
                          label="best.pt epoch"))
    fig.legend(handles=handles, loc="outside right upper", fontsize=8)
    fig.suptitle(f"{len(curves)} run{'s' * (len(curves) != 1)} per epoch: {', '.join(keys)}", fontsize=11)
    return fig


def plot_comparison(result: dict, out: str | Path) -> Path:
    """Write :func:`comparison_figure` to ``out``."""
    return _save(comparison_figure(result), out)


def comparison_figure(result: dict):
    """A paired comparison (``harkd compare``'s result): per-seed values, one line per (teacher, student) pair
    from baseline to method, and the paired differences with their mean and 95 % confidence interval."""
    from matplotlib import colormaps

    m, b, d = result["method"], result["baseline"], result["difference"]
    labels = [f"seed {s}" if t is None else f"teacher {t}, seed {s}" for t, s in result["pairs"]]
    diffs = [x - y for x, y in zip(m["values"], b["values"])]
    fig = _figure_class()(layout="constrained", figsize=(10, 4.5))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.2, 1]})
    colors = colormaps["tab10"]
    for i, (y0, y1) in enumerate(zip(b["values"], m["values"])):
        nudge = 0.03 * (i - (len(diffs) - 1) / 2)  # equal pairs stay visible side by side
        left.plot([nudge, 1 + nudge], [y0, y1], "-o", color=colors(i % 10), label=labels[i])
    left.set_xticks([0, 1], ["baseline", "method"])
    left.set_xlim(-0.3, 1.3)
    left.set(ylabel=f"{result['split']} {result['metric']}", title=f"per seed ({result['checkpoint']} checkpoints)")
    left.grid(alpha=0.3)
    left.legend(fontsize=7, loc="best")
    right.axhline(0, color="grey", lw=1)
    right.scatter(range(len(diffs)), diffs, color=[colors(i % 10) for i in range(len(diffs))], zorder=3)
    lo, hi = d["ci95"]
    right.axhline(d["mean"], color="black", lw=1.5, label=f"mean {d['mean']:+.2f}")
    if lo == lo:  # NaN for a single pair
        right.axhspan(lo, hi, color="black", alpha=0.12, label=f"95% CI [{lo:+.2f}, {hi:+.2f}]")
    right.set_xticks(range(len(diffs)), labels, rotation=30, ha="right", fontsize=7)
    right.set(ylabel="method - baseline (points)", title=f"paired differences: p = {d['p_value']:.3g}, n = {d['n']}")
    right.grid(alpha=0.3)
    right.legend(fontsize=7, loc="best")
    fig.suptitle(result["claim"], fontsize=9)
    return fig
