"""Device placement, precision and determinism (harkd.engine.devices), checked on the CPU machines CI has.

The bug class caught here is "a module on one device, its inputs on another": CI has no GPU, so the tests
place tasks on torch's ``meta`` device (a real device other than the CPU, where a module left behind on the
CPU or a checkpoint read onto the wrong device shows) and check that the one placement function moved
everything. ``cuda``-marked tests run the whole path where a CUDA GPU exists."""

import json
import shutil

import pytest
import torch
from torch import nn

from harkd.engine import devices, evaluate as evaluate_module, runs
from harkd.engine.config import load_config
from harkd.engine.evaluate import evaluate_run
from harkd.engine.experiment import load_run, train_experiment
from harkd.engine.trainer import ClassificationTask, Trainer
from harkd.errors import ConfigError, DataError, MissingDependencyError

from tests.engine.test_run_lifecycle import Blobs, config, make_trainer

QUIET = {"log": lambda msg: None}
META = torch.device("meta")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none visible here)")


def tensors_of(module: nn.Module):
    return list(module.parameters()) + list(module.buffers())


# ------------------------------------------------------------------ resolving train.device and train.precision
def test_auto_is_the_cpu_without_an_accelerator(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(devices, "_mps_available", lambda: False)
    assert devices.resolve_device("auto") == torch.device("cpu")


def fake_gpus(monkeypatch, count=2):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.backends.cuda, "is_built", lambda: True)


def test_auto_is_the_gpu_when_one_is_visible_and_each_torchrun_rank_gets_its_own(monkeypatch):
    fake_gpus(monkeypatch)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert devices.resolve_device("auto") == torch.device("cuda", 0)
    assert devices.resolve_device("cuda:1") == torch.device("cuda", 1)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert devices.resolve_device("auto") == torch.device("cuda", 1)
    assert devices.resolve_device("cuda") == torch.device("cuda", 1)


def test_an_absent_gpu_is_a_clear_error(monkeypatch):
    fake_gpus(monkeypatch, count=2)
    with pytest.raises(ConfigError) as err:
        devices.resolve_device("cuda:2")
    assert str(err.value) == "config key 'train.device': 'cuda:2', but only 2 CUDA GPU(s) are visible (cuda:0..cuda:1)"


def test_precision_resolves_per_device():
    assert devices.resolve_precision("auto", torch.device("cpu")) == "fp32"
    assert devices.resolve_precision("auto", torch.device("cuda", 0)) == "tf32"
    assert devices.resolve_precision("bf16", torch.device("cpu")) == "bf16"
    with pytest.raises(ConfigError) as err:
        devices.resolve_precision("fp8", torch.device("cpu"))
    assert str(err.value) == "config key 'train.precision': 'fp8' is not one of auto, fp32, tf32, bf16, fp16"


def test_the_default_device_is_auto_and_run_json_records_the_device_used(tmp_path, synth_utd):
    cfg = config(tmp_path, synth_utd, epochs=1)
    assert cfg.train.device == "auto" and cfg.train.precision == "fp32"
    run_dir = train_experiment(cfg, tmp_path / "run", **QUIET)
    meta = json.loads((run_dir / "run.json").read_text())
    used = devices.describe_device(devices.resolve_device("auto"))
    assert (meta["device"], meta["precision"]) == (used, "fp32")
    assert meta["devices"] == [{"device": used, "precision": "fp32"}]


# ------------------------------------------------------------------ one placement, everywhere
@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, synth_utd):
    tmp = tmp_path_factory.mktemp("device-run")
    return train_experiment(config(tmp, synth_utd, epochs=1), tmp / "run", **QUIET)


def test_load_run_places_the_task_on_the_requested_device(trained_run):
    _, _, task, _ = load_run(trained_run, "last", device="meta")
    assert {t.device for t in tensors_of(task)} == {META}


def test_evaluate_runs_the_task_where_it_was_placed(trained_run, monkeypatch):
    """A run evaluated on another device than the one its task was built on (the GPU bug of 0.9)."""
    monkeypatch.setattr(runs, "evaluation_device", lambda device: META)
    seen = []

    def checked_predict(task, loader, device, precision="fp32"):
        seen.append(device)
        assert {t.device for t in tensors_of(task)} == {torch.device(device)}, "task not on the prediction device"
        n = sum(len(batch["label"]) for batch in loader)
        keys = [k for batch in loader for k in batch["key"]]
        labels = torch.cat([batch["label"] for batch in loader]).numpy()
        return torch.zeros(n, 6).numpy(), labels, keys

    monkeypatch.setattr(evaluate_module, "predict", checked_predict)
    result = evaluate_run(trained_run, "test", "last")
    assert seen == [META] and result["num_samples"] > 0


@pytest.mark.filterwarnings("ignore:for .*copying from a non-meta parameter:UserWarning")
def test_the_trainer_places_the_task_and_resumes_a_checkpoint_onto_another_device(tmp_path):
    """A checkpoint written on one device resumes on another: read onto the CPU, copied into the placed task
    (reading it straight onto the device moved the RNG states there, which torch refuses)."""
    make_trainer(tmp_path, epochs=1).fit()
    torch.manual_seed(0)
    task = ClassificationTask(nn.Linear(8, 3), "x")
    trainer = Trainer(task, Blobs(), Blobs(12), torch.optim.SGD(task.parameters(), lr=0.1), tmp_path, 2,
                      num_classes=3, batch_size=8, log=lambda msg: None, progress=False, device=META)
    assert {t.device for t in tensors_of(task)} == {META}
    assert trainer.resume() and trainer.state.epoch == 1
    assert {t.device for t in tensors_of(task)} == {META}
    assert all(s.device == META for state in trainer.optimizer.state.values() for s in state.values()
               if torch.is_tensor(s) and s.dim() > 0)


def distilled_student(tmp_path, synth_utd, **train):
    """A 2-epoch skeleton teacher and a KD accelerometer student of it: (teacher run, student run)."""
    from harkd.distillation.config import load_distill_config
    from harkd.distillation.experiment import distill_experiment
    from tests.distillation.tinyteachers import INERTIAL, skeleton_teacher

    teacher = skeleton_teacher(synth_utd, tmp_path / "t")
    cfg = load_distill_config(data={
        "name": "kd", "seed": 0, "output_dir": str(tmp_path),
        "data": {"dataset": "utd-mhad", "root": str(synth_utd), "cache": False, "modalities": {"inertial": INERTIAL}},
        "teachers": [{"run": str(teacher)}],
        "student": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [4, 8], "depths": [1, 1]}},
        "train": {"batch_size": 8, **train},
        "losses": [{"name": "ce"}, {"name": "kd", "args": {"temperature": 4}}]})
    return teacher, distill_experiment(cfg, tmp_path / "kd", **QUIET)


def test_a_student_is_evaluated_without_its_teachers(tmp_path, synth_utd):
    """Evaluation and export read the deployable model only: the teacher run may be gone."""
    from harkd.deploy.exporter import load_for_export

    teacher, run_dir = distilled_student(tmp_path, synth_utd, epochs=1)
    before = evaluate_run(run_dir, "test", "last")
    shutil.rmtree(teacher)
    after = evaluate_run(run_dir, "test", "last")
    assert after["accuracy"] == before["accuracy"] and after["predictions"] == before["predictions"]
    loaded = load_for_export(run_dir, "last")
    assert {t.device.type for t in tensors_of(loaded.model)} == {"cpu"}


# ------------------------------------------------------------------ checkpoints know their run
def test_a_checkpoint_from_another_run_is_refused(tmp_path, synth_utd):
    first = train_experiment(config(tmp_path, synth_utd, epochs=1), tmp_path / "a", **QUIET)
    second = train_experiment(config(tmp_path, synth_utd, epochs=1), tmp_path / "b", **QUIET)
    shutil.copyfile(first / "best.pt", second / "best.pt")
    ours = json.loads((second / "run.json").read_text())["run_id"]
    theirs = json.loads((first / "run.json").read_text())["run_id"]
    expected = (f"{second / 'best.pt'}: belongs to another run (run_id {theirs!r} (this run: {ours!r})): a checkpoint "
                "copied from another run is not used; restore this run's own checkpoint or train it again")
    with pytest.raises(DataError) as err:
        evaluate_run(second, "test", "best")
    assert str(err.value) == expected
    shutil.copyfile(first / "last.pt", second / "last.pt")
    with pytest.raises(DataError) as err:
        train_experiment(config(tmp_path, synth_utd, epochs=2), second, **QUIET)
    assert str(err.value) == expected.replace("best.pt", "last.pt")


# ------------------------------------------------------------------ precision, kernels, feedback
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_and_is_recorded(tmp_path, synth_utd, precision):
    run_dir = train_experiment(config(tmp_path, synth_utd, f"train.precision={precision}", "train.device=cpu",
                                      epochs=2), tmp_path / "run", **QUIET)
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["precision"] == precision
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["train_loss"] == r["train_loss"] for r in records)  # finite, not NaN
    assert 0 <= evaluate_run(run_dir, "test", "last")["accuracy"] <= 1


def test_deterministic_switches_the_kernels_and_back():
    try:
        devices.configure_kernels(True)
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
        assert not torch.backends.cudnn.benchmark
    finally:
        devices.configure_kernels(False)
    assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.deterministic


def test_tensorboard_without_the_extra_is_a_clear_error_before_training(tmp_path, synth_utd, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_tensorboard(name, *args, **kwargs):
        if name.startswith("torch.utils.tensorboard"):
            raise ImportError("No module named 'tensorboard'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorboard)
    with pytest.raises(MissingDependencyError) as err:
        train_experiment(config(tmp_path, synth_utd, "train.tensorboard=true"), tmp_path / "run", **QUIET)
    assert str(err.value) == ("train.tensorboard: true needs the optional package 'tensorboard': "
                              "pip install 'harkd[tensorboard]'")
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def test_train_log_keeps_what_the_console_showed(tmp_path, synth_utd):
    shown = []
    run_dir = train_experiment(config(tmp_path, synth_utd, epochs=2), tmp_path / "run", log=shown.append)
    logged = (run_dir / "train.log").read_text().splitlines()
    assert [line.split(" ", 1)[1] for line in logged] == shown
    assert shown[0].startswith("data ready in ") and "(utd-mhad, cross_subject): train " in shown[0]
    assert any(line.startswith("epoch 1/2: ") and line.endswith(" left)") for line in shown)
    assert any(line.startswith("epoch 2/2: ") and not line.endswith(" left)") for line in shown)


# ------------------------------------------------------------------ on a GPU, where there is one
@needs_cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_cuda_train_evaluate_export_and_resume(tmp_path, synth_utd, precision):
    from harkd.deploy.exporter import load_for_export

    cfg = config(tmp_path, synth_utd, "train.device=cuda", f"train.precision={precision}", epochs=1)
    run_dir = train_experiment(cfg, tmp_path / "run", **QUIET)
    assert json.loads((run_dir / "run.json").read_text())["device"].startswith("cuda:")
    result = evaluate_run(run_dir, "test", "last")
    assert 0 <= result["accuracy"] <= 1
    loaded = load_for_export(run_dir, "last")
    assert {t.device.type for t in tensors_of(loaded.model)} == {"cpu"}
    train_experiment(config(tmp_path, synth_utd, "train.device=cuda", f"train.precision={precision}", epochs=2),
                     run_dir, **QUIET)  # resumes the GPU run
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 2


@needs_cuda
def test_cuda_distillation_with_a_cached_teacher(tmp_path, synth_utd):
    _, run_dir = distilled_student(tmp_path, synth_utd, epochs=2, device="cuda")
    assert 0 <= evaluate_run(run_dir, "test", "last")["accuracy"] <= 1


def test_loading_the_splits_logs_progress_every_few_seconds():
    from harkd.engine.experiment import loading_progress

    now, lines = [0.0], []
    progress = loading_progress(lines.append, 30, clock=lambda: now[0])
    for done in range(1, 101):
        now[0] += 1.0
        progress("train", done, 100)
    assert lines == ["loading train: 30/100 recordings (30 s)", "loading train: 60/100 recordings (60 s)",
                     "loading train: 90/100 recordings (90 s)"]


# ------------------------------------------------------------------ the device-resident data path
def test_resident_data_train_and_evaluate_on_request(tmp_path, synth_utd):
    shown = []
    run_dir = train_experiment(config(tmp_path, synth_utd, "data.resident=true", "train.device=cpu",
                                      "data.modalities.inertial.augment={scale: 0.1, shift: 0.1}", epochs=2),
                               tmp_path / "run", log=shown.append)
    assert any(line.startswith("data: resident on cpu: inertial ") and "augmentation batched on the device" in line
               for line in shown), shown
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(0 <= r["val_accuracy"] <= 1 for r in records)


def test_resident_auto_keeps_the_dataloader_on_the_cpu(tmp_path, synth_utd):
    shown = []
    train_experiment(config(tmp_path, synth_utd, "train.device=cpu", epochs=1), tmp_path / "run", log=shown.append)
    assert not any(line.startswith("data: ") for line in shown)


def test_resident_true_without_a_batched_path_is_a_clear_error(tmp_path, synth_utd):
    with pytest.raises(ConfigError) as err:
        train_experiment(config(tmp_path, synth_utd, "data.resident=true",
                                "data.modalities.inertial.gaf={image_size: 16}", epochs=1), tmp_path / "run", **QUIET)
    assert str(err.value).startswith("config key 'data.resident': true, but modality 'inertial' is encoded as gaf "
                                     "images, which have no batched finish")
