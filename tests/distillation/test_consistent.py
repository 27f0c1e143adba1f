"""Consistent teaching: online teachers equal cached ones without augmentation, paired augmentation and
mixup run the teachers online, a teacher ensemble averages the teachers' softened distributions."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch

from harkd.distillation import distill_experiment, load_distill_config
from harkd.distillation.task import ensemble_logits
from harkd.engine.experiment import load_run
from harkd.engine.trainer import mix_batch
from harkd.errors import ConfigError

from tinyteachers import INERTIAL, skeleton_teacher

KD = [{"name": "ce"}, {"name": "kd", "args": {"temperature": 4}}]


@pytest.fixture(scope="module")
def teacher_run(synth_utd, tmp_path_factory):
    return skeleton_teacher(synth_utd, tmp_path_factory.mktemp("teacher"))


def _config(root, teacher, tmp_path, losses=KD, teachers=1, data=None, train=None, **extra):
    return load_distill_config(data={
        "name": "student", "seed": 3, "output_dir": str(tmp_path),
        "data": {"dataset": "utd-mhad", "root": str(root), "modalities": {"inertial": INERTIAL}, "cache": False,
                 **(data or {})},
        "teachers": [{"run": str(teacher)}] * teachers,
        "student": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8, 16], "depths": [1, 1]}},
        "losses": losses, "optim": {"lr": 3e-3}, "train": {"epochs": 2, "batch_size": 8, **(train or {})}, **extra,
    })


def _train_losses(run_dir):
    return [(r["train_loss"], r["train_kd"]) for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())]


def test_online_teachers_equal_the_cached_path_without_augmentation(synth_utd, teacher_run, tmp_path):
    cached = distill_experiment(_config(synth_utd, teacher_run, tmp_path), tmp_path / "cached", log=lambda m: None)
    online = distill_experiment(_config(synth_utd, teacher_run, tmp_path, teacher_cache=False), tmp_path / "online",
                                log=lambda m: None)
    assert load_run(cached, whole=True)[2].cacheable == [True]
    assert load_run(online, whole=True)[2].cacheable == [False]
    assert _train_losses(online) == _train_losses(cached)


def test_paired_augmentation_runs_the_teacher_online(synth_utd, teacher_run, tmp_path):
    cfg = _config(synth_utd, teacher_run, tmp_path, data={"paired_augment": {"shift": 0.2}})
    run_dir = distill_experiment(cfg, tmp_path / "paired", log=lambda m: None)
    assert load_run(run_dir, whole=True)[2].cacheable == [False]


def test_a_mixed_batch_bypasses_the_teacher_cache(synth_utd, teacher_run, tmp_path):
    run_dir = distill_experiment(_config(synth_utd, teacher_run, tmp_path, train={"mixup": {"alpha": 0.4}}),
                                 tmp_path / "mix", log=lambda m: None)
    _, _, task, prepared = load_run(run_dir, whole=True)
    batch = torch.utils.data.default_collate([prepared.datasets["train"][i] for i in range(4)])
    plain = task.teacher_outputs(batch)[0]["logits"]
    hits, misses = task.cache.hits, task.cache.misses
    axes = {m: t.time_axis for m, t in prepared.datasets["train"].transforms.items()}
    mixed = mix_batch(batch, 0.5, torch.tensor([1, 0, 3, 2]), axes)
    online = task.teacher_outputs(mixed)[0]["logits"]
    assert (task.cache.hits, task.cache.misses) == (hits, misses)  # neither read nor written
    teacher = task.teachers[0]
    with torch.no_grad():
        torch.testing.assert_close(online, teacher(mixed["skeleton"]))
    assert not torch.allclose(online, plain)


def test_mixup_with_a_memory_bank_loss_is_refused(synth_utd, teacher_run, tmp_path):
    losses = [{"name": "ce"}, {"name": "crd", "student": "pool", "teacher": "pool", "args": {"feat_dim": 8}}]
    cfg = _config(synth_utd, teacher_run, tmp_path, losses, train={"mixup": {"alpha": 0.4}})
    message = ("train.mixup mixes two recordings per sample, but loss 'crd' needs a memory bank indexed by "
               "recording ('index'): remove train.mixup or that loss term")
    with pytest.raises(ConfigError, match=re.escape(message)):
        distill_experiment(cfg, tmp_path / "crd", log=lambda m: None)


def test_mixup_with_a_per_label_loss_or_cross_fitted_teacher_is_refused(synth_utd, teacher_run, tmp_path):
    from harkd.distillation.experiment import _check_mixup
    from harkd.distillation.task import LossTerm
    from harkd.losses.registry import create_loss

    cfg = _config(synth_utd, teacher_run, tmp_path, [{"name": "acs", "teacher_index": "all"}],
                  train={"mixup": {"alpha": 0.4}})
    term = LossTerm("acs", create_loss("acs"), 1.0, ("logits",), ("logits",), (0,))
    with pytest.raises(ConfigError) as err:
        _check_mixup(cfg, [type("T", (), {"folds": None})()], [term])
    assert str(err.value) == ("train.mixup mixes two recordings per sample, but loss 'acs' needs one label per "
                              "sample ('labels'): remove train.mixup or that loss term")
    with pytest.raises(ConfigError) as err:
        _check_mixup(cfg, [type("T", (), {"folds": ["a", "b"]})()], [])
    assert str(err.value) == ("train.mixup runs the teachers on mixed inputs, but teacher 0 is cross-fitted "
                              "('folds': only stored per-recording outputs): give it as 'run', or remove train.mixup")


def test_ensemble_logits_golden_value():
    z1, z2, t = torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[0.0, 2.0, 0.0]]), 2.0

    def softmax(z):
        e = [math.exp(v / t) for v in z]
        return [v / sum(e) for v in e]

    mean = [(a + b) / 2 for a, b in zip(softmax(z1[0].tolist()), softmax(z2[0].tolist()))]
    out = ensemble_logits([z1, z2], t)
    torch.testing.assert_close(out, torch.tensor([[t * math.log(p) for p in mean]]))
    torch.testing.assert_close(torch.softmax(out / t, 1), torch.tensor([mean]))


def test_ensemble_term_teaches_the_averaged_distribution(synth_utd, teacher_run, tmp_path):
    losses = [{"name": "ce"}, {"name": "kd", "ensemble": True, "teacher_index": [0, 1], "args": {"temperature": 4}}]
    run_dir = distill_experiment(_config(synth_utd, teacher_run, tmp_path, losses, teachers=2), tmp_path / "ens",
                                 log=lambda m: None)
    _, _, task, prepared = load_run(run_dir, whole=True)
    term = task.terms[1]
    assert term.teachers == (0, 1) and term.ensemble_temperature == 4.0
    batch = torch.utils.data.default_collate([prepared.datasets["train"][i] for i in range(4)])
    student = task.student.forward_intermediates(batch["inertial"], ["logits"])
    teachers = task.teacher_outputs(batch)
    got = task._term(term, student, teachers, {"batch": batch, "hooks": None})
    want = term.loss(student["logits"], ensemble_logits([t["logits"] for t in teachers], 4.0))
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("term, message", [
    ({"name": "kd", "ensemble": True},
     "ensemble: true averages several teachers: set teacher_index to all or a list of teacher indices, got 0"),
    ({"name": "fitnet", "ensemble": True, "teacher_index": "all"},
     "ensemble: true averages the teachers' softmax(logits / T), which only the losses dask, kd read; loss "
     "'fitnet' cannot use it"),
    ({"name": "kd", "ensemble": True, "teacher_index": "all", "teacher": "pool"},
     "ensemble: true averages the teachers' logits: leave student and teacher at 'logits' and remove "
     "teacher_branches"),
])
def test_bad_ensemble_terms_are_clear(synth_utd, teacher_run, tmp_path, term, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        _config(synth_utd, teacher_run, tmp_path, [term], teachers=2)


def test_distill_config_keys_reach_the_training_loop(synth_utd, teacher_run, tmp_path, monkeypatch):
    """data.paired_augment windows every training sample (and no evaluation sample); train.mixup mixes batches."""
    import harkd.engine.trainer as trainer
    from harkd.data.dataset import PairedDataset

    windows, mixed = [], []
    draw = PairedDataset.paired_window
    def spy(self):
        window = draw(self)
        if window is not None:
            windows.append(self.train)
        return window

    monkeypatch.setattr(PairedDataset, "paired_window", spy)
    monkeypatch.setattr(trainer, "mix_batch", lambda batch, *a, **k: mixed.append(len(batch["label"])) or mix_batch(batch, *a, **k))
    cfg = _config(synth_utd, teacher_run, tmp_path, data={"paired_augment": {"shift": 0.2}},
                  train={"mixup": {"alpha": 0.4}})
    run_dir = distill_experiment(cfg, tmp_path / "both", log=lambda m: None)
    train = load_run(run_dir, whole=True)[3].datasets["train"]
    assert windows and all(windows)  # drawn for training samples only (evaluation gets None)
    assert len(windows) >= 2 * len(train)  # every sample of both epochs
    assert mixed and sum(mixed) == 2 * len(train)  # every training batch of both epochs
