"""Cross-fitted ('folds') teachers: every training recording is taught by the fold that never trained on it."""

import json

import pytest
import torch

from harkd.distillation import distill_experiment, load_distill_config
from harkd.distillation.experiment import DISTILL, resolve_config
from harkd.engine.experiment import load_run
from harkd.engine.recipe import prepare_plan
from harkd.engine.trainer import model_input
from harkd.errors import ConfigError

from tinyteachers import train_teacher

SKELETON = {"frames": 16, "center": True}
STGCN = {"name": "stgcn", "args": {"widths": [8, 16], "strides": [1, 2]}}
INERTIAL = {"sensor": "acc", "length": 64, "normalize": True}


@pytest.fixture(scope="module")
def folds(synth_utd, tmp_path_factory):
    """Two runs of one skeleton config; the synthetic training subjects are 1 and 3, one held out by each."""
    out = tmp_path_factory.mktemp("folds")
    return [train_teacher(synth_utd, out, "skeleton", SKELETON, STGCN, epochs=2, name=f"fold{s}",
                          data={"val_subjects": [s]}) for s in (1, 3)]


def _config(root, tmp_path, teachers, losses=None, epochs=1):
    return load_distill_config(data={
        "name": "student", "seed": 0, "output_dir": str(tmp_path),
        # the per-class carve: with "auto" the student would hold out one of the two synthetic training subjects
        "data": {"dataset": "utd-mhad", "root": str(root), "modalities": {"inertial": INERTIAL}, "cache": False,
                 "val_subjects": None},
        "teachers": teachers,
        "student": {"name": "imu_cnn1d", "input": "inertial", "args": {"widths": [8, 16], "depths": [1, 1]}},
        "losses": losses or [{"name": "ce"}, {"name": "acs", "teacher_index": "all", "args": {"temperature": 4}}],
        "optim": {"lr": 3e-3}, "train": {"epochs": epochs, "batch_size": 8},
    })


def test_each_training_recording_gets_the_output_of_the_fold_that_held_it_out(synth_utd, folds, tmp_path):
    plan = DISTILL.plan(_config(synth_utd, tmp_path, [{"folds": [str(f) for f in folds]}]))
    assert plan.cfg.teachers[0].checkpoint == "last"  # a fold's best epoch was chosen on the recordings it teaches
    prepared = prepare_plan(plan)
    task = DISTILL.build(plan, prepared)
    keys = prepared.datasets["train"].keys
    assert task.stored == [True] and len(task.cache.store) == len(keys)
    for n, fold in enumerate(folds):
        meta = json.loads((fold / "run.json").read_text())
        held = set(meta["split"]["val"])
        assert held and not held & set(meta["split"]["train"])
        _, _, fold_task, fold_data = load_run(fold, "last")
        other = load_run(folds[1 - n], "last")[2]
        val = fold_data.datasets["val"]
        batch = torch.utils.data.default_collate([val[i] for i in range(len(val))])
        with torch.no_grad():
            own = fold_task.model(model_input(batch, "skeleton"))
            theirs = other.model(model_input(batch, "skeleton"))
        rows = [i for i, k in enumerate(batch["key"]) if k in keys]  # the student's own validation is not taught
        assert rows
        stored = torch.stack([task.cache.store[(0, batch["key"][i])]["logits"] for i in rows])
        torch.testing.assert_close(stored, own[rows])
        assert not torch.allclose(stored, theirs[rows])
    with pytest.raises(ConfigError, match=r"^teacher 0 is cross-fitted \('folds'\) and has no stored output for "
                                          r"recording a1_s2_t1: only the student's training recordings are taught$"):
        task.teacher_outputs({"key": ["a1_s2_t1"], "label": torch.zeros(1, dtype=torch.long)})


def test_distill_with_cross_fitted_and_plain_teachers(synth_utd, folds, tmp_path):
    teachers = [{"folds": [str(f) for f in folds]}, {"run": str(folds[0])}]
    run_dir = distill_experiment(_config(synth_utd, tmp_path, teachers, epochs=2), log=lambda m: None)
    record = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["epoch"] == 2 and record["train_acs"] > 0


def test_folds_must_cover_every_training_subject(synth_utd, folds, tmp_path):
    plan = DISTILL.plan(_config(synth_utd, tmp_path, [{"folds": [str(folds[0]), str(folds[0])]}]))
    prepared = prepare_plan(plan)
    with pytest.raises(ConfigError, match=r"training recordings are held out by no fold \(e.g. a\d+_s3_t\d\); "
                                          r"train the folds with data.val_subjects that together cover"):
        DISTILL.build(plan, prepared)


def test_fold_configs_must_match(synth_utd, folds, tmp_path):
    wide = train_teacher(synth_utd, tmp_path, "skeleton", SKELETON,
                         {"name": "stgcn", "args": {"widths": [8, 8], "strides": [1, 2]}}, name="wide",
                         data={"val_subjects": [3]})
    with pytest.raises(ConfigError, match=r"^teacher folds .*fold1 and .*wide differ in model; folds must be runs "
                                          r"of one config$"):
        resolve_config(_config(synth_utd, tmp_path, [{"folds": [str(folds[0]), str(wide)]}]))


@pytest.mark.parametrize("teacher,message", [
    ({"run": "a", "folds": ["b", "c"]}, "give a teacher either 'run' (a run directory) or 'folds' (cross-fitting "
                                        "run directories), not both or neither"),
    ({}, "give a teacher either 'run' (a run directory) or 'folds' (cross-fitting run directories), not both or "
         "neither"),
    ({"folds": ["b"]}, "'folds' needs >= 2 run directories, got 1"),
])
def test_teacher_entry_errors(synth_utd, tmp_path, teacher, message):
    with pytest.raises(ConfigError) as err:
        _config(synth_utd, tmp_path, [teacher])
    assert str(err.value).endswith(message)


def test_the_dataset_is_scanned_once_for_the_student_and_every_fold(synth_utd, folds, tmp_path, monkeypatch):
    from harkd.data.utd_mhad import UTDMHAD

    scans = []
    original = UTDMHAD.scan
    monkeypatch.setattr(UTDMHAD, "scan", lambda self, *a, **k: scans.append(a) or original(self, *a, **k))
    plan = DISTILL.plan(_config(synth_utd, tmp_path, [{"folds": [str(f) for f in folds]}]))
    DISTILL.build(plan, prepare_plan(plan))
    assert len(scans) == 1


def test_a_distillation_reads_each_teacher_run_once(synth_utd, folds, tmp_path, monkeypatch):
    """Planned once for both training stages (before: about four reads per stage); evaluating the refit's final
    epoch reads no teacher (``load_run`` builds the student alone)."""
    import harkd.distillation.teachers as teachers

    reads = []
    original = teachers.read_teacher_run
    monkeypatch.setattr(teachers, "read_teacher_run", lambda run, *a, **k: reads.append(run) or original(run, *a, **k))
    cfg = _config(synth_utd, tmp_path, [{"run": str(folds[0])}], losses=[{"name": "ce"}, {"name": "kd"}])
    cfg.train.refit = "last"
    distill_experiment(cfg, tmp_path / "once", log=lambda m: None)
    assert reads == [str(folds[0])] and (tmp_path / "once" / "refit" / "last.pt").is_file()
