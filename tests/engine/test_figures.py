"""Report figures: who is shown in every title, the logged loss terms, the best epoch, integer epochs,
several runs overlaid, and the keys a run logs."""

import re
import warnings

import pytest

from harkd.engine.figures import (RunIdentity, check_keys, learning_curves_figure, runs_figure)
from harkd.errors import DataWarning, InputError

pytest.importorskip("matplotlib")


def records(epochs: int, best: int, terms=("ce", "kd"), validation: bool = True) -> list[dict]:
    """metrics.jsonl records as the trainer writes them (a distillation's when ``terms``)."""
    out = []
    for e in range(1, epochs + 1):
        record = {"epoch": e, "lr": 1e-3, "seconds": 0.5}
        record.update({f"train_{t}": 2.0 / (e * (k + 1) ** 3) for k, t in enumerate(terms)})
        record["train_loss"] = 3.0 / e
        if validation:
            record.update({"val_loss": 3.2 / e, "val_accuracy": 0.1 * e, "val_macro_f1": 0.08 * e})
        record["best_epoch"] = min(e, best) if validation else -1
        out.append(record)
    return out


def legend_labels(ax) -> list[str]:
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_learning_curves_show_the_run_its_loss_terms_and_best_epoch():
    fig = learning_curves_figure(records(6, best=4), RunIdentity("kd_s1", 1))
    assert fig._suptitle.get_text() == ("kd_s1, seed 1 · learning curves\n"
                                        "best.pt: epoch 4, chosen on the validation split · last.pt: epoch 6")
    loss, terms, scores = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["loss", "loss terms (before their weights)", "validation"]
    assert legend_labels(loss) == ["train_loss", "val_loss", "best.pt (epoch 4)"]
    assert legend_labels(terms) == ["train_ce", "train_kd", "best.pt (epoch 4)"]
    assert legend_labels(scores) == ["val_accuracy", "val_macro_f1", "best.pt (epoch 4)"]
    assert terms.get_yscale() == "linear"  # kd is 1/8 of ce here: one decade


def test_terms_two_decades_apart_share_a_log_axis():
    fig = learning_curves_figure(records(3, best=3, terms=("ce", "kd", "fitnet")))  # fitnet is 1/27 of ce
    assert fig.axes[1].get_yscale() == "linear"
    fig = learning_curves_figure(records(3, best=3, terms=("ce", "a", "b", "kd", "c")))  # 1/125 of ce
    assert fig.axes[1].get_yscale() == "log"


@pytest.mark.parametrize("epochs", [1, 2, 5])
def test_epoch_ticks_are_whole_numbers(epochs):
    fig = learning_curves_figure(records(epochs, best=1))
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_a_run_without_validation_has_no_validation_panel_and_no_legend_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "No artists with labels found" would raise here
        fig = learning_curves_figure(records(3, best=3, terms=(), validation=False), RunIdentity("acc", 0))
    assert [ax.get_title() for ax in fig.axes] == ["loss"]
    assert fig._suptitle.get_text() == "acc, seed 0 · learning curves\nno validation split: best.pt = last.pt"
    assert legend_labels(fig.axes[0]) == ["train_loss"]


def test_a_run_selected_on_test_says_its_val_curves_are_the_test_split():
    fig = learning_curves_figure(records(3, best=2, terms=()), RunIdentity("acc_select-on-test", 0, on_test=True))
    assert fig._suptitle.get_text() == ("acc_select-on-test, seed 0 [as published: selected on test] · learning "
                                        "curves\nbest.pt: epoch 2, chosen on the test split [as published: selected "
                                        "on test] · last.pt: epoch 3")
    loss, scores = fig.axes
    assert scores.get_title() == "test split (selection, as published)"
    assert legend_labels(loss) == ["train_loss", "val_loss (test split)", "best.pt (epoch 2)"]


def test_runs_overlaid_one_line_per_run_with_a_ring_at_its_best_epoch():
    curves = [(RunIdentity("kd", 0), records(4, best=2)), (RunIdentity("nokd", 1), records(3, best=3, terms=()))]
    fig = runs_figure(curves, ["val_accuracy", "train_kd"])
    accuracy, kd = fig.axes
    assert [ax.get_title() for ax in fig.axes] == ["val_accuracy", "train_kd"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["kd, seed 0", "nokd, seed 1", "best.pt epoch"]
    lines = accuracy.get_lines()  # per run: its curve, then its ring
    assert [list(line.get_xdata()) for line in lines] == [[1, 2, 3, 4], [2], [1, 2, 3], [3]]
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()
    assert len(kd.get_lines()) == 2  # the run without a kd term has no line there


def test_keys_no_run_logs_are_one_line_listing_those_there_are():
    curves = [(RunIdentity("kd", 0), records(2, best=2)), (RunIdentity("nokd", 1), records(2, best=2, terms=()))]
    available = "lr, seconds, train_ce, train_kd, train_loss, val_accuracy, val_loss, val_macro_f1"
    with pytest.raises(InputError, match="^" + re.escape(f"--keys: no 'val_acc' in any run's metrics.jsonl; "
                                                         f"available: {available}") + "$"):
        check_keys(["val_acc"], curves)
    with pytest.raises(InputError, match="^" + re.escape("--keys: no 'best_epoch' in the run's metrics.jsonl; "
                                                         "available: lr, seconds, train_loss") + "$"):
        check_keys(["best_epoch"], [(RunIdentity("acc", 0), records(2, 2, terms=(), validation=False))])
    with pytest.warns(DataWarning) as caught:
        assert check_keys(["train_kd", "val_loss"], curves) == ["train_kd", "val_loss"]
    assert [str(w.message) for w in caught] == ["run nokd, seed 1 logs no train_kd: it has no line in that panel"]
    assert check_keys(None, curves) == ["train_loss", "val_loss", "val_accuracy"]
    only_train = [(RunIdentity("acc", 0), records(2, 2, terms=(), validation=False))]
    assert check_keys(None, only_train) == ["train_loss"]
