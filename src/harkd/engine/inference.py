"""A trained run as a predictor of raw recordings (``harkd.load(run).predict(X)``).

The recordings go through the run's own preprocessing, the very transforms its training data went
through (resampling, centring, the training split's normalisation statistics, a GAF encoding, ...:
:meth:`~harkd.data.transforms.ModalityTransform.prepare` then ``finish`` in evaluation mode), and
then through the run's deployable model (a distillation run's student).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from harkd.errors import InputError

__all__ = ["Predictor", "load_predictor"]


class Predictor:
    """Class probabilities and predictions of a run's model for raw recordings.

    ``X`` holds recordings of the model's input modality as the dataset's reader gives them with the
    run's options (inertial: ``(T, C)`` samples of the run's sensor channels; skeleton: ``(T, V, 3)``):
    an array ``(n, T, ...)`` of equal-length recordings or a list of ``n`` arrays of any length. A
    model reading several modalities (``late_fusion``) takes a dict ``{modality: X}``.
    """

    def __init__(self, run_dir: Path, checkpoint: str, model: torch.nn.Module, inputs: list[str],
                 transforms: Mapping[str, Any], step_shapes: Mapping[str, tuple], class_names: list[str]):
        self.run_dir, self.checkpoint = run_dir, checkpoint
        self.model = model.eval()
        self.inputs = list(inputs)
        self.transforms = dict(transforms)
        self.step_shapes = dict(step_shapes)  # modality -> the shape of one time step of a raw recording
        self.class_names = list(class_names)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{m}: (T, {', '.join(map(str, self.step_shapes[m]))})" for m in self.inputs)
        return f"Predictor({self.run_dir}, {self.checkpoint}, {shapes}, {len(self.class_names)} classes)"

    def _recordings(self, X, modality: str, where: str) -> list[np.ndarray]:
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        if isinstance(X, np.ndarray):
            items = list(X) if X.ndim >= 2 else None
        elif isinstance(X, (list, tuple)):
            items = list(X)
        else:
            items = None
        step = self.step_shapes[modality]
        layout = f"(T, {', '.join(map(str, step))})"
        if items is None:
            raise InputError(f"{where} must be an array (n, T, {', '.join(map(str, step))}) or a list of {layout} "
                             f"{modality} recordings, got {type(X).__name__}"
                             + (f" of shape {X.shape}" if isinstance(X, np.ndarray) else ""))
        if not items:
            raise InputError(f"{where} holds no recordings")
        out = []
        for i, x in enumerate(items):
            x = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x)
            if not np.issubdtype(x.dtype, np.number) or x.ndim != 1 + len(step) or tuple(x.shape[1:]) != step:
                raise InputError(f"{where}[{i}] has shape {x.shape} ({x.dtype}); the run reads {modality} recordings "
                                 f"of shape {layout}: T time steps of {' x '.join(map(str, step))} values, as its "
                                 "dataset's reader gives them")
            if x.shape[0] < 2:
                raise InputError(f"{where}[{i}] holds {x.shape[0]} time step(s); a recording needs at least 2")
            if not np.all(np.isfinite(x)):
                raise InputError(f"{where}[{i}] contains NaN or inf")
            out.append(x)
        return out

    def _inputs(self, X) -> tuple[dict[str, list[np.ndarray]], int]:
        if len(self.inputs) == 1 and not isinstance(X, Mapping):
            per = {self.inputs[0]: self._recordings(X, self.inputs[0], "X")}
        else:
            if not isinstance(X, Mapping) or set(X) != set(self.inputs):
                given = sorted(X) if isinstance(X, Mapping) else type(X).__name__
                raise InputError(f"X: the model reads {', '.join(self.inputs)}: pass a dict with those keys, "
                                 f"got {given}")
            per = {m: self._recordings(X[m], m, f"X[{m!r}]") for m in self.inputs}
        counts = {m: len(v) for m, v in per.items()}
        if len(set(counts.values())) > 1:
            raise InputError(f"X: every modality needs one entry per recording, got {counts}")
        return per, next(iter(counts.values()))

    @torch.no_grad()
    def predict_proba(self, X, batch_size: int = 64) -> np.ndarray:
        """``(n, classes)`` class probabilities (softmax of the model's logits) of the ``n`` recordings of ``X``."""
        per, n = self._inputs(X)
        device = next(self.model.parameters()).device
        out = []
        for start in range(0, n, batch_size):
            batch = {m: torch.stack([self.transforms[m].finish(self.transforms[m].prepare(x))
                                     for x in per[m][start:start + batch_size]]).to(device) for m in self.inputs}
            x = batch[self.inputs[0]] if len(self.inputs) == 1 else batch
            out.append(torch.softmax(self.model(x).float(), dim=-1).cpu())
        return torch.cat(out).numpy()

    def predict(self, X, batch_size: int = 64) -> np.ndarray:
        """``(n,)`` predicted class indices (``class_names[i]`` names class ``i``)."""
        return self.predict_proba(X, batch_size).argmax(axis=1)


def load_predictor(run_dir: str | Path, checkpoint: str = "best") -> Predictor:
    """The :class:`Predictor` of a trained run of any kind (its recipe registered: import :mod:`harkd.recipes`).

    The run's data root must be readable, as for evaluation: it gives the shape of a raw recording."""
    from harkd.engine.runs import load_run

    run_dir = Path(run_dir)
    _, _, task, prepared = load_run(run_dir, checkpoint)
    plan = prepared.plan
    model = plan.deployable(task)
    inputs = plan.model_cfg.inputs
    train = prepared.datasets["train"]
    shapes = {}
    for m in inputs:
        rec = next(r for r in train.recordings if r.has(m))
        raw = train.spec.load(rec, m, root=train.index.root, **train.transforms[m].load_options())
        shapes[m] = tuple(raw.shape[1:])
    return Predictor(run_dir, checkpoint, model, inputs, {m: train.transforms[m] for m in inputs}, shapes,
                     prepared.class_names)

