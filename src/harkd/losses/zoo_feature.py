"""Baseline losses on intermediate feature maps: FitNet, AT, NST, FSP, VID, AB, FT.

Registered on import of :mod:`harkd.losses.zoo`. Feature maps are (B, C, H, W) or
(B, C, L); where a loss needs equal spatial sizes and the student's and teacher's
differ, the larger one is adaptive-average-pooled to the smaller (per spatial dim)
before anything else, unless a loss's docstring says otherwise (AT interpolates).
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from harkd.checks import check_int, check_number
from harkd.errors import InputError
from harkd.losses._zoo_common import (
    FEATURE_MAP,
    as_layer_list,
    batch_norm,
    check_channels,
    conv3,
    match_spatial,
    pointwise,
    sample_shape,
    shape_list,
)
from harkd.losses.kit import check_batch, check_tensor
from harkd.losses.registry import DistillLoss, register_loss

__all__ = ["FitNetLoss", "ATLoss", "NSTLoss", "FSPLoss", "VIDLoss", "ABLoss", "FTLoss"]

MAP_OR_EMBEDDING = "(C, H, W), (C, L) or (D,)"
MAP_SHAPE = "(C, H, W) or (C, L)"


def _learned_shapes(loss: str, student_shape, teacher_shape, ranks=(1, 2, 3), what=MAP_OR_EMBEDDING):
    s = sample_shape(loss, "student", student_shape, ranks, what)
    t = sample_shape(loss, "teacher", teacher_shape, ranks, what)
    if len(s) != len(t):
        raise InputError(f"{loss}: student_shape {s} and teacher_shape {t} must have the same number of dims")
    return s, t


def _check_pair(loss: str, student, teacher, ranks, what, s_shape=None, t_shape=None) -> None:
    check_tensor(loss, "student", student, ranks, what)
    check_tensor(loss, "teacher", teacher, ranks, what)
    check_batch(loss, "student", student, "teacher", teacher, minimum=1)
    if s_shape is not None:
        check_channels(loss, "student", student, s_shape)
    if t_shape is not None:
        check_channels(loss, "teacher", teacher, t_shape)
    if student.dim() != teacher.dim():
        raise InputError(f"{loss}: student and teacher must have the same number of dims, "
                         f"got {tuple(student.shape)} and {tuple(teacher.shape)}")


@register_loss("fitnet")
class FitNetLoss(DistillLoss):
    r"""FitNets hint learning: regress the teacher's hint layer from the student's guided layer.

    Paper: A. Romero, N. Ballas, S. E. Kahou, A. Chassang, C. Gatta, Y. Bengio,
    "FitNets: Hints for Thin Deep Nets", ICLR 2015.

    Inputs: student (B, Cs, H, W) / (B, Cs, L) / (B, Ds) and teacher (B, Ct, ...) of the
    same rank; ``student_shape`` / ``teacher_shape`` (one sample) are required and fix
    Cs, Ct.

    Formula::

        r(s) = W s + b     (a learned 1x1 conv Cs -> Ct; a linear layer for (B, D))
        L    = mean over all B * Ct * H * W elements of (r(s) - t)^2

    The paper writes 1/2 ||t - r(s)||^2 summed over elements and uses a convolutional
    regressor whose kernel makes the sizes agree; here the regressor is 1x1 and, if the
    spatial sizes differ, the larger of the student / teacher map is adaptive-average-
    pooled to the smaller one (per spatial dim) first; since the regressor is linear
    and pointwise, pooling before or after it gives the same result.

    Hyper-parameters: none; learned part: ``regressor`` (weight (Ct, Cs[, 1, 1]), bias).
    """

    input_kind = "feature_map"

    def __init__(self, *, student_shape=None, teacher_shape=None):
        super().__init__(student_shape=student_shape, teacher_shape=teacher_shape)
        self._s, self._t = _learned_shapes("fitnet", student_shape, teacher_shape)
        self.regressor = pointwise(len(self._s), self._s[0], self._t[0])

    def forward(self, student, teacher, **context):
        _check_pair("fitnet", student, teacher, (2, 3, 4), "(B, C, H, W), (B, C, L) or (B, D) tensor",
                    self._s, self._t)
        student, teacher = match_spatial("fitnet", student, teacher)
        return F.mse_loss(self.regressor(student), teacher)


@register_loss("at")
class ATLoss(DistillLoss):
    r"""Attention transfer with activation-based spatial attention maps.

    Paper: S. Zagoruyko, N. Komodakis, "Paying More Attention to Attention: Improving
    the Performance of Convolutional Neural Networks via Attention Transfer", ICLR 2017.

    Inputs: ``feature_maps``: equal-length lists of student and teacher maps
    (B, C, H, W) or (B, C, L), one pair per matched layer (a single tensor each is one
    pair). Channel counts may differ within a pair.

    Formula, per pair (F of shape (B, C, *S))::

        A(F)  = mean over channels of |F|^p                   (B, *S)
        a(F)  = vec(A(F)) / ||vec(A(F))||_2                   (B, N), N = prod(S)
        l     = (1 / (B N)) sum_b sum_n (a_s[b,n] - a_t[b,n])^2
        L     = mean of l over the pairs

    i.e. the squared difference of the normalised maps averaged over batch and
    positions, as in the authors' released code ((a_s - a_t).pow(2).mean()); the
    paper's beta/2 || . ||_2 (non-squared norm, summed) differs by a constant factor
    per layer and by the square; recipes scale with their weight (the paper's beta =
    1000 is commonly used with this mean form). If the spatial sizes of a pair differ,
    the teacher's attention map A(F_t) is resized to the student's size by bilinear
    (linear for 1-D) interpolation (align_corners=False) BEFORE the L2 normalisation.

    Hyper-parameters: ``p`` = 2.
    """

    input_kind = "feature_maps"

    def __init__(self, *, student_shape=None, teacher_shape=None, p: float = 2.0):
        super().__init__(student_shape=student_shape, teacher_shape=teacher_shape)
        self.p = check_number("at: p", p, positive=True)
        s, t = shape_list("at", "student", student_shape), shape_list("at", "teacher", teacher_shape)
        if s is not None and t is not None and len(s) != len(t):
            raise InputError(f"at: student_shape lists {len(s)} layers but teacher_shape lists {len(t)}")

    def _attention(self, f: torch.Tensor) -> torch.Tensor:
        return f.pow(2).mean(1) if self.p == 2 else f.abs().pow(self.p).mean(1)

    def forward(self, student, teacher, **context):
        ss, ts = as_layer_list("at", "student", student), as_layer_list("at", "teacher", teacher)
        if len(ss) != len(ts):
            raise InputError(f"at: got {len(ss)} student feature maps and {len(ts)} teacher feature maps")
        total = 0.0
        for s, t in zip(ss, ts):
            _check_pair("at", s, t, (3, 4), FEATURE_MAP)
            a_s, a_t = self._attention(s), self._attention(t)
            if a_t.shape[1:] != a_s.shape[1:]:
                mode = "bilinear" if a_t.dim() == 3 else "linear"
                a_t = F.interpolate(a_t.unsqueeze(1), size=tuple(a_s.shape[1:]), mode=mode,
                                    align_corners=False).squeeze(1)
            a_s = F.normalize(a_s.flatten(1), p=2, dim=1)
            a_t = F.normalize(a_t.flatten(1), p=2, dim=1)
            total = total + (a_s - a_t).pow(2).mean()
        return total / len(ss)


@register_loss("nst")
class NSTLoss(DistillLoss):
    r"""Neuron selectivity transfer: MMD between the channels' spatial distributions.

    Paper: Z. Huang, N. Wang, "Like What You Like: Knowledge Distill via Neuron
    Selectivity Transfer", arXiv:1707.01219, 2017.

    Inputs: student (B, Cs, H, W) / (B, Cs, L) and teacher (B, Ct, ...) of the same
    rank; Cs and Ct may differ. If the spatial sizes differ, the larger map is
    adaptive-average-pooled to the smaller one.

    Formula, per sample, with each channel's flattened activation L2-normalised,
    f^i = F^i / ||F^i||_2 (vectors of length H*W), and k(x, y) = (x . y)^2::

        MMD^2 = (1/Ct^2) sum_{j,j'} k(f_t^j, f_t^j') + (1/Cs^2) sum_{i,i'} k(f_s^i, f_s^i')
                - (2/(Cs Ct)) sum_{i,j} k(f_s^i, f_t^j)
        L = mean of MMD^2 over the batch

    Hyper-parameters: none (polynomial kernel of degree 2, c = 0, as in the paper's
    best setting; the paper's lambda/2 weight belongs to the recipe).
    """

    input_kind = "feature_map"

    def forward(self, student, teacher, **context):
        _check_pair("nst", student, teacher, (3, 4), FEATURE_MAP)
        student, teacher = match_spatial("nst", student, teacher)
        fs = F.normalize(student.flatten(2), p=2, dim=2)
        ft = F.normalize(teacher.flatten(2), p=2, dim=2)

        def k(a, b):
            return (a @ b.transpose(1, 2)).pow(2).mean()

        return k(ft, ft) + k(fs, fs) - 2.0 * k(fs, ft)


@register_loss("fsp")
class FSPLoss(DistillLoss):
    r"""Flow of solution procedure (FSP) matrices between pairs of layers.

    Paper: J. Yim, D. Joo, J. Bae, J. Kim, "A Gift from Knowledge Distillation: Fast
    Optimization, Network Minimization and Transfer Learning", CVPR 2017.

    Inputs: ``feature_maps``: equal-length lists (L >= 2) of student and teacher maps
    (B, C_l, H_l, W_l) or (B, C_l, L_l). An FSP matrix is formed for each index pair
    (i, j) of ``pairs`` (default: consecutive layers (0,1), (1,2), ...). The student's
    and the teacher's layer l must have the SAME channel count (the matrices are
    compared entrywise); spatial sizes may differ. FSP has no learned adapter: put one
    in the models if the channels do not match.

    Formula, per pair (F1 of shape (B, C1, *S1), F2 of shape (B, C2, *S2))::

        if S1 != S2: pool the larger of F1 / F2 to the smaller (adaptive average)
        G[b, a, c] = (1 / N) sum_n F1[b, a, n] F2[b, c, n]      N = prod(S), G: (B, C1, C2)
        l = mean over (B, C1, C2) of (G_s - G_t)^2
        L = mean of l over the pairs

    The paper sums the squared entries and weights pairs by lambda_i (all equal);
    the mean form differs by the constant C1*C2 per pair.

    Hyper-parameters: ``pairs`` = None (consecutive layers).
    """

    input_kind = "feature_maps"

    def __init__(self, *, student_shape=None, teacher_shape=None, pairs=None):
        super().__init__(student_shape=student_shape, teacher_shape=teacher_shape)
        if pairs is not None:
            ok = isinstance(pairs, (list, tuple)) and pairs and all(
                isinstance(p, (list, tuple)) and len(p) == 2
                and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in p) for p in pairs)
            if not ok:
                raise InputError(f"fsp: pairs must be a non-empty list of (i, j) layer indices, got {pairs!r}")
            pairs = [tuple(p) for p in pairs]
        self.pairs = pairs
        s, t = shape_list("fsp", "student", student_shape), shape_list("fsp", "teacher", teacher_shape)
        if s is not None and t is not None:
            self._check_layers([d[0] for d in s], [d[0] for d in t], "_shape")

    def _check_layers(self, cs: list[int], ct: list[int], what: str) -> list[tuple[int, int]]:
        if len(cs) != len(ct):
            raise InputError(f"fsp: student{what} lists {len(cs)} layers but teacher{what} lists {len(ct)}")
        pairs = self.pairs if self.pairs is not None else [(i, i + 1) for i in range(len(cs) - 1)]
        if not pairs:
            raise InputError(f"fsp: needs at least 2 layers to form an FSP matrix, got {len(cs)}")
        for i, j in pairs:
            if max(i, j) >= len(cs):
                raise InputError(f"fsp: pair ({i}, {j}) refers to a layer beyond the {len(cs)} given")
        for l, (a, b) in enumerate(zip(cs, ct)):
            if a != b:
                raise InputError(f"fsp: layer {l} has {a} student channels but {b} teacher channels "
                                 "(FSP matrices need equal channel counts)")
        return pairs

    @staticmethod
    def _fsp(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a, b = match_spatial("fsp", a, b)
        a, b = a.flatten(2), b.flatten(2)
        return a @ b.transpose(1, 2) / a.shape[2]

    def forward(self, student, teacher, **context):
        ss, ts = as_layer_list("fsp", "student", student), as_layer_list("fsp", "teacher", teacher)
        for s, t in zip(ss, ts):
            _check_pair("fsp", s, t, (3, 4), FEATURE_MAP)
        pairs = self._check_layers([s.shape[1] for s in ss], [t.shape[1] for t in ts], " feature maps")
        total = 0.0
        for i, j in pairs:
            total = total + (self._fsp(ss[i], ss[j]) - self._fsp(ts[i], ts[j])).pow(2).mean()
        return total / len(pairs)


@register_loss("vid")
class VIDLoss(DistillLoss):
    r"""Variational information distillation with a Gaussian of learned per-channel variance.

    Paper: S. Ahn, S. X. Hu, A. Damianou, N. D. Lawrence, Z. Dai, "Variational
    Information Distillation for Knowledge Transfer", CVPR 2019.

    Inputs: student (B, Cs, H, W) / (B, Cs, L) / (B, Ds) and teacher (B, Ct, ...) of the
    same rank; ``student_shape`` / ``teacher_shape`` are required. Spatial mismatch:
    the larger input is adaptive-average-pooled to the smaller before the regressor.

    Formula (the negative log-likelihood of t under N(mu(s), var), constant dropped)::

        mu(s)  = conv1x1(h -> Ct)(relu(conv1x1(h -> h)(relu(conv1x1(Cs -> h)(s)))))
        var_c  = softplus(alpha_c) + eps                     (one per teacher channel)
        L      = mean over B * Ct * H * W of 0.5 * (log var_c + (t - mu(s))^2 / var_c)

    (linear layers instead of 1x1 convs for (B, D) inputs). The loss can be negative
    once the learned variances drop below 1.

    Hyper-parameters: ``hidden_channels`` h = Ct, ``init_variance`` = 5.0 (alpha is
    initialised so that var = init_variance), ``eps`` = 1e-5.
    Learned parts: ``regressor`` and ``alpha`` (Ct,).
    """

    input_kind = "feature_map"

    def __init__(self, *, student_shape=None, teacher_shape=None, hidden_channels: int | None = None,
                 init_variance: float = 5.0, eps: float = 1e-5):
        super().__init__(student_shape=student_shape, teacher_shape=teacher_shape)
        self._s, self._t = _learned_shapes("vid", student_shape, teacher_shape)
        self.eps = check_number("vid: eps", eps, positive=True)
        init_variance = check_number("vid: init_variance", init_variance, positive=True)
        if init_variance <= self.eps:
            raise InputError(f"vid: init_variance must exceed eps ({self.eps}), got {init_variance}")
        rank, cs, ct = len(self._s), self._s[0], self._t[0]
        h = ct if hidden_channels is None else check_int("vid: hidden_channels", hidden_channels)
        self.regressor = nn.Sequential(pointwise(rank, cs, h), nn.ReLU(), pointwise(rank, h, h), nn.ReLU(),
                                       pointwise(rank, h, ct))
        alpha0 = math.log(math.expm1(init_variance - self.eps))  # softplus^-1
        self.alpha = nn.Parameter(torch.full((ct,), alpha0))

    def variance(self) -> torch.Tensor:
        """The per-channel variances softplus(alpha) + eps, shape (Ct,)."""
        return F.softplus(self.alpha) + self.eps

    def forward(self, student, teacher, **context):
        _check_pair("vid", student, teacher, (2, 3, 4), "(B, C, H, W), (B, C, L) or (B, D) tensor",
                    self._s, self._t)
        student, teacher = match_spatial("vid", student, teacher)
        mu = self.regressor(student)
        var = self.variance().view(1, -1, *([1] * (teacher.dim() - 2)))
        return (0.5 * (torch.log(var) + (teacher - mu).pow(2) / var)).mean()


@register_loss("ab")
class ABLoss(DistillLoss):
    r"""Activation-boundary transfer through a connector on the student.

    Paper: B. Heo, M. Lee, S. Yun, J. Y. Choi, "Knowledge Transfer via Distillation of
    Activation Boundaries Formed by Hidden Neurons", AAAI 2019.

    Inputs: PRE-ReLU feature maps: student (B, Cs, H, W) / (B, Cs, L) / (B, Ds) and
    teacher (B, Ct, ...) of the same rank; ``student_shape`` / ``teacher_shape`` are
    required. Spatial mismatch: the larger is adaptive-average-pooled to the smaller.

    Formula, with r = connector(s) (1x1 conv Cs -> Ct without bias, then BatchNorm)::

        L = mean over B * Ct * H * W of
              (r + m)^2 * 1[r > -m and t <= 0]  +  (r - m)^2 * 1[r <= m and t > 0]

    the hinge-squared alternative loss of the paper (neurons should be active, with
    margin m, exactly where the teacher's are). Normalised by the number of elements
    (a mean); the authors' code sums over elements and rescales per batch, so their
    loss weights must be rescaled for this form.

    Hyper-parameters: ``margin`` m = 1.0. Learned part: ``connector``.
    """

    input_kind = "feature_map"

    def __init__(self, *, student_shape=None, teacher_shape=None, margin: float = 1.0):
        super().__init__(student_shape=student_shape, teacher_shape=teacher_shape)
        self._s, self._t = _learned_shapes("ab", student_shape, teacher_shape)
        self.margin = check_number("ab: margin", margin)
        rank = len(self._s)
        self.connector = nn.Sequential(pointwise(rank, self._s[0], self._t[0], bias=False),
                                       batch_norm(rank, self._t[0]))

    def forward(self, student, teacher, **context):
        _check_pair("ab", student, teacher, (2, 3, 4), "(B, C, H, W), (B, C, L) or (B, D) tensor",
                    self._s, self._t)
        student, teacher = match_spatial("ab", student, teacher)
        r, m = self.connector(student), self.margin
        active = teacher > 0
        loss = (r + m).pow(2) * ((r > -m) & ~active) + (r - m).pow(2) * ((r <= m) & active)
        return loss.mean()


class Paraphraser(nn.Module):
    """FT's convolutional autoencoder of the teacher's map: ``encoder`` gives the factor."""

    def __init__(self, rank: int, channels: int, factor_channels: int, negative_slope: float):
        super().__init__()

        def block(cin, cout):
            return [conv3(rank, cin, cout), batch_norm(rank, cout), nn.LeakyReLU(negative_slope)]

        self.encoder = nn.Sequential(*block(channels, channels), *block(channels, factor_channels),
                                     *block(factor_channels, factor_channels))
        self.decoder = nn.Sequential(*block(factor_channels, factor_channels),
                                     *block(factor_channels, channels), conv3(rank, channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


@contextmanager
def _eval_mode(module: nn.Module):
    was = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was)


@register_loss("ft")
class FTLoss(DistillLoss):
    r"""Factor transfer: match the student's translated factor to the teacher's paraphrased factor.

    Paper: J. Kim, S. Park, N. Kwak, "Paraphrasing Complex Network: Network Compression
    via Factor Transfer", NeurIPS 2018.

    Inputs: student (B, Cs, H, W) / (B, Cs, L) and teacher (B, Ct, ...) of the same rank;
    ``student_shape`` / ``teacher_shape`` are required. Spatial mismatch: the larger
    map is adaptive-average-pooled to the smaller before paraphraser / translator.

    Learned parts (3x3 convs + BatchNorm + LeakyReLU, stride 1, sizes kept):
    ``paraphraser`` (an autoencoder of the teacher's map, Ct -> m -> Ct, m =
    round(rate * Ct)) and ``translator`` (the student's map, Cs -> m).

    Two stages, as in the paper: (1) train the paraphraser alone on the teacher's maps
    with :meth:`paraphraser_reconstruction_loss` (mean squared reconstruction error);
    (2) distil with this loss, which treats the paraphraser as FIXED: the teacher factor
    is computed under ``no_grad`` with the paraphraser in eval mode, so only the
    translator (and the student) learn. Exclude ``paraphraser`` from the stage-2
    optimiser or leave it in (it gets no gradient).

    Formula, with F_T = vec(paraphraser.encoder(t)), F_S = vec(translator(s)) per sample::

        L = mean over B * m * H * W of | F_S / ||F_S||_2 - F_T / ||F_T||_2 |^p

    with p = 1 (the paper's choice); this is the paper's ||.||_p norm of the difference
    divided by the factor size (for p = 1), as in the authors' code (an L1 loss on the
    normalised factors).

    Hyper-parameters: ``rate`` = 0.5, ``p`` = 1 (1 or 2), ``negative_slope`` = 0.1.
    """

    input_kind = "feature_map"

    def __init__(self, *, student_shape=None, teacher_shape=None, rate: float = 0.5, p: int = 1,
                 negative_slope: float = 0.1):
        super().__init__(student_shape=student_shape, teacher_shape=teacher_shape)
        self._s, self._t = _learned_shapes("ft", student_shape, teacher_shape, ranks=(2, 3), what=MAP_SHAPE)
        rate = check_number("ft: rate", rate, positive=True)
        if p not in (1, 2):
            raise InputError(f"ft: p must be 1 or 2, got {p!r}")
        self.p = p
        slope = check_number("ft: negative_slope", negative_slope)
        rank, cs, ct = len(self._s), self._s[0], self._t[0]
        m = max(1, int(round(rate * ct)))
        self.factor_channels = m
        self.paraphraser = Paraphraser(rank, ct, m, slope)
        self.translator = nn.Sequential(conv3(rank, cs, cs), batch_norm(rank, cs), nn.LeakyReLU(slope),
                                        conv3(rank, cs, m), batch_norm(rank, m), nn.LeakyReLU(slope))

    def _check_teacher(self, teacher) -> None:
        check_tensor("ft", "teacher", teacher, (3, 4), FEATURE_MAP)
        check_channels("ft", "teacher", teacher, self._t)

    def paraphraser_reconstruction_loss(self, teacher: torch.Tensor) -> torch.Tensor:
        """Stage 1: mean over all elements of (paraphraser(t) - t)^2, to train the paraphraser."""
        self._check_teacher(teacher)
        return F.mse_loss(self.paraphraser(teacher), teacher)

    def forward(self, student, teacher, **context):
        _check_pair("ft", student, teacher, (3, 4), FEATURE_MAP, self._s, self._t)
        student, teacher = match_spatial("ft", student, teacher)
        with torch.no_grad(), _eval_mode(self.paraphraser):
            factor_t = F.normalize(self.paraphraser.encoder(teacher).flatten(1), p=2, dim=1)
        factor_s = F.normalize(self.translator(student).flatten(1), p=2, dim=1)
        diff = factor_s - factor_t
        return diff.abs().mean() if self.p == 1 else diff.pow(2).mean()
