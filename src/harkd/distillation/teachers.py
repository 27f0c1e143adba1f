"""Frozen teachers loaded from ``harkd train`` run directories."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections import Counter
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import yaml
from torch import nn

from harkd.engine.checkpoint import load_checkpoint
from harkd.engine.config import ExperimentConfig, read_saved_config
from harkd.engine.lifecycle import SELECT_ON_TEST_SUFFIX
from harkd.engine.recipe import get_recipe, list_recipes
from harkd.engine.rundir import jsonable, read_run_meta
from harkd.errors import ConfigError, DataError, InputError, warn

__all__ = ["Teacher", "read_teacher", "read_teacher_run", "load_teacher", "check_teacher_split",
           "out_of_fold_outputs", "save_module_teacher", "check_module_teacher", "training_command", "config_writing",
           "warn_near_chance", "CONFIGS", "NEAR_CHANCE"]

#: where a missing teacher run's config is looked for (relative to the working directory, as run paths are)
CONFIGS = Path("configs")
#: a teacher is near chance below ``chance + NEAR_CHANCE * (1 - chance)`` accuracy on the recordings it teaches
NEAR_CHANCE = 0.1


@dataclass
class Teacher:
    """A trained model, its input modality and the preprocessing it was trained with."""

    name: str
    run_dir: Path
    model: nn.Module | None  # None until load_teacher
    input: str | list[str]  # a list for a multi-modality (late_fusion) teacher
    transforms: dict  # modality -> the teacher's transform options
    normalization: dict  # modality -> its training-split statistics (modalities without stats absent)
    class_names: list[str] | None  # None for a module teacher (also dataset, protocol and model_cfg)
    split: dict
    dataset: str | None
    protocol: str
    model_cfg: object
    checkpoint: str = "best"
    semantic: object = None  # the teacher's SemanticConfig (class-name embeddings it was trained to), if any
    folds: list["Teacher"] = field(default_factory=list)  # cross-fitting runs (the teacher is folds[0]'s config)
    weights: str = "model."  # the checkpoint's prefix of the teacher's weights ("student." for a distilled student)


#: the files of a module teacher's directory (:func:`save_module_teacher`)
MODULE_FILE, MODULE_META = "module.pt", "teacher.json"
#: what a module teacher must offer, the contract of harkd's models (:class:`~harkd.models.ActionModel`)
MODULE_CONTRACT = ("forward_features", "forward_head", "forward_intermediates", "feature_names")


def check_module_teacher(module, where: str) -> None:
    """One InputError naming what ``module`` lacks of the models' contract (a harkd model has it all)."""
    if not isinstance(module, nn.Module):
        raise InputError(f"{where}: expected a torch.nn.Module (or a run directory), got {type(module).__name__}")
    lacking = [a for a in MODULE_CONTRACT if not hasattr(module, a)]
    if not lacking and "logits" not in tuple(module.feature_names):
        lacking = ["a 'logits' entry in feature_names"]
    if lacking:
        raise InputError(f"{where}: {type(module).__name__} does not follow harkd's model contract "
                         f"({', '.join(MODULE_CONTRACT)}, with 'logits' among the feature names); it lacks "
                         f"{', '.join(lacking)}: build it with harkd.create_model or subclass harkd.models.ActionModel")


def save_module_teacher(folder: str | Path, module: nn.Module, modality: str, transform: dict,
                        normalization: dict | None, name: str, replace: bool = False) -> Path:
    """Write an in-memory teacher as a teacher directory (``module.pt``: the whole module, so its class
    must be importable when the run is loaded again; ``teacher.json``: input, transform, statistics),
    complete or not at all (written beside it, then renamed). A directory already holding a module
    teacher (a resumed run) must hold this one, unless ``replace`` (its run never trained)."""
    folder = Path(folder)
    meta = {"kind": "module", "name": name, "input": modality, "transform": dict(transform),
            "normalization": {modality: normalization} if normalization else {}}
    meta = json.loads(json.dumps(meta, default=jsonable))  # arrays as lists, as read back
    if folder.exists() and (replace or not (folder / MODULE_META).is_file()):
        shutil.rmtree(folder)
    if (folder / MODULE_META).is_file():
        saved = torch.load(folder / MODULE_FILE, map_location="cpu", weights_only=False).state_dict()
        current = module.state_dict()
        same = saved.keys() == current.keys() and all(torch.equal(saved[k].cpu(), current[k].cpu()) for k in saved)
        if not same or json.loads((folder / MODULE_META).read_text()) != meta:
            raise InputError(f"{folder} holds another teacher '{name}' (weights or inputs differ) from an earlier "
                             "run: resume with the same teacher, or choose another run_dir")
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    try:
        torch.save(copy.deepcopy(module).cpu(), partial / MODULE_FILE)  # the caller's module stays where it is
        (partial / MODULE_META).write_text(json.dumps(meta, indent=1))
        partial.rename(folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def _read_module_teacher(folder: Path, name: str | None) -> Teacher:
    meta = json.loads((folder / MODULE_META).read_text())
    modality = meta["input"]
    return Teacher(name or meta["name"], folder, None, modality, {modality: dict(meta["transform"])},
                   dict(meta["normalization"]), None, {}, None, "", None, "module")


def read_teacher_run(run_dir: str | Path, checkpoint: str = "best", name: str | None = None,
                     config: str | None = None) -> Teacher:
    """A teacher's description from its run directory (config, split, statistics); no weights yet.
    A module teacher's directory (:func:`save_module_teacher`) is read as such. An incomplete run is
    one DataError with the command that trains it (``config``: the teacher entry's, see :func:`training_command`)."""
    run_dir = Path(run_dir)
    if (run_dir / MODULE_META).is_file():
        return _read_module_teacher(run_dir, name)
    for needed in ("config.yaml", "run.json", f"{checkpoint}.pt"):
        if not (run_dir / needed).is_file():
            command = training_command(run_dir, config)
            hint = (f"train it with: {command}" if command else f"train it with harkd train CONFIG --run-dir {run_dir} "
                    f"(no config under ./{CONFIGS} writes {run_dir}; a teacher entry's 'config:' names it)")
            raise DataError(run_dir / needed, f"teacher run is incomplete: not found; {hint}")
    meta = read_run_meta(run_dir)
    kind = meta.get("kind", "train")
    if kind not in ("train", "distill"):
        raise ConfigError(f"teacher {run_dir} is a '{kind}' run; teachers come from harkd train or harkd distill "
                          "runs")
    # a distill run's deployable model is its student, which teaches in turn (a large student -> a device-sized one)
    recipe = get_recipe(kind)
    cfg = recipe.load(None, [], read_saved_config(run_dir / "config.yaml"))
    attr, model = recipe.deployable(cfg)
    semantic = cfg.semantic if kind == "train" else None  # a distill config's semantic section is GSDM's, not a target
    weights = f"{attr}."
    modalities = model.inputs
    stats = meta.get("normalization", {})
    return Teacher(name or cfg.name, run_dir, None, model.input,
                   {m: dict(cfg.data.modalities.get(m) or {}) for m in modalities},
                   {m: stats[m] for m in modalities if stats.get(m)}, list(meta["class_names"]), meta["split"],
                   cfg.data.dataset, cfg.data.protocol, model, checkpoint, semantic, weights=weights)


def read_teacher(spec) -> Teacher:
    """A teacher from its config entry (``run``, or ``folds`` of one config: see :class:`TeacherConfig`)."""
    if spec.folds is None:
        return read_teacher_run(spec.run, spec.checkpoint, spec.name, spec.config)
    folds = [read_teacher_run(run, spec.checkpoint, config=spec.config) for run in spec.folds]
    first = folds[0]
    for fold in folds[1:]:
        for what, a, b in (("model", first.model_cfg, fold.model_cfg), ("transforms", first.transforms, fold.transforms),
                           ("classes", first.class_names, fold.class_names), ("dataset", first.dataset, fold.dataset)):
            if a != b:
                raise ConfigError(f"teacher folds {first.run_dir} and {fold.run_dir} differ in {what}; "
                                  "folds must be runs of one config")
    return replace(first, name=spec.name or first.name, folds=folds)


def training_command(run_dir: Path, declared: str | None = None) -> str | None:
    """The command that trains (or resumes) the teacher run ``run_dir``, when its config can be known:
    the run's own config.yaml (a started run), the teacher entry's ``config``, else the config under
    :data:`CONFIGS` whose ``name`` and ``output_dir`` give ``run_dir`` (None when there is none)."""
    own = run_dir / "config.yaml"
    config, seed = (own, None) if own.is_file() else (Path(declared), None) if declared else _config_and_seed(run_dir)
    if config is None:
        return None
    try:
        data = yaml.safe_load(config.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None
    kinds = [k for k in list_recipes() if get_recipe(k).keys and all(key in (data or {}) for key in get_recipe(k).keys)]
    test = " --select-on-test" if run_dir.name.endswith(SELECT_ON_TEST_SUFFIX) else ""
    seed = f" --set seed={seed}" if seed is not None else ""
    return f"harkd {kinds[0] if kinds else 'train'} {config}{seed} --run-dir {run_dir}{test}"


def config_writing(run_dir: Path) -> Path | None:
    """The first config under :data:`CONFIGS` whose default run directory (``output_dir/name``) is ``run_dir``,
    else the one whose default run directory plus ``_s<seed>`` is (a teacher of another seed, as an ensemble of
    teacher seeds names them)."""
    return _config_and_seed(run_dir)[0]


def _config_and_seed(run_dir: Path) -> tuple[Path | None, str | None]:
    """:func:`config_writing`'s config and the seed the run directory's ``_s<seed>`` suffix adds (None without)."""
    found = _config_named(run_dir)
    base, _, seed = run_dir.name.removesuffix(SELECT_ON_TEST_SUFFIX).rpartition("_s")
    if found is None and base and seed.isdigit():
        seeded = _config_named(run_dir.parent / base)
        if seeded is not None:
            return seeded, seed
    return found, None


def _config_named(run_dir: Path) -> Path | None:
    name = run_dir.name.removesuffix(SELECT_ON_TEST_SUFFIX)
    default_output = {f.name: f.default for f in dataclasses.fields(ExperimentConfig)}["output_dir"]
    target = run_dir.parent.resolve() / name
    for path in sorted(CONFIGS.rglob("*.yaml")) if CONFIGS.is_dir() else ():
        try:
            text = path.read_text()
            data = yaml.safe_load(text) if name in text else None
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if (isinstance(data, dict) and data.get("name") == name
                and Path(str(data.get("output_dir") or default_output)).resolve() / name == target):
            return path
    return None


def warn_near_chance(report: dict, labels: list[int]) -> None:
    """One warning per teacher of ``report`` (``teachers.json``) whose accuracy on the recordings it
    teaches (``labels``) is near chance: that of always answering their most frequent class."""
    if not labels:
        return
    chance = max(Counter(labels).values()) / len(labels)
    for entry in report["teachers"]:
        accuracy = entry.get("accuracy")
        if accuracy is not None and accuracy < chance + NEAR_CHANCE * (1 - chance):
            warn(f"teacher {entry['run']} is near chance on the {entry['recordings']} training recordings it teaches: "
                 f"accuracy {accuracy:.1%}, and always answering the most frequent class scores {chance:.1%}; "
                 f"its soft targets carry little knowledge: check how it trained ({Path(entry['run']) / 'metrics.jsonl'})")


def out_of_fold_outputs(teacher: Teacher, names: list[str], keys, batch_size: int = 64,
                        indexes: dict | None = None) -> dict[str, dict]:
    """Cross-fitted outputs: for every recording of ``keys``, the ``names`` features of the first fold that
    held it out (its validation split), computed with that fold's own preprocessing and statistics.
    The dataset is scanned once for all folds (``indexes``: scans already made, e.g. the student's)."""
    from torch.utils.data import DataLoader, Subset

    from harkd.engine.devices import module_device, to_device
    from harkd.engine.runs import load_run
    from harkd.engine.tasks import model_input

    owner = {}
    for n, fold in enumerate(teacher.folds):
        for key in fold.split.get("val", []):
            owner.setdefault(key, n)
    missing = [k for k in keys if k not in owner]
    if missing:
        raise ConfigError(f"teacher folds {', '.join(str(f.run_dir) for f in teacher.folds)}: {len(missing)} "
                          f"training recordings are held out by no fold (e.g. {missing[0]}); train the folds "
                          "with data.val_subjects that together cover every training subject")
    outputs: dict[str, dict] = {}
    indexes = {} if indexes is None else indexes
    for n, fold in enumerate(teacher.folds):
        wanted = {k for k in keys if owner[k] == n}
        if not wanted:
            continue
        _, _, task, prepared = load_run(fold.run_dir, fold.checkpoint, indexes=indexes)
        val = prepared.datasets["val"]
        rows = [i for i, k in enumerate(val.keys) if k in wanted]
        with torch.no_grad():
            for batch in DataLoader(Subset(val, rows), batch_size=batch_size):
                batch = to_device(batch, module_device(task))
                feats = task.model.forward_intermediates(model_input(batch, fold.input), list(names))
                for i, key in enumerate(batch["key"]):
                    outputs[key] = {name: value[i].detach().cpu() for name, value in feats.items()}
    lost = sorted(set(keys) - set(outputs))
    if lost:
        raise ConfigError(f"teacher fold runs could not load {len(lost)} of their held-out recordings "
                          f"(e.g. {lost[0]})")
    return outputs


def load_teacher(teacher: Teacher, sample: dict) -> Teacher:
    """Build ``teacher``'s model for a prepared ``sample`` (all modalities), load its weights, freeze it."""
    from harkd.engine.builders import build_model

    if teacher.model_cfg is None:  # a module teacher: the module itself was saved
        model = torch.load(teacher.run_dir / MODULE_FILE, map_location="cpu", weights_only=False)
    else:
        path = teacher.run_dir / f"{teacher.checkpoint}.pt"
        model = build_model(teacher.model_cfg, sample, len(teacher.class_names))
        state = {k.removeprefix(teacher.weights): v for k, v in load_checkpoint(path)["task"].items()
                 if k.startswith(teacher.weights)}
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
    """A teacher must share the student's dataset and classes and never have trained on its test split
    (a module teacher records neither: whoever passes it vouches for both)."""
    if teacher.model_cfg is None:
        return
    if teacher.dataset != dataset:
        raise ConfigError(f"teacher {teacher.run_dir} was trained on '{teacher.dataset}', the student on '{dataset}'")
    if teacher.class_names != list(class_names):
        raise ConfigError(f"teacher {teacher.run_dir} has {len(teacher.class_names)} classes that differ from the "
                          f"student's {len(class_names)}")
    for run in teacher.folds or [teacher]:
        seen = set(run.split.get("train", [])) | set(run.split.get("val", []))
        leaked = sorted(seen & set(split.test))
        if leaked:
            raise ConfigError(f"teacher {run.run_dir} trained or selected on {len(leaked)} of the student's test "
                              f"recordings (e.g. {leaked[0]}); train the teacher with the same protocol")
