"""SAKDN (sensor-to-vision KD, IEEE TIP 2021): its registered distillation losses.

Paper: Y. Liu, K. Wang, G. Li, L. Lin, "Semantics-aware Adaptive Knowledge Distillation for Sensor-to-Vision
Action Recognition", IEEE TIP 30, 2021 (the formulas: each loss class's docstring). SAKDN's other rooms: the fusion module (SPAMFM) is
:mod:`harkd.models.spamfm`; the class-name embeddings and the teacher's semantic
training (:func:`~harkd.semantic.class_embedding_loss`) are :mod:`harkd.semantic`.

- :class:`SemanticLoss` (``"semantic"``): student embedding vs each teacher branch's
  (fused FC7) embedding, averaged over branches (3.3, ``L_sem``).
- GSDM (3.3), made differentiable: :func:`ablation_weights`, :func:`activation_map`
  and :class:`GSDMLoss` (``"gsdm"``), which computes its own ablation weights through
  the distillation task's ``prepare`` hook (:meth:`GSDMLoss.prepare`).
"""

from __future__ import annotations

from typing import List, Optional

import torch
import torch.nn.functional as F

from harkd.checks import check_choice, check_number
from harkd.errors import ConfigError, InputError
from harkd.losses.kit import as_tensor_list, check_tensor, safe_norm, signed_guard
from harkd.losses.kit import distance as _distance
from harkd.losses.registry import DistillLoss, register_loss

__all__ = ["SemanticLoss", "ablation_weights", "activation_map", "GSDMLoss"]

DISTANCES = ("mse", "l1")


# ----------------------------------------------------------------------------- semantic
@register_loss("semantic")
class SemanticLoss(DistillLoss):
    """``mean_m dist(student, teacher_m)`` with ``dist`` = MSE (default) or L1.

    ``teacher`` is one (B, D) tensor or a list of M (B, D) tensors (one per teacher
    branch); every teacher tensor is detached. Returns a scalar.

    Hyper-parameters: ``distance`` = ``"mse"`` (mean squared error over D) or ``"l1"`` (mean absolute error).
    """

    input_kind = "embedding"

    def __init__(self, distance: str = "mse", **shapes):
        super().__init__(**shapes)
        self.distance = check_choice("semantic: distance", distance, DISTANCES)

    def forward(self, student: torch.Tensor, teacher, **context) -> torch.Tensor:
        check_tensor("semantic", "student", student, 2)
        teachers = as_tensor_list("semantic", "teacher", teacher)
        losses = []
        for m, t in enumerate(teachers):
            name = "teacher" if len(teachers) == 1 else f"teacher[{m}]"
            check_tensor("semantic", name, t, 2)
            if t.shape != student.shape:
                raise InputError(f"semantic: {name} shape {tuple(t.shape)} differs from student shape "
                                 f"{tuple(student.shape)}")
            losses.append(_distance(student, t.detach(), self.distance))
        return torch.stack(losses).mean()


# ----------------------------------------------------------------------------- GSDM
def _normalized_graph(logits: torch.Tensor) -> torch.Tensor:
    """S = D^-1/2 W D^-1/2 with W_ij = exp(-||z_i - z_j||^2 / (2C)) over the batch logits."""
    num_classes = logits.shape[1]
    sq = (logits.unsqueeze(1) - logits.unsqueeze(0)).pow(2).sum(-1)
    w = torch.exp(-sq / (2.0 * num_classes))
    d = w.sum(1).rsqrt()  # row sums >= 1 (the diagonal is exp(0) = 1): no division by zero
    return d.unsqueeze(1) * w * d.unsqueeze(0)


def ablation_weights(logits: torch.Tensor, logits_zero: torch.Tensor, class_embeddings: torch.Tensor,
                     eps: float = 1e-3) -> torch.Tensor:
    """GSDM's per-sample ablation weight ``w`` (B,).

    ``logits``: (B, C) on the real input; ``logits_zero``: (B, C) on an all-zero input
    of the same shape; ``class_embeddings``: (C, D). With E / E~ the embeddings of the
    predicted classes (argmax) on the real / zero input,
    ``W_ij = exp(-||z_i - z_j||^2 / (2C))`` over each batch's logits,
    ``S = D^-1/2 W D^-1/2``, ``P = S E``, ``P~ = S~ E~``::

        w = mean_d ReLU((P - P~) / guard(P))

    ``guard`` pushes components with ``|P| < eps`` to ``+-eps`` keeping their sign (0
    counts as +): the reference divided by near-zero embedding components, which blew
    single dimensions up to dominate the mean. The default ``eps = 1e-3`` is small
    against word-vector components (order 0.01..1). The result is always finite.

    Gradient: the argmax is piecewise constant, so a gradient can only reach the logits
    through the graph ``S``; :class:`GSDMLoss` detaches the weights (recommended).

    The zero-input pass is the caller's: run it separately (model in eval mode, under
    ``torch.no_grad()``) so it neither pollutes BatchNorm running statistics nor
    shares a batch with the real input.
    """
    check_tensor("ablation_weights", "logits", logits, 2)
    check_tensor("ablation_weights", "logits_zero", logits_zero, 2)
    check_tensor("ablation_weights", "class_embeddings", class_embeddings, 2)
    if logits_zero.shape != logits.shape:
        raise InputError(f"ablation_weights: logits_zero shape {tuple(logits_zero.shape)} differs from logits "
                         f"shape {tuple(logits.shape)}")
    if class_embeddings.shape[0] != logits.shape[1]:
        raise InputError(f"ablation_weights: class_embeddings has {class_embeddings.shape[0]} rows but the logits "
                         f"have {logits.shape[1]} classes")
    check_number("ablation_weights: eps", eps, positive=True)
    emb = class_embeddings.detach().to(logits.dtype)
    p = _normalized_graph(logits) @ emb[logits.argmax(1)]
    p_zero = _normalized_graph(logits_zero) @ emb[logits_zero.argmax(1)]
    return F.relu((p - p_zero) / signed_guard(p, eps)).mean(1)


def _check_weights(where: str, name: str, weights, batch: int) -> Optional[torch.Tensor]:
    if weights is None:
        return None
    if not isinstance(weights, torch.Tensor) or weights.dim() != 1 or weights.shape[0] != batch:
        shape = tuple(weights.shape) if isinstance(weights, torch.Tensor) else type(weights).__name__
        raise InputError(f"{where}: {name} must have shape ({batch},), got {shape}")
    return weights


def activation_map(feature: torch.Tensor, weights: Optional[torch.Tensor] = None, num_segments: int = 1,
                   normalize: bool = True) -> torch.Tensor:
    """GSDM activation map ``A = ReLU(w * sum_c F)``, l2-normalised PER SAMPLE.

    ``feature``: (N, C, *spatial) with 1 to 3 spatial dims; N = B, or N = B * S video
    frames (sample-major, segment index fastest, as the models' heads assume) when
    ``num_segments`` = S > 1 - the per-frame maps are then averaged over the S
    segments. ``weights``: (B,) per-sample weights (None = 1). Returns (B, *spatial).
    Normalisation divides each sample's map by its own l2 norm over the spatial
    positions (an all-zero map stays zero); nothing mixes samples.

    Note: for a weight w > 0, ``ReLU(w * s) = w * ReLU(s)`` and the per-sample
    normalisation removes w again; a weight therefore only acts as a gate (w = 0 gives
    an all-zero map). See :class:`GSDMLoss` ``weighting="loss"`` for a variant in
    which the weights keep an effect.
    """
    check_tensor("activation_map", "feature", feature, (3, 4, 5))
    if isinstance(num_segments, bool) or not isinstance(num_segments, int) or num_segments < 1:
        raise InputError(f"activation_map: num_segments must be an integer >= 1, got {num_segments!r}")
    if feature.shape[0] % num_segments:
        raise InputError(f"activation_map: {feature.shape[0]} frames are not a multiple of num_segments = "
                         f"{num_segments}")
    batch = feature.shape[0] // num_segments
    weights = _check_weights("activation_map", "weights", weights, batch)
    s = feature.sum(1)  # (N, *spatial)
    if weights is not None:
        w = weights.to(s.dtype).repeat_interleave(num_segments)
        s = w.view(-1, *([1] * (s.dim() - 1))) * s
    a = F.relu(s)
    if num_segments > 1:
        a = a.reshape(batch, num_segments, *a.shape[1:]).mean(1)
    return _normalize_per_sample(a) if normalize else a


def _normalize_per_sample(a: torch.Tensor) -> torch.Tensor:
    n = safe_norm(a.flatten(1), dim=1)
    n = torch.where(n > 0, n, torch.ones_like(n))
    return a / n.view(-1, *([1] * (a.dim() - 1)))


_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}


def _resize(a: torch.Tensor, size) -> torch.Tensor:
    """Resize (B, *spatial) maps to ``size`` by interpolation, one sample at a time in effect."""
    if tuple(a.shape[1:]) == tuple(size):
        return a
    return F.interpolate(a.unsqueeze(1), size=tuple(size), mode=_MODES[len(size)], align_corners=False).squeeze(1)


@register_loss("gsdm")
class GSDMLoss(DistillLoss):
    """GSDM map matching between student layers and M teachers' matched layers.

    ``forward(student, teacher, student_weights=None, teacher_weights=None)``:

    - ``student``: list of L feature maps (N_s, C_l, *spatial_l), differentiable;
    - ``teacher``: list of L maps (one teacher) or a list of M such lists; detached;
    - ``student_weights``: (B,) ablation weights of the student (or None = 1);
    - ``teacher_weights``: (B,) for one teacher, or a list of M (B,) (or None).

    Both weights are detached: argmax-based weights carry no useful gradient, and
    the gradient goes through the student's maps. For each layer pair and teacher,
    ``A = activation_map(F, w)``; the teacher map is resized to the student's spatial
    size with ``F.interpolate`` (bilinear for 2-D maps; never a buffer reshape) and
    both are l2-normalised per sample; the loss is ``MSE(A_s, A_t)`` averaged over
    positions, samples, the L layer pairs and the M teachers.

    ``weighting``:

    - ``"map"`` (default, the paper's formula): weights enter ``ReLU(w * sum_c F)``.
      With per-sample normalisation a positive weight cancels; only w = 0 matters
      (the map becomes zero).
    - ``"loss"``: maps are built without weights and each sample's error is weighted
      by the teacher's ablation weight, ``sum_b w_b l_b / sum_b w_b`` (averaged over
      teachers; 0 when all weights are 0) - the per-sample equivalent of the
      reference's emphasis on samples with large weights, which came from
      normalising over the whole batch. ``student_weights`` are not used in this mode.

    ``student_segments`` / ``teacher_segments``: S when the model's features hold
    B * S video frames (averaged over segments). The zero-input pass for the weights
    must run separately from the real batch (see :func:`ablation_weights`).
    :meth:`per_sample` returns the (B,) per-sample losses (unweighted mean over
    layers and teachers).

    In a distillation task the weights come from the loss's own hooks (see
    :mod:`harkd.distillation.task`): :meth:`bind` checks the task can give them and
    :meth:`prepare` computes them for each batch.
    """

    input_kind = "feature_maps"
    extra_teacher_keys = ("logits",)  # each source's logits, for its ablation weights
    per_teacher_keys = ("teacher_weights",)
    context_args = ("student_segments", "teacher_segments")  # video stages hold B * S frames

    def __init__(self, weighting: str = "map", student_segments: int = 1, teacher_segments: int = 1, **shapes):
        super().__init__(**shapes)
        self.weighting = check_choice("gsdm: weighting", weighting, ("map", "loss"))
        # what a distillation task must compute for it (the zero-input passes, see ablation_weights)
        self.context_keys = ("student_weights", "teacher_weights") if weighting == "map" else ("teacher_weights",)
        for name, value in (("student_segments", student_segments), ("teacher_segments", teacher_segments)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"gsdm: {name} must be an integer >= 1, got {value!r}")
        self.student_segments = student_segments
        self.teacher_segments = teacher_segments

    # -- distillation-task hooks
    def bind(self, setup) -> None:
        """The task must have class-name embeddings and run every source teacher on a zero input."""
        if setup.class_embeddings is None:
            raise ConfigError("a loss term needs GSDM ablation weights but no class-name embeddings were given")
        if any(setup.stored[i] for i, _ in setup.sources):
            raise ConfigError("GSDM's ablation weights run the teacher on a zero input; a cross-fitted ('folds') "
                              "teacher only has stored outputs: give that teacher as 'run'")

    def prepare(self, ctx, sources) -> dict:
        """The batch's ablation weights: ``teacher_weights`` (one (B,) per source) and, for
        ``weighting="map"``, ``student_weights`` (B,), from the real and the zero-input logits."""
        emb = ctx.class_embeddings
        out = {}
        if "student_weights" in self.context_keys:
            logits = ctx.student["logits"].detach()
            zero = ctx.student_zero(["logits"])["logits"]
            out["student_weights"] = ablation_weights(logits, zero.expand_as(logits), emb)
        weights = []
        for i, prefix in sources:
            logits = ctx.teachers[i][prefix + "logits"]
            zero = ctx.teacher_zero(i, prefix + "logits").to(logits.device).expand_as(logits)
            weights.append(ablation_weights(logits, zero, emb))
        out["teacher_weights"] = weights
        return out

    # -- input handling
    def _teachers(self, teacher) -> List[List[torch.Tensor]]:
        if isinstance(teacher, (list, tuple)) and teacher and all(isinstance(t, torch.Tensor) for t in teacher):
            return [list(teacher)]
        if (isinstance(teacher, (list, tuple)) and teacher
                and all(isinstance(t, (list, tuple)) and t and all(isinstance(x, torch.Tensor) for x in t)
                        for t in teacher)):
            return [list(t) for t in teacher]
        raise InputError("gsdm: teacher must be a list of feature maps or a list of such lists (one per teacher)")

    def _per_layer_errors(self, student, teacher, student_weights, teacher_weights):
        """(M, L, B) per-sample squared-error means, plus the (M, B) teacher weights or None."""
        if not (isinstance(student, (list, tuple)) and student and all(isinstance(s, torch.Tensor) for s in student)):
            raise InputError("gsdm: student must be a non-empty list of feature maps")
        teachers = self._teachers(teacher)
        num_layers = len(student)
        batch = student[0].shape[0] // self.student_segments
        for m, layers in enumerate(teachers):
            if len(layers) != num_layers:
                raise InputError(f"gsdm: teacher {m} has {len(layers)} feature maps but the student has {num_layers}")
        if teacher_weights is None:
            t_weights = [None] * len(teachers)
        else:
            t_weights = as_tensor_list("gsdm", "teacher_weights", teacher_weights)
            if len(t_weights) != len(teachers):
                raise InputError(f"gsdm: got {len(t_weights)} teacher weight vectors for {len(teachers)} teachers")
            t_weights = [_check_weights("gsdm", "teacher_weights", w, batch).detach() for w in t_weights]
        s_weights = _check_weights("gsdm", "student_weights", student_weights, batch)
        s_weights = None if s_weights is None else s_weights.detach()
        use_in_map = self.weighting == "map"
        student_maps = []
        for l, f in enumerate(student):
            check_tensor("gsdm", f"student[{l}]", f, (3, 4, 5))
            a = activation_map(f, s_weights if use_in_map else None, self.student_segments, normalize=False)
            if a.shape[0] != batch:
                raise InputError(f"gsdm: student[{l}] holds {a.shape[0]} samples but student[0] holds {batch}")
            student_maps.append(_normalize_per_sample(a))
        errors = []
        for m, layers in enumerate(teachers):
            per_layer = []
            for l, f in enumerate(layers):
                check_tensor("gsdm", f"teacher[{m}][{l}]", f, (3, 4, 5))
                a_s = student_maps[l]
                a_t = activation_map(f.detach(), t_weights[m] if use_in_map else None, self.teacher_segments,
                                     normalize=False)
                if a_t.shape[0] != batch:
                    raise InputError(f"gsdm: teacher[{m}][{l}] holds {a_t.shape[0]} samples but the student "
                                     f"holds {batch}")
                if a_t.dim() != a_s.dim():
                    raise InputError(f"gsdm: teacher[{m}][{l}] has {a_t.dim() - 1} spatial dims but student[{l}] "
                                     f"has {a_s.dim() - 1}")
                a_t = _normalize_per_sample(_resize(a_t, a_s.shape[1:]))
                per_layer.append((a_s - a_t).pow(2).flatten(1).mean(1))
            errors.append(torch.stack(per_layer))
        tw = None if teacher_weights is None else torch.stack(t_weights)
        return torch.stack(errors), tw

    def per_sample(self, student, teacher, student_weights=None, teacher_weights=None) -> torch.Tensor:
        """(B,) loss of each sample: mean over layer pairs and teachers (no sample weighting)."""
        errors, _ = self._per_layer_errors(student, teacher, student_weights, teacher_weights)
        return errors.mean((0, 1))

    def forward(self, student, teacher, student_weights=None, teacher_weights=None, **context) -> torch.Tensor:
        errors, tw = self._per_layer_errors(student, teacher, student_weights, teacher_weights)
        if self.weighting == "map" or tw is None:
            return errors.mean()
        per_teacher = errors.mean(1)  # (M, B)
        tw = tw.to(per_teacher.dtype)
        total = tw.sum(1)
        weighted = (per_teacher * tw).sum(1) / torch.where(total > 0, total, torch.ones_like(total))
        return weighted.mean()
