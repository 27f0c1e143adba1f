"""The targets a distillation caches are the teacher's own outputs (issue 24, item 4): a teacher read back from its
checkpoint gives the outputs of the teacher its training process ended with, the cache holds what training
computes online (in the run's precision), and the same weights give the same targets on the CPU and a CUDA GPU."""

import pytest
import torch
from torch.utils.data import DataLoader

from harkd.distillation import distill_experiment, load_distill_config
from harkd.distillation.experiment import DISTILL
from harkd.engine.devices import autocast, to_device
from harkd.engine.recipe import prepare_plan
from harkd.engine.trainer import Trainer, model_input

from tinyteachers import INERTIAL, skeleton_teacher

KD = [{"name": "ce"}, {"name": "kd", "weight": 1.0, "args": {"temperature": 4}}]


class CapturingTrainer(Trainer):
    """The engine's trainer, keeping each run's task and training set once it has trained."""

    finished: list = []

    def fit(self):
        record = super().fit()
        CapturingTrainer.finished.append((self.task, self.train_set))
        return record


@pytest.fixture
def captured(monkeypatch):
    monkeypatch.setattr("harkd.engine.experiment.Trainer", CapturingTrainer)
    CapturingTrainer.finished = []
    return CapturingTrainer.finished


def student_config(root, teacher, out, **train):
    return load_distill_config(data={
        "name": "student", "seed": 1, "output_dir": str(out),
        "data": {"dataset": "utd-mhad", "root": str(root), "modalities": {"inertial": INERTIAL}, "cache": False},
        "teachers": [{"run": str(teacher), "checkpoint": "last"}],
        "student": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8, 16], "depths": [1, 1]}},
        "losses": KD, "optim": {"lr": 3e-3}, "train": {"epochs": 1, "batch_size": 8, **train}})


def outputs(model, dataset, batch_size, device="cpu", precision="fp32") -> dict[str, torch.Tensor]:
    """``model``'s logits for every recording of ``dataset`` (its skeleton input), by key, on the CPU."""
    model = model.to(device).eval()
    found = {}
    with torch.no_grad(), autocast(precision, torch.device(device)):
        for batch in DataLoader(dataset, batch_size=batch_size):
            batch = to_device(batch, device)
            logits = model.forward_intermediates(model_input(batch, "skeleton"), ["logits"])["logits"]
            found.update({key: row.cpu() for key, row in zip(batch["key"], logits)})
    return found


def cached(task, teacher: int = 0) -> dict[str, torch.Tensor]:
    return {key: features["logits"] for (i, key), features in task.cache.store.items() if i == teacher}


def assert_same_targets(got: dict, expected: dict, atol: float, rtol: float = 0.0) -> None:
    assert set(got) == set(expected)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], atol=atol, rtol=rtol, msg=lambda m: f"{key}: {m}")


def test_cached_targets_of_the_checkpoint_teacher_are_the_trained_teachers_outputs(synth_utd, tmp_path, captured):
    """The teacher as its training process ended and the teacher a distillation reads from last.pt give the same
    targets (atol 1e-6) for every training recording the distillation cached."""
    teacher_run = skeleton_teacher(synth_utd, tmp_path / "teachers")
    trained_teacher = captured.pop()[0].model
    distill_experiment(student_config(synth_utd, teacher_run, tmp_path), tmp_path / "student", log=lambda m: None)
    task, train_set = captured.pop()
    assert task.cacheable == [True] and task.cache.hits > 0  # the epoch read the targets from the cache
    targets = cached(task)
    assert set(targets) == set(train_set.keys)
    assert_same_targets(targets, outputs(trained_teacher, train_set, batch_size=8), atol=1e-6)


@pytest.fixture(scope="module")
def teacher_run(synth_utd, tmp_path_factory):
    return skeleton_teacher(synth_utd, tmp_path_factory.mktemp("teacher"))


def built_task(root, teacher, out, **train):
    """A distillation's task, data and config as ``harkd distill`` builds them, its teachers.json report made
    (which stores the cached teachers' outputs, as at the start of a run)."""
    plan = DISTILL.plan(student_config(root, teacher, out, **train))
    prepared = prepare_plan(plan)
    task = DISTILL.build(plan, prepared)
    task.reports["teachers.json"]()
    return task, prepared.datasets["train"]


def test_the_cache_holds_the_outputs_training_computes_in_its_precision(synth_utd, teacher_run, tmp_path):
    """Stored before training, the cached targets are what the teacher computes online under the run's
    precision (bf16 autocast here, TF32 settings on a GPU), not a float32 pass of their own."""
    task, train_set = built_task(synth_utd, teacher_run, tmp_path, precision="bf16")
    online = outputs(task.teachers[0], train_set, batch_size=8, precision="bf16")
    assert_same_targets(cached(task), online, atol=1e-6)
    fp32 = outputs(task.teachers[0], train_set, batch_size=8)
    assert max((online[k].float() - fp32[k]).abs().max().item() for k in fp32) > 1e-4  # so the check can fail


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
def test_the_same_teacher_weights_give_the_same_cached_targets_on_cpu_and_cuda(synth_utd, teacher_run, tmp_path):
    """One teacher checkpoint, loaded for a CPU run and for a CUDA run (fp32: TF32 off), caches the same targets
    to float32 tolerance; the KD soft targets softmax(z / 4) agree closer still."""
    on_cpu, _ = built_task(synth_utd, teacher_run, tmp_path / "cpu", device="cpu", precision="fp32")
    on_gpu, _ = built_task(synth_utd, teacher_run, tmp_path / "gpu", device="cuda", precision="fp32")
    assert next(on_gpu.teachers[0].parameters()).is_cuda
    cpu, gpu = cached(on_cpu), cached(on_gpu)
    assert_same_targets(gpu, cpu, atol=1e-4, rtol=1e-4)
    soft = {k: torch.softmax(v / 4, dim=-1) for k, v in cpu.items()}
    assert_same_targets({k: torch.softmax(v / 4, dim=-1) for k, v in gpu.items()}, soft, atol=1e-5)
