"""Recordings the teacher lacks stay the student's (``data.teacher_missing``): a synthetic UTD-MHAD release
whose skeleton files are missing for a third of the recordings."""

from __future__ import annotations

import json
import warnings

import pytest
import torch

from harkd.cli.main import main
from harkd.distillation import distill_experiment, load_distill_config
from harkd.engine.config import load_config
from harkd.engine.evaluate import evaluate_run
from harkd.engine.experiment import load_run, train_experiment
from harkd.errors import ConfigError
from harkd.losses import create_loss

from tinyteachers import INERTIAL, skeleton_teacher

STUDENT = {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8, 16], "depths": [1, 1]}}
LOSSES = [{"name": "ce"}, {"name": "kd", "args": {"temperature": 4}},
          {"name": "fitnet", "weight": 0.1, "student": "pool", "teacher": "pool"}]


@pytest.fixture(scope="module")
def partial_utd(tmp_path_factory):
    """Inertial for all 48 recordings, skeleton for 32: every third skeleton file (by name) removed."""
    from harkd.data.synth import write_utd_mhad

    root = tmp_path_factory.mktemp("partial-utd")
    write_utd_mhad(root, subjects=(1, 2, 3, 4), trials=(1, 2), actions=(1, 2, 3, 10, 22, 24), seed=0,
                   modalities=("inertial", "skeleton"))
    for i, path in enumerate(sorted((root / "Skeleton").glob("*.mat"))):
        if i % 3 == 0:
            path.unlink()
    return root


def without_skeleton(root) -> set[str]:
    have = {p.name.removesuffix("_skeleton.mat") for p in (root / "Skeleton").glob("*.mat")}
    return {p.name.removesuffix("_inertial.mat") for p in (root / "Inertial").glob("*.mat")} - have


def data(root, **extra) -> dict:
    return {"dataset": "utd-mhad", "root": str(root), "modalities": {"inertial": INERTIAL}, "cache": False, **extra}


def kd_config(root, teacher, out, name, train: dict | None = None, **data_keys):
    return load_distill_config(data={
        "name": name, "seed": 1, "output_dir": str(out), "data": data(root, **data_keys),
        "teachers": [{"run": str(teacher)}], "student": STUDENT, "losses": LOSSES,
        "optim": {"lr": 3e-3}, "train": {"epochs": 1, "batch_size": 8, **(train or {})}})


def recorded(run):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_dir = run()
    # the tiny teacher is near chance, which the run rightly says: not what these tests are about
    return run_dir, [str(w.message) for w in caught if " is near chance " not in str(w.message)]


@pytest.fixture(scope="module")
def runs(partial_utd, tmp_path_factory):
    """The skeleton teacher (trained on the recordings that have a skeleton), the KD student in both modes and
    its no-KD twin (the same student config without teacher), with the warnings each run gave."""
    out = tmp_path_factory.mktemp("teacher-missing")
    teacher = skeleton_teacher(partial_utd, out)
    quiet = {"log": lambda m: None}
    kd, kd_warnings = recorded(lambda: distill_experiment(kd_config(partial_utd, teacher, out, "kd"), **quiet))
    skip, skip_warnings = recorded(lambda: distill_experiment(
        kd_config(partial_utd, teacher, out, "kd_skip", teacher_missing="skip"), **quiet))
    twin = train_experiment(load_config(data={
        "name": "twin", "seed": 1, "output_dir": str(out), "data": data(partial_utd), "model": STUDENT,
        "optim": {"lr": 3e-3}, "train": {"epochs": 1, "batch_size": 8}}), **quiet)
    return {"teacher": teacher, "kd": kd, "skip": skip, "twin": twin,
            "warnings": {"kd": kd_warnings, "skip": skip_warnings}}


def split_counts(split: dict, lacking: set[str]) -> str:
    return ", ".join(f"{name} {len(set(split[name]) & lacking)} of {len(split[name])}" for name in ("train", "val", "test"))


def test_the_kd_student_keeps_every_recording_of_its_modality(runs, partial_utd):
    kd, twin = (json.loads((runs[r] / "run.json").read_text()) for r in ("kd", "twin"))
    assert kd["split"] == twin["split"]
    assert kd["skipped"] == twin["skipped"] == {"train": [], "val": [], "test": []}
    lacking = without_skeleton(partial_utd)
    first = next(k for k in kd["split"]["train"] if k in lacking)
    assert runs["warnings"]["kd"] == [
        f"recordings without skeleton (read by the teachers only) stay the student's, with cross-entropy only: "
        f"{split_counts(kd['split'], lacking)} (e.g. {first}; data.teacher_missing: student_only; skip leaves them out)"]
    results = {r: evaluate_run(runs[r], "test") for r in ("kd", "twin")}
    assert results["kd"]["predictions"].keys() == results["twin"]["predictions"].keys()
    assert results["kd"]["num_samples"] == len(kd["split"]["test"]) == 24
    # the teacher is calibrated on (and teaches) the training recordings that have its modality only
    report = json.loads((runs["kd"] / "teachers.json").read_text())
    taught = [k for k in kd["split"]["train"] if k not in lacking]
    assert report["recordings"] == report["teachers"][0]["recordings"] == len(taught) < len(kd["split"]["train"])


def test_skip_leaves_them_out_and_says_so_in_one_line(runs, partial_utd):
    meta = json.loads((runs["skip"] / "run.json").read_text())
    lacking = without_skeleton(partial_utd)
    for name, keys in meta["split"].items():
        assert sorted(k for k, _ in meta["skipped"][name]) == sorted(set(keys) & lacking)
    first = next(k for k in meta["split"]["train"] if k in lacking)
    assert runs["warnings"]["skip"] == [
        f"recordings without skeleton (read by the teachers only) left the student's splits: "
        f"{split_counts(meta['split'], lacking)} (e.g. {first}; data.teacher_missing: skip; student_only keeps them "
        "for the student)"]


def test_compare_pairs_the_kd_student_with_its_twin_only_on_the_same_recordings(runs, capsys):
    assert main(["compare", str(runs["kd"]), "--baseline", str(runs["twin"]), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["seeds"] == [1] and result["teacher_seeds"] == [0]
    assert main(["compare", str(runs["skip"]), "--baseline", str(runs["twin"])]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"harkd: error: {runs['twin']} and {runs['skip']} are evaluated on different test "
                          f"recordings (run.json's split less its skipped ones): 8 only in {runs['twin']} (")


def test_a_recording_without_the_teachers_modality_gives_zeros_and_a_flag(runs, partial_utd):
    _, _, _, prepared = load_run(runs["kd"], whole=True)
    train = prepared.datasets["train"]
    lacking = without_skeleton(partial_utd)
    absent = train[next(i for i, k in enumerate(train.keys) if k in lacking)]
    present = train[next(i for i, k in enumerate(train.keys) if k not in lacking)]
    assert absent["present_skeleton"] is False and present["present_skeleton"] is True
    assert absent["skeleton"].shape == present["skeleton"].shape and not absent["skeleton"].any()
    assert absent["skeleton"].dtype == present["skeleton"].dtype
    assert train.keys_with(["skeleton"]) == [k for k in train.keys if k not in lacking]


def _batch(dataset, keys):
    return torch.utils.data.default_collate([dataset[dataset.keys.index(k)] for k in keys])


def test_the_distillation_terms_average_over_the_taught_rows_only(runs, partial_utd):
    _, _, task, prepared = load_run(runs["kd"], whole=True)
    train = prepared.datasets["train"]
    lacking = without_skeleton(partial_utd)
    keys = [k for k in train.keys if k in lacking][:3] + [k for k in train.keys if k not in lacking][:5]
    batch = _batch(train, keys)
    mask = torch.tensor([k not in lacking for k in keys])
    task.eval()  # no dropout: the student's outputs below are the task's
    out = task(batch)
    student = task.student.forward_intermediates(batch["inertial"], ["pool", "logits"])
    teacher = task.teachers[0].forward_intermediates(batch["skeleton"][mask], ["pool", "logits"])
    kd = create_loss("kd", temperature=4)(student["logits"][mask], teacher["logits"])
    torch.testing.assert_close(out["kd"], kd)
    torch.testing.assert_close(out["fitnet"], task.losses["fitnet"](student["pool"][mask], teacher["pool"]))
    torch.testing.assert_close(out["ce"], torch.nn.functional.cross_entropy(student["logits"], batch["label"]))
    # the teacher ran, and its outputs are cached, for the taught recordings only
    assert {key for _, key in task.cache.store} == {k for k in keys if k not in lacking}
    # a batch that no row of can be taught: the distillation terms are 0 (not NaN), the student still learns
    task.train()
    untaught = task(_batch(train, [k for k in train.keys if k in lacking][:4]))
    assert untaught["kd"].item() == 0 and untaught["fitnet"].item() == 0
    assert untaught["loss"].item() == pytest.approx(untaught["ce"].item()) and untaught["ce"].item() > 0
    untaught["loss"].backward()
    assert all(torch.isfinite(p.grad).all() for p in task.student.parameters() if p.grad is not None)


def test_mixup_with_untaught_training_recordings_is_refused(runs, partial_utd, tmp_path):
    cfg = kd_config(partial_utd, runs["teacher"], tmp_path, "mixed", train={"mixup": {"alpha": 0.4}})
    with pytest.raises(ConfigError) as err:
        distill_experiment(cfg, log=lambda m: None)
    lacking = len(set(json.loads((runs["kd"] / "run.json").read_text())["split"]["train"])
                  & without_skeleton(partial_utd))
    assert str(err.value) == (f"train.mixup mixes two recordings per sample, but {lacking} training recordings lack "
                              "a teacher's modality (a mixed sample would be half taught): set "
                              "data.teacher_missing=skip, or remove train.mixup")


def test_a_student_dataset_without_any_teacher_recording_is_refused(runs, tmp_path):
    from harkd.data.synth import write_utd_mhad
    from harkd.errors import DataError

    root = tmp_path / "inertial-only"
    write_utd_mhad(root, subjects=(1, 2, 3, 4), trials=(1,), actions=(1, 2, 3), seed=0, modalities=("inertial",))
    with pytest.raises(DataError) as err:
        distill_experiment(kd_config(root, runs["teacher"], tmp_path, "nothing"), log=lambda m: None)
    assert str(err.value) == (f"{root}: none of the 3 training recordings has 'skeleton', the teachers' modality: "
                              "there is nothing to distil")
