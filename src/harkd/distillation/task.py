"""DistillTask: frozen teachers and a student on the SAME paired batch, a weighted sum of terms.

Every batch holds, for each recording, the student's input and every teacher's input
(a :class:`~harkd.data.PairedDataset` sample), so teacher sample i and student sample
i are the same recording - never two independently shuffled loaders.

A loss that needs more than its inputs and the declared context (GSDM's ablation
weights: :class:`~harkd.losses.sakdn.GSDMLoss`) computes it itself through an optional hook, so the task
holds no method-specific code:

- ``extra_teacher_keys``: teacher features (per branch prefix) the hook reads besides
  the term's own teacher keys;
- ``bind(setup)``: called once with a :class:`TermSetup` (the term's sources, which
  teachers only have stored outputs, the class-name embeddings); raises ConfigError;
- ``prepare(ctx, sources)``: called every batch with the :class:`BatchContext` and the
  term's sources; returns extra ``forward`` keywords. A keyword named in the loss's
  ``per_teacher_keys`` holds one value per source; a single-teacher loss gets its own.

A recording without a teacher's modality (``data.teacher_missing: student_only``: its sample has
``present_<modality>`` False) is taught by no term but the student's own (a loss with ``reads_teacher``
False, such as ``ce``, which sees every row): the distillation terms see only the
batch rows where every teacher's modality is present (:meth:`DistillTask.taught`), so each averages
over those rows, and a batch without any contributes 0 to them. The teachers run (or are looked up
in the cache) on those rows only.

The context offers zero-input passes (:meth:`DistillTask.zero_logits`): run separately
from the real batch, in eval mode and without gradients, so they neither update
BatchNorm running statistics nor share batch statistics with real samples. In eval
mode a model's output is per sample, so one all-zero sample of the input's shape is
run (broadcast over the batch by the caller); the frozen teachers' are computed once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import torch
from torch import nn

from harkd.data.dataset import present_key
from harkd.engine.mixup import MIX_LAMBDA, mixed_loss
from harkd.engine.tasks import Task, model_input
from harkd.errors import ConfigError
from harkd.losses import DistillLoss

__all__ = ["BatchContext", "LossTerm", "DistillTask", "TeacherOutputCache", "TermSetup", "ensemble_logits"]


@dataclass
class LossTerm:
    """One weighted term: ``weight * loss(student[student_keys], teacher_t[teacher_keys])``.

    A ``loss`` that reads no teacher (``reads_teacher`` False, e.g. ``ce``) has no teacher keys.
    ``teachers`` lists the teacher indices the term is averaged over; ``branches`` (one
    entry per teacher, default ``("",)``) the feature-name prefixes of the branches it
    reads (``("acc.", "gyro.")`` for every branch of a multi-branch teacher).
    """

    name: str
    loss: DistillLoss
    weight: float
    student_keys: tuple[str, ...]
    teacher_keys: tuple[str, ...]
    teachers: tuple[int, ...]
    multi_layer: bool = False
    branches: tuple[tuple[str, ...], ...] = ()
    #: ``ensemble: true``: the term's teachers act as ONE teacher whose logits are
    #: ``T * log(mean_i softmax(z_i / T))`` at this temperature ``T`` (None: no ensemble)
    ensemble_temperature: float | None = None
    #: the term's weight at the last epoch, reached linearly from ``weight`` at the first (None: constant)
    weight_end: float | None = None

    def weight_at(self, progress: float) -> float:
        """The term's weight when ``progress`` (0 at the first epoch, 1 at the last) of the schedule is done."""
        return self.weight if self.weight_end is None else self.weight + (self.weight_end - self.weight) * progress

    def sources(self) -> list[tuple[int, str]]:
        """(teacher index, feature prefix) pairs the term is averaged over (one per teacher branch)."""
        branches = self.branches or (("",),) * len(self.teachers)
        return [(i, prefix) for i, prefixes in zip(self.teachers, branches) for prefix in prefixes]

    def context_keys(self) -> tuple[str, ...]:
        return tuple(self.loss.context_keys)

    def extra_teacher_keys(self) -> tuple[str, ...]:
        """Teacher features the loss's ``prepare`` hook reads from every source."""
        return tuple(self.loss.extra_teacher_keys)


@dataclass(frozen=True)
class TermSetup:
    """What a loss's ``bind`` hook is told once, when the task is built."""

    sources: list[tuple[int, str]]  #: (teacher index, feature prefix) pairs of the term
    stored: list[bool]  #: per teacher: only stored (cross-fitted) outputs, its model never runs
    class_embeddings: torch.Tensor | None  #: (C, D) class-name embeddings, if the run has them


class BatchContext:
    """What a loss's ``prepare`` hook sees for one batch: the batch, the student's and the
    teachers' features, the class-name embeddings and zero-input passes."""

    def __init__(self, task: "DistillTask", batch: Mapping, student: Mapping, teachers: list[dict]):
        self.task, self.batch, self.student, self.teachers = task, batch, student, teachers
        self.class_embeddings = task.class_embeddings
        self._student_zero: dict[tuple[str, ...], dict[str, torch.Tensor]] = {}

    def student_zero(self, names: Sequence[str] = ("logits",)) -> dict[str, torch.Tensor]:
        """The student's ``names`` (1, ...) on one all-zero sample (once per batch)."""
        key = tuple(names)
        if key not in self._student_zero:
            x = model_input(self.batch, self.task.student_input)
            self._student_zero[key] = self.task.zero_logits(self.task.student, x, key)
        return self._student_zero[key]

    def teacher_zero(self, teacher: int, name: str) -> torch.Tensor:
        """Teacher ``teacher``'s feature ``name`` (1, ...) on one all-zero sample (frozen: once per run)."""
        cache = self.task._zero_features
        if (teacher, name) not in cache:
            x = model_input(self.batch, self.task.teacher_inputs[teacher])
            cache[(teacher, name)] = self.task.zero_logits(self.task.teachers[teacher], x, [name])[name]
        return cache[(teacher, name)]


class TeacherOutputCache:
    """Teacher features per recording key, kept when the teacher's input is deterministic.

    Teachers are frozen and in eval mode, so with no random augmentation of their input
    their features for a recording never change: compute once, reuse every epoch.
    """

    def __init__(self):
        self.store: dict[tuple[int, str], dict[str, torch.Tensor]] = {}
        self.hits = self.misses = 0

    def lookup(self, teacher: int, keys: Sequence[str]) -> dict[str, torch.Tensor] | None:
        rows = [self.store.get((teacher, k)) for k in keys]
        if any(r is None for r in rows):
            self.misses += len(keys)
            return None
        self.hits += len(keys)
        return {name: torch.stack([r[name] for r in rows]) for name in rows[0]}

    def insert(self, teacher: int, keys: Sequence[str], features: Mapping[str, torch.Tensor]) -> None:
        for i, key in enumerate(keys):
            self.store[(teacher, key)] = {name: value[i].detach().cpu() for name, value in features.items()}

    def preload(self, teacher: int, rows: Mapping[str, Mapping[str, torch.Tensor]]) -> None:
        """Store per-recording features computed elsewhere (a cross-fitted teacher's out-of-fold outputs)."""
        for key, features in rows.items():
            self.store[(teacher, key)] = dict(features)


class DistillTask(Task):
    """Student + frozen teachers + loss terms.

    Teachers are kept out of ``state_dict`` and ``parameters()`` (checkpoints hold the
    student and the learned parts of the losses, such as FitNet regressors and CRD
    memory banks); they follow ``.to(device)`` and always stay in eval mode.
    """

    find_unused_parameters = True  # a term may leave an adapter unused for a batch

    def __init__(self, student: nn.Module, student_input, teachers: Sequence[nn.Module],
                 teacher_inputs: Sequence, terms: Sequence[LossTerm], cacheable: Sequence[bool] = (),
                 class_embeddings: torch.Tensor | None = None, stored: Sequence[bool] = ()):
        super().__init__()
        self.student = student
        self.student_input = student_input
        self._teachers = list(teachers)
        self.teacher_inputs = list(teacher_inputs)
        #: every modality some teacher reads: a batch row is taught when all of them are present
        self.teacher_modalities = sorted({m for key in self.teacher_inputs
                                          for m in ([key] if isinstance(key, str) else key)})
        self.terms = list(terms)
        self.progress = 0.0  # the fraction of the schedule done (set_progress): the terms' weight_end follow it
        self.losses = nn.ModuleDict({t.name: t.loss for t in self.terms})
        self.cacheable = list(cacheable) or [False] * len(self._teachers)
        # stored: a cross-fitted teacher's outputs are put in the cache up front; its model is never run
        self.stored = list(stored) or [False] * len(self._teachers)
        self.cache = TeacherOutputCache()
        self.student_features = sorted({k for t in self.terms for k in t.student_keys} | {"logits"},
                                       key=_feature_order(student))
        self.register_buffer("class_embeddings", class_embeddings, persistent=False)
        for term in self.terms:
            term.loss.bind(TermSetup(term.sources(), self.stored, class_embeddings))
        self._zero_features: dict[tuple[int, str], torch.Tensor] = {}  # frozen teachers' features on a zero input
        self.teacher_features = [
            sorted({p + k for t in self.terms for j, p in t.sources() if j == i
                    for k in t.teacher_keys + t.extra_teacher_keys()}, key=_feature_order(teacher))
            for i, teacher in enumerate(self._teachers)
        ]
        for i, (teacher, names) in enumerate(zip(self._teachers, self.teacher_features)):
            missing = [n for n in names if n not in teacher.feature_names]
            if missing:
                raise ConfigError(f"teacher {i} has no feature {missing[0]!r} (features: {', '.join(teacher.feature_names)})")
        missing = [n for n in self.student_features if n not in student.feature_names]
        if missing:
            raise ConfigError(f"the student has no feature {missing[0]!r} (features: {', '.join(student.feature_names)})")

    @property
    def teachers(self) -> list[nn.Module]:
        return self._teachers

    def _apply(self, fn, *args, **kwargs):
        super()._apply(fn, *args, **kwargs)
        for teacher in self._teachers:
            teacher._apply(fn, *args, **kwargs)
        return self

    def train(self, mode: bool = True):
        super().train(mode)
        for teacher in self._teachers:
            teacher.eval()
        return self

    @torch.no_grad()
    def teacher_outputs(self, batch: Mapping) -> list[dict[str, torch.Tensor]]:
        """Each teacher's requested features for the batch (from the cache where allowed)."""
        outputs = []
        keys = batch.get("key")
        for i, teacher in enumerate(self._teachers):
            names = self.teacher_features[i]
            if not names:
                outputs.append({})
                continue
            # a mixed batch (train.mixup) is no set of recordings: its teachers always run
            use_cache = (self.cacheable[i] or self.stored[i]) and keys is not None and MIX_LAMBDA not in batch
            feats = self.cache.lookup(i, keys) if use_cache else None
            if feats is None and self.stored[i]:
                absent = [k for k in (keys or ["?"]) if (i, k) not in self.cache.store]
                raise ConfigError(f"teacher {i} is cross-fitted ('folds') and has no stored output for recording "
                                  f"{absent[0]}: only the student's training recordings are taught")
            if feats is None:
                feats = teacher.forward_intermediates(model_input(batch, self.teacher_inputs[i]), names)
                if use_cache:
                    self.cache.insert(i, keys, feats)
            device = batch["label"].device
            outputs.append({k: v.to(device) for k, v in feats.items()})
        return outputs

    @torch.no_grad()
    def zero_logits(self, model: nn.Module, x, names: Sequence[str] = ("logits",)) -> dict[str, torch.Tensor]:
        """``model``'s ``names`` features (1, C) on ONE all-zero sample shaped like ``x``'s.

        Run in eval mode without gradients (the mode is restored): BatchNorm running
        statistics are not updated and no batch statistics mix with the real batch.
        """
        was_training = model.training
        model.eval()
        try:
            zeros = ({k: torch.zeros_like(v[:1]) for k, v in x.items()} if isinstance(x, Mapping)
                     else torch.zeros_like(x[:1]))
            return model.forward_intermediates(zeros, list(names))
        finally:
            model.train(was_training)

    def taught(self, batch: Mapping) -> torch.Tensor | None:
        """The (B,) mask of the batch rows every teacher can teach (each teacher modality's ``present_<m>``
        flag set), or None when that is every row (a batch without flags: every modality was recorded)."""
        flags = [torch.as_tensor(batch[present_key(m)], dtype=torch.bool) for m in self.teacher_modalities
                 if present_key(m) in batch]
        if not flags:
            return None
        mask = torch.stack(flags).all(0)
        return None if bool(mask.all()) else mask

    def forward(self, batch: Mapping) -> dict[str, torch.Tensor]:
        student = self.student.forward_intermediates(model_input(batch, self.student_input), self.student_features)
        mask = self.taught(batch)
        taught, taught_student = batch, student
        if mask is not None:  # the distillation terms see the taught rows only
            size = len(batch["label"])
            taught = {k: _rows(v, mask, size) for k, v in batch.items()}
            taught_student = {k: _rows(v, mask, size) for k, v in student.items()}
        teachers = self.teacher_outputs(taught) if len(taught["label"]) else None
        context = {"labels": taught["label"], "index": taught.get("index"), "batch": taught,
                   "hooks": BatchContext(self, taught, taught_student, teachers)}
        out: dict[str, torch.Tensor] = {}
        total = student["logits"].new_zeros(())
        for term in self.terms:
            if not term.loss.reads_teacher:  # the student's own term: every row, a mixed batch's both labels
                value = mixed_loss(term.loss, _select(student, term.student_keys, term.multi_layer), batch)
            elif teachers is None:  # no row to teach
                value = student["logits"].new_zeros(())
            else:
                value = self._term(term, taught_student, teachers, context)
            out[term.name] = value.detach()
            total = total + term.weight_at(self.progress) * value
        out["loss"] = total
        return out

    def set_progress(self, fraction: float) -> None:
        self.progress = float(fraction)

    def _term(self, term: LossTerm, student: dict, teachers: list[dict], context: dict) -> torch.Tensor:
        s = _select(student, term.student_keys, term.multi_layer)
        sources = term.sources()
        inputs = [_select(teachers[i], tuple(p + k for k in term.teacher_keys), term.multi_layer) for i, p in sources]
        if term.ensemble_temperature is not None:
            inputs = [ensemble_logits(inputs, term.ensemble_temperature)]
        prepared = term.loss.prepare(context["hooks"], sources)
        kwargs = {k: prepared[k] if k in prepared else context[k] for k in term.context_keys()}
        if term.loss.multi_teacher:
            return term.loss(s, inputs, **kwargs)
        per_teacher = set(term.loss.per_teacher_keys) & set(kwargs)
        values = [term.loss(s, t, **{k: v[n] if k in per_teacher else v for k, v in kwargs.items()})
                  for n, t in enumerate(inputs)]
        return torch.stack(values).mean()

    def predict(self, batch: Mapping) -> torch.Tensor:
        return self.student(model_input(batch, self.student_input))

    @torch.no_grad()
    def teacher_calibration(self, batches, temperatures: Sequence[float]) -> list[dict]:
        """Per teacher, over the taught rows of ``batches`` (the recordings it teaches): accuracy, mean p(true) and mean
        entropy (nats) of ``softmax(logits / T)`` at its ``temperatures[i]``.

        The logits are the ones training uses (:meth:`teacher_outputs`: cached teachers store
        them here, so the first epoch reuses them); a teacher whose terms read no logits is run
        for them, except a cross-fitted one, whose entry then says so.
        """
        rows = [{"recordings": 0, "correct": 0.0, "p_true": 0.0, "entropy": 0.0} for _ in self._teachers]
        for batch in batches:
            mask = self.taught(batch)
            if mask is not None:
                batch = {k: _rows(v, mask, len(batch["label"])) for k, v in batch.items()}
                if not len(batch["label"]):
                    continue
            outputs = self.teacher_outputs(batch)
            labels = batch["label"]
            for i, teacher in enumerate(self._teachers):
                logits = outputs[i].get("logits")
                if logits is None and self.stored[i]:
                    continue
                if logits is None:
                    logits = teacher.forward_intermediates(model_input(batch, self.teacher_inputs[i]), ["logits"])["logits"]
                probs = torch.softmax(logits.float() / temperatures[i], dim=1)
                row = rows[i]
                row["recordings"] += len(labels)
                row["correct"] += (logits.argmax(1) == labels).sum().item()
                row["p_true"] += probs.gather(1, labels[:, None]).sum().item()
                row["entropy"] += -(probs * probs.clamp_min(1e-12).log()).sum().item()
        out = []
        for i, row in enumerate(rows):
            n = row["recordings"]
            if n == 0:
                out.append({"temperature": temperatures[i], "recordings": 0,
                            "note": "cross-fitted teacher: no stored logits (no term reads them)"})
                continue
            out.append({"temperature": temperatures[i], "recordings": n, "accuracy": row["correct"] / n,
                        "mean_p_true": row["p_true"] / n, "mean_entropy": row["entropy"] / n})
        return out


def ensemble_logits(logits: Sequence[torch.Tensor], temperature: float) -> torch.Tensor:
    """Logits of the teachers' averaged distribution at ``temperature``: ``T * log(mean_i softmax(z_i / T))``,
    so that ``softmax(. / T)`` of the result is exactly ``mean_i softmax(z_i / T)``."""
    probs = torch.stack([torch.softmax(z.float() / temperature, dim=1) for z in logits]).mean(0)
    return temperature * probs.clamp_min(1e-30).log()


def _rows(value, mask: torch.Tensor, size: int):
    """The rows of a batch entry or feature that ``mask`` keeps: a tensor's first axis holds the ``size``
    samples (or ``size * S`` frames of a video model, sample-major); a list of keys is filtered; other
    values (a mixing weight, None) stay."""
    if torch.is_tensor(value) and value.dim() and value.shape[0] and value.shape[0] % size == 0:
        per = value.shape[0] // size
        if per == 1:
            return value[mask]
        return value.reshape(size, per, *value.shape[1:])[mask].reshape(-1, *value.shape[1:])
    if isinstance(value, (list, tuple)) and len(value) == size:
        return [v for v, keep in zip(value, mask.tolist()) if keep]
    return value


def _select(features: Mapping[str, torch.Tensor], keys: tuple[str, ...], multi: bool):
    return [features[k] for k in keys] if multi else features[keys[0]]


def _feature_order(model: nn.Module):
    order = {name: i for i, name in enumerate(model.feature_names)}
    return lambda name: order.get(name, len(order))
