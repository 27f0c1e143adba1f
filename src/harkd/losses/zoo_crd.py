"""Contrastive representation distillation (CRD) with momentum memory banks.

Registered on import of :mod:`harkd.losses.zoo`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from harkd.checks import check_int, check_number
from harkd.errors import InputError
from harkd.losses._zoo_common import sample_shape
from harkd.losses.kit import check_batch, check_tensor
from harkd.losses.registry import DistillLoss, register_loss

__all__ = ["CRDLoss"]


@register_loss("crd")
class CRDLoss(DistillLoss):
    r"""Contrastive representation distillation (NCE form with memory banks).

    Paper: Y. Tian, D. Krishnan, P. Isola, "Contrastive Representation Distillation",
    ICLR 2020.

    Inputs: student and teacher embeddings (B, Ds) and (B, Dt) (``student_shape`` =
    (Ds,), ``teacher_shape`` = (Dt,) are required); context ``index``: the dataset
    indices of the batch's samples, a LongTensor (B,) in [0, num_samples).

    Learned parts: embedding heads g_s, g_t = Linear(D -> feat_dim) followed by L2
    normalisation. Buffers (saved in the state_dict): memory banks ``memory_s`` /
    ``memory_t`` of shape (N, feat_dim), N = ``num_samples`` (the training-set size),
    initialised uniformly in [-1/sqrt(feat_dim/3), 1/sqrt(feat_dim/3)], and the
    normalising constants ``z_s`` / ``z_t`` (-1 = not yet estimated).

    Formula, for a batch with indices y_b and K negatives per sample drawn uniformly
    WITH replacement from the N - 1 indices other than y_b (torch's RNG, so
    deterministic under ``torch.manual_seed``); idx[b] = (y_b, n_1..n_K)::

        v_s = g_s(s), v_t = g_t(t)                                          (B, feat_dim)
        h_s[b, k] = exp(memory_t[idx[b,k]] . v_s[b] / tau) / Z_s            (B, K+1)
        h_t[b, k] = exp(memory_s[idx[b,k]] . v_t[b] / tau) / Z_t
        Z = N * mean(exp(. / tau)) over the FIRST batch seen, then kept fixed
        nce(h) = -(1/B) sum_b [ log(h[b,0] / (h[b,0] + K/N + eps))
                               + sum_{k>=1} log((K/N) / (h[b,k] + K/N + eps)) ]
        L = nce(h_s) + nce(h_t)

    The memory rows are detached (no gradient into the banks). In training mode, after
    the loss is computed, the banks are updated for the batch's indices:
    memory[y_b] = normalise(momentum * memory[y_b] + (1 - momentum) * v[b]) (v detached).
    In eval mode the banks are left unchanged.

    K is CLAMPED to min(num_negatives, N - 1) (the number of other samples there are),
    so tiny datasets work with the default K = 4096; the NCE noise term uses the clamped K.

    Hyper-parameters: ``num_samples`` N (required), ``feat_dim`` = 128,
    ``num_negatives`` K = 4096, ``temperature`` tau = 0.07, ``momentum`` = 0.5,
    ``eps`` = 1e-7.
    """

    input_kind = "embedding"
    context_keys = ("index",)
    context_args = ("num_samples",)  # one memory-bank slot per training recording
    temperature_role = "contrastive"

    def __init__(self, *, student_shape=None, teacher_shape=None, num_samples: int | None = None,
                 feat_dim: int = 128, num_negatives: int = 4096, temperature: float = 0.07,
                 momentum: float = 0.5, eps: float = 1e-7):
        super().__init__(student_shape=student_shape, teacher_shape=teacher_shape)
        if num_samples is None:
            raise InputError("crd: num_samples is required (the training-set size: one memory-bank slot "
                             "per training sample)")
        n = check_int("crd: num_samples", num_samples, 2)
        s = sample_shape("crd", "student", student_shape, (1,), "(D,)")
        t = sample_shape("crd", "teacher", teacher_shape, (1,), "(D,)")
        feat_dim = check_int("crd: feat_dim", feat_dim)
        self.num_samples = n
        self.requested_negatives = check_int("crd: num_negatives", num_negatives)
        self.num_negatives = min(self.requested_negatives, n - 1)
        self.temperature = check_number("crd: temperature", temperature, positive=True)
        self.momentum = check_number("crd: momentum", momentum)
        if self.momentum >= 1:
            raise InputError(f"crd: momentum must be in [0, 1), got {momentum!r}")
        self.eps = check_number("crd: eps", eps, positive=True)
        self._ds, self._dt = s[0], t[0]
        self.embed_s = nn.Linear(s[0], feat_dim)
        self.embed_t = nn.Linear(t[0], feat_dim)
        stdv = 1.0 / math.sqrt(feat_dim / 3.0)
        self.register_buffer("memory_s", torch.rand(n, feat_dim) * (2 * stdv) - stdv)
        self.register_buffer("memory_t", torch.rand(n, feat_dim) * (2 * stdv) - stdv)
        self.register_buffer("z_s", torch.tensor(-1.0))
        self.register_buffer("z_t", torch.tensor(-1.0))

    def sample_indices(self, index: torch.Tensor) -> torch.Tensor:
        """(B, K+1) bank rows: column 0 the positive ``index``, then K negatives != index."""
        neg = torch.randint(0, self.num_samples - 1, (index.shape[0], self.num_negatives), device=index.device)
        neg = neg + (neg >= index.unsqueeze(1)).long()  # skip the positive: uniform over the others
        return torch.cat([index.unsqueeze(1), neg], dim=1)

    def _check_index(self, index, batch: int, device) -> torch.Tensor:
        if index is None:
            raise InputError("crd: needs the context key 'index' (the dataset indices of the batch, "
                             "a LongTensor of shape (B,))")
        if not isinstance(index, torch.Tensor) or index.dtype.is_floating_point or index.dtype == torch.bool \
                or index.is_complex():
            raise InputError(f"crd: index must be an integer tensor of shape ({batch},), got {index!r}")
        if tuple(index.shape) != (batch,):
            raise InputError(f"crd: index must have shape ({batch},) (one per sample), got {tuple(index.shape)}")
        if batch and (int(index.min()) < 0 or int(index.max()) >= self.num_samples):
            raise InputError(f"crd: index values must be in [0, {self.num_samples}) (num_samples), "
                             f"got range [{int(index.min())}, {int(index.max())}]")
        return index.to(device=device, dtype=torch.long)

    def _nce(self, h: torch.Tensor) -> torch.Tensor:
        noise = self.num_negatives / self.num_samples
        log_d1 = torch.log(h[:, 0] / (h[:, 0] + noise + self.eps))
        log_d0 = torch.log(noise / (h[:, 1:] + noise + self.eps))
        return -(log_d1.sum() + log_d0.sum()) / h.shape[0]

    def forward(self, student, teacher, index=None, **context):
        check_tensor("crd", "student", student, (2,), "(B, D) embedding")
        check_tensor("crd", "teacher", teacher, (2,), "(B, D) embedding")
        b = check_batch("crd", "student", student, "teacher", teacher, minimum=1)
        if student.shape[1] != self._ds or teacher.shape[1] != self._dt:
            raise InputError(f"crd: expected student (B, {self._ds}) and teacher (B, {self._dt}) embeddings "
                             f"(student_shape / teacher_shape), got {tuple(student.shape)} and {tuple(teacher.shape)}")
        index = self._check_index(index, b, self.memory_s.device)
        v_s = F.normalize(self.embed_s(student), p=2, dim=1)
        v_t = F.normalize(self.embed_t(teacher), p=2, dim=1)
        idx = self.sample_indices(index)
        w_t = self.memory_t[idx].detach()  # (B, K+1, feat_dim)
        w_s = self.memory_s[idx].detach()
        h_s = torch.exp(torch.bmm(w_t, v_s.unsqueeze(2)).squeeze(2) / self.temperature)
        h_t = torch.exp(torch.bmm(w_s, v_t.unsqueeze(2)).squeeze(2) / self.temperature)
        with torch.no_grad():
            if float(self.z_s) < 0:
                self.z_s.fill_(float(h_s.mean()) * self.num_samples)
            if float(self.z_t) < 0:
                self.z_t.fill_(float(h_t.mean()) * self.num_samples)
        loss = self._nce(h_s / self.z_s) + self._nce(h_t / self.z_t)
        if self.training:
            with torch.no_grad():
                for bank, v in ((self.memory_s, v_s), (self.memory_t, v_t)):
                    rows = bank[index] * self.momentum + v.detach() * (1.0 - self.momentum)
                    bank.index_copy_(0, index, F.normalize(rows, p=2, dim=1))
        return loss
