"""SAKDN end to end on synthetic UTD-MHAD: SPAMFM-fused semantic GAF teacher -> depth TRN student."""

import copy
import json
import math
import re
from pathlib import Path

import pytest
import torch
import yaml

from harkd.cli.main import main
from harkd.distillation import distill_experiment, load_distill_config
from harkd.distillation.task import BatchContext
from harkd.engine.experiment import load_run
from harkd.errors import ConfigError

from tinyteachers import train_teacher

INERTIAL_GAF = {"sensor": "all", "length": 32, "gaf": {"image_size": 32, "method": "summation"}}
DEPTH = {"frames": 3, "size": [16, 16], "scale": "metres"}
SAKDN_LOSSES = [
    {"name": "ce"},
    {"name": "kd", "weight": 0.01, "teacher_branches": "all", "args": {"temperature": 4}},
    {"name": "gsdm", "student": ["stem", "layer1", "layer2"], "teacher": ["block3", "block4", "block5"],
     "teacher_branches": "all"},
    {"name": "semantic", "student": "embedding", "teacher": "embedding", "teacher_branches": "all"},
]


@pytest.fixture(scope="module")
def fused_teacher(synth_utd, tmp_path_factory):
    return train_teacher(synth_utd, tmp_path_factory.mktemp("sakdn-teacher"), "inertial", INERTIAL_GAF,
                         {"name": "gaf_vgg_spamfm", "args": {"branch_names": ["acc", "gyro"], "width": 2,
                                                             "depths": [1, 1, 1, 1, 1], "fc_dim": 8}},
                         semantic={"source": "none", "distance": "l1"})


def sakdn_data(root, teacher, out, losses=SAKDN_LOSSES):
    return {
        "name": "sakdn", "seed": 1, "output_dir": str(out),
        "data": {"dataset": "utd-mhad", "root": str(root), "modalities": {"depth": DEPTH}, "cache": False},
        "teachers": [{"run": str(teacher)}],
        "student": {"name": "trn", "input": "depth", "args": {"width": 4, "depths": [1, 1], "stem": "small",
                                                             "relation_dim": 8},
                    "head": {"semantic_dim": 300, "semantic_act": "none"}},
        "losses": losses, "optim": {"lr": 3e-3}, "train": {"epochs": 1, "batch_size": 8},
    }


@pytest.fixture(scope="module")
def sakdn_run(synth_utd, fused_teacher, tmp_path_factory):
    out = tmp_path_factory.mktemp("sakdn")
    path = out / "sakdn.yaml"
    path.write_text(yaml.safe_dump(sakdn_data(synth_utd, fused_teacher, out)))
    assert main(["distill", str(path)]) == 0
    return out / "sakdn"


def test_teacher_trains_every_branch_to_the_class_embeddings(fused_teacher):
    record = json.loads((fused_teacher / "metrics.jsonl").read_text().splitlines()[-1])
    assert math.isfinite(record["train_ce"]) and record["train_semantic"] > 0
    assert yaml.safe_load((fused_teacher / "config.yaml").read_text())["model"]["head"]["semantic_dim"] == 300


def test_sakdn_distill_logs_every_term_finite(sakdn_run):
    record = json.loads((sakdn_run / "metrics.jsonl").read_text().splitlines()[-1])
    for term in ("ce", "kd", "gsdm", "semantic", "loss"):
        assert math.isfinite(record[f"train_{term}"]), term
    assert record["train_gsdm"] > 0 and record["train_semantic"] > 0


def _batch(prepared, n=6):
    return torch.utils.data.default_collate([prepared.datasets["train"][i] for i in range(n)])


def test_zero_pass_keeps_bn_statistics_and_gsdm_reaches_the_student(sakdn_run):
    _, _, task, prepared = load_run(sakdn_run, whole=True)
    gsdm = next(t for t in task.terms if t.name == "gsdm")
    assert gsdm.sources() == [(0, "acc."), (0, "gyro.")] and gsdm.loss.student_segments == 3
    task.train()
    batch = _batch(prepared)
    reference = copy.deepcopy(task.student)
    reference.forward_intermediates(batch["depth"], ["logits"])  # the real pass alone
    calls = []
    original = task.zero_logits

    def spy(model, x, names=("logits",)):
        calls.append((model is task.student, model.training))
        return original(model, x, names)

    task.zero_logits = spy
    for term in task.terms:
        term.weight = 1.0 if term.name == "gsdm" else 0.0
    out = task(batch)
    assert (True, True) in calls  # the student's zero pass ran (from train mode) ...
    assert task.student.training
    for (name, got), want in zip(task.student.named_buffers(), reference.buffers()):
        assert torch.equal(got, want), name  # ... and left BatchNorm statistics as the real pass alone did
    out["loss"].backward()
    stem = task.student.stages["stem"][0].weight.grad
    assert stem is not None and stem.abs().sum() > 0  # GSDM's student maps are differentiable
    # one zero sample stands for the batch: eval mode is per sample
    zeros = torch.zeros_like(batch["depth"])
    with torch.no_grad():
        task.student.eval()
        full = task.student(zeros)
    torch.testing.assert_close(task.zero_logits(task.student, batch["depth"])["logits"].expand_as(full), full,
                               rtol=1e-4, atol=1e-5)


def test_teacher_maps_are_detached_and_weights_per_branch(sakdn_run):
    _, _, task, prepared = load_run(sakdn_run, whole=True)
    task.train()
    batch = _batch(prepared)
    teachers = task.teacher_outputs(batch)
    assert not any(v.requires_grad for v in teachers[0].values())
    student = task.student.forward_intermediates(batch["depth"], task.student_features)
    gsdm = next(t for t in task.terms if t.name == "gsdm")
    context = gsdm.loss.prepare(BatchContext(task, batch, student, teachers), gsdm.sources())
    assert gsdm.sources() == [(0, "acc."), (0, "gyro.")] and len(context["teacher_weights"]) == 2
    assert context["student_weights"].shape == (6,)
    assert all(w.shape == (6,) and torch.isfinite(w).all() and (w >= 0).all() for w in context["teacher_weights"])


@pytest.mark.parametrize("change, message", [
    ({"teacher_branches": ["acc", "mag"]}, "losses[1].teacher_branches: teacher 0 has no branch 'mag' "
                                           "(branches: acc, gyro)"),
    ({"teacher": "embeding"}, "losses[1].teacher: teacher 0 has no feature 'acc.embeding'"),
])
def test_bad_branch_terms_are_clear(synth_utd, fused_teacher, tmp_path, change, message):
    losses = [{"name": "ce"}, {**SAKDN_LOSSES[3], **change}]
    cfg = load_distill_config(data=sakdn_data(synth_utd, fused_teacher, tmp_path, losses))
    with pytest.raises(ConfigError, match=re.escape(message)):
        distill_experiment(cfg, tmp_path / "bad", log=lambda m: None)


def test_bad_teacher_branches_value(synth_utd, tmp_path):
    with pytest.raises(ConfigError, match="teacher_branches must be 'all' or a list of branch names, got 'x'"):
        load_distill_config(data=sakdn_data(synth_utd, tmp_path, tmp_path, [{"name": "kd", "teacher_branches": "x"}]))


CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "utd_mhad"


def test_shipped_teacher_config_trains(synth_utd, tmp_path):
    """configs/utd_mhad/accgyro_sakdn_teacher.yaml, shrunk, on synthetic data."""
    small = [f"data.root={synth_utd}", "data.cache=false", f"output_dir={tmp_path}", "train.epochs=1",
             "train.batch_size=8", "model.args.width=2", "model.args.fc_dim=8", "semantic.source=none",
             "data.modalities.inertial.length=32", "data.modalities.inertial.gaf.image_size=32"]
    assert main(["train", str(CONFIGS / "accgyro_sakdn_teacher.yaml"), "--evaluate", "none",
                 *(a for o in small for a in ("--set", o))]) == 0
    record = json.loads((tmp_path / "utd_accgyro_sakdn_teacher" / "metrics.jsonl").read_text().splitlines()[-1])
    assert math.isfinite(record["train_semantic"])


@pytest.mark.parametrize("config, terms", [("accgyro2depth_kd", ("ce", "kd")),
                                           ("accgyro2depth_sakdn", ("ce", "kd", "gsdm", "semantic"))])
def test_shipped_distill_configs_run(synth_utd, fused_teacher, tmp_path, config, terms):
    """The shipped sensor -> depth configs, shrunk, on synthetic data: every term logged and finite."""
    small = [f"data.root={synth_utd}", "data.cache=false", f"output_dir={tmp_path}", "train.epochs=1",
             "train.batch_size=8", f"teachers.0.run={fused_teacher}", "student.args.width=4",
             "student.args.relation_dim=8", "data.modalities.depth.frames=3", "data.modalities.depth.size=[32,32]"]
    assert main(["distill", str(CONFIGS / "distill" / f"{config}.yaml"), "--evaluate", "none",
                 *(a for o in small for a in ("--set", o))]) == 0
    record = json.loads((tmp_path / f"utd_{config}" / "metrics.jsonl").read_text().splitlines()[-1])
    assert all(math.isfinite(record[f"train_{t}"]) for t in terms)
