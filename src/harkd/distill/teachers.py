"""Frozen teachers loaded from ``harkd train`` run directories."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from harkd.engine.checkpoint import load_checkpoint
from harkd.engine.config import load_config
from harkd.errors import ConfigError, DataError

__all__ = ["Teacher", "read_teacher_run", "load_teacher", "check_teacher_split"]


@dataclass
class Teacher:
    """A trained model, its input modality and the preprocessing it was trained with."""

    name: str
    run_dir: Path
    model: nn.Module | None  # None until load_teacher
    input: str | list[str]  # a list for a multi-modality (late_fusion) teacher
    transforms: dict  # modality -> the teacher's transform options
    normalization: dict  # modality -> its training-split statistics (modalities without stats absent)
    class_names: list[str]
    split: dict
    dataset: str
    protocol: str
    model_cfg: object
    checkpoint: str = "best"
    semantic: object = None  # the teacher's SemanticConfig (class-name embeddings it was trained to), if any


def read_teacher_run(run_dir: str | Path, checkpoint: str = "best", name: str | None = None) -> Teacher:
    """A teacher's description from its run directory (config, split, statistics); no weights yet."""
    run_dir = Path(run_dir)
    for needed in ("config.yaml", "run.json", f"{checkpoint}.pt"):
        if not (run_dir / needed).is_file():
            raise DataError(run_dir / needed, "teacher run is incomplete: not found (train the teacher with harkd train)")
    meta = json.loads((run_dir / "run.json").read_text())
    if meta.get("kind", "train") != "train":
        raise ConfigError(f"teacher {run_dir} is a '{meta['kind']}' run; teachers come from harkd train runs")
    cfg = load_config(run_dir / "config.yaml")
    modalities = cfg.model.inputs
    stats = meta.get("normalization", {})
    return Teacher(name or cfg.name, run_dir, None, cfg.model.input,
                   {m: dict(cfg.data.modalities.get(m) or {}) for m in modalities},
                   {m: stats[m] for m in modalities if stats.get(m)}, list(meta["class_names"]), meta["split"],
                   cfg.data.dataset, cfg.data.protocol, cfg.model, checkpoint, cfg.semantic)


def load_teacher(teacher: Teacher, sample: dict) -> Teacher:
    """Build ``teacher``'s model for a prepared ``sample`` (all modalities), load its weights, freeze it."""
    from harkd.engine.experiment import build_model

    path = teacher.run_dir / f"{teacher.checkpoint}.pt"
    model = build_model(teacher.model_cfg, sample, len(teacher.class_names))
    state = {k.removeprefix("model."): v for k, v in load_checkpoint(path)["task"].items() if k.startswith("model.")}
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise DataError(path, f"does not match the teacher's config ({err})") from None
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    teacher.model = model
    return teacher


def check_teacher_split(teacher: Teacher, split, dataset: str, class_names: list[str]) -> None:
    """A teacher must share the student's dataset and classes and never have trained on its test split."""
    if teacher.dataset != dataset:
        raise ConfigError(f"teacher {teacher.run_dir} was trained on '{teacher.dataset}', the student on '{dataset}'")
    if teacher.class_names != list(class_names):
        raise ConfigError(f"teacher {teacher.run_dir} has {len(teacher.class_names)} classes that differ from the "
                          f"student's {len(class_names)}")
    seen = set(teacher.split.get("train", [])) | set(teacher.split.get("val", []))
    leaked = sorted(seen & set(split.test))
    if leaked:
        raise ConfigError(f"teacher {teacher.run_dir} trained or selected on {len(leaked)} of the student's test "
                          f"recordings (e.g. {leaked[0]}); train the teacher with the same protocol")
