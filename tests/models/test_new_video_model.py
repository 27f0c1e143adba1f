"""A new video backbone is one module plus its registration: it declares its sample layout and head there.

``TinyC3D`` lives only here, as the example of adding a model: nothing in harkd names it, yet a depth-video
run builds it with the clip's frames as ``num_segments`` and its channels as ``in_chans``, because its
registration says ``sample_layout="segments"``, and with its declared default head updated by the config's
``model.head``."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harkd.engine.config import load_config
from harkd.engine.experiment import train_experiment
from harkd.engine.runs import load_run
from harkd.errors import InputError
from harkd.models import registry
from harkd.models.base import ActionModel, ClassifierHead


class TinyC3D(ActionModel):
    """One 3-D convolution over (B, S, C, H, W) clips, pooled, then the shared classifier head."""

    def __init__(self, num_classes: int, in_chans: int = 1, num_segments: int = 8, width: int = 4, head=None):
        super().__init__()
        self.in_chans, self.num_segments = in_chans, num_segments
        self.stages = nn.ModuleDict({"conv": nn.Sequential(nn.Conv3d(in_chans, width, 3, padding=1), nn.ReLU(),
                                                           nn.AdaptiveAvgPool3d(1), nn.Flatten(2))})
        self.head = ClassifierHead(width, num_classes, **(head or {}))
        self._finish([{"name": "conv", "num_chs": width}])

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x, "(B, S, C, H, W)", {1: self.num_segments, 2: self.in_chans})
        return x.transpose(1, 2)


@pytest.fixture
def tiny_c3d(monkeypatch):
    """``tiny_c3d`` registered for one test (the registry is restored afterwards)."""
    monkeypatch.setattr(registry, "MODELS", registry.MODELS.copy())
    registry.register_model("tiny_c3d", sample_layout="segments", head={"semantic_dim": 6})(TinyC3D)
    return "tiny_c3d"


def test_a_new_video_model_trains_from_its_declared_layout(synth_utd, tmp_path, tiny_c3d):
    cfg = load_config(data={
        "name": "c3d", "seed": 0, "output_dir": str(tmp_path),
        "data": {"dataset": "utd-mhad", "root": str(synth_utd), "cache": False,
                 "modalities": {"depth": {"frames": 4, "size": [16, 16]}}},
        "model": {"name": tiny_c3d, "input": "depth", "head": {"drop_rate": 0.1}},
        "train": {"epochs": 1, "batch_size": 8},
    })
    run_dir = train_experiment(cfg, tmp_path / "run", log=lambda m: None)
    _, _, task, prepared = load_run(run_dir)
    sample = prepared.datasets["train"][0]["depth"]
    assert isinstance(task.model, TinyC3D)
    assert (task.model.num_segments, task.model.in_chans) == (sample.shape[0], sample.shape[1]) == (4, 1)
    assert (task.model.head.pre_logits_dim, task.model.head.drop.p) == (6, 0.1)


def test_an_unknown_sample_layout_is_refused():
    with pytest.raises(InputError) as err:
        registry.register_model("clip", sample_layout="frames")
    assert str(err.value) == "model 'clip': unknown sample_layout 'frames' (valid: channels_first, modalities, segments)"
