"""The training loop: epochs, validation-based selection, atomic checkpoints, exact resume.

A :class:`~harkd.engine.tasks.Task` owns everything trainable (a model, or a student plus adapters in
distillation) and turns a batch into named loss terms (:mod:`harkd.engine.tasks`; mixing batches:
:mod:`harkd.engine.mixup`; both re-exported here). The :class:`Trainer` runs it:

- the shuffle order and data-worker seeds of epoch ``e`` depend only on ``(seed, e)``;
  the global RNG state is saved at every epoch end, so a run killed at any moment and
  resumed from ``last.pt`` replays the interrupted epoch exactly;
- ``last.pt`` is written atomically every epoch; ``best.pt`` when the *validation*
  metric improves, ties broken by the validation loss (the test split is never seen here);
  a write that fails (a full disk) leaves the previous files intact and says how to resume;
  a damaged ``last.pt`` is refused on resume with the way to recover;
- learning-rate schedules are stepped once per epoch;
- one JSON line per epoch goes to ``metrics.jsonl`` (and to TensorBoard when installed);
  without a progress bar (not a terminal), a long epoch logs a progress line every
  ``progress_interval`` seconds;
- under ``torchrun`` the task is wrapped in DistributedDataParallel and rank 0 writes.
"""

from __future__ import annotations

import errno
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from harkd.engine import distributed as dist_utils
from harkd.engine.devices import autocast, grad_scaler, place, resolve_device, resolve_precision, to_device
from harkd.engine.checkpoint import (atomic_save, capture_rng_state, load_checkpoint, restore_rng_state,
                                     verify_checkpoint)
from harkd.engine.metrics import classification_report
from harkd.engine.mixup import MIX_LABEL, MIX_LAMBDA, mix_batch, mixed_cross_entropy, mixed_loss  # noqa: F401
from harkd.engine.tasks import ClassificationTask, Task, model_input  # noqa: F401 (re-exported)
from harkd.errors import ConfigError, DataError, MissingDependencyError, TrainingError

__all__ = ["Task", "ClassificationTask", "model_input", "EpochSampler", "Trainer", "TrainerState", "predict",
           "verify_resumable", "check_checkpoint_identity", "format_duration", "mix_batch", "mixed_loss",
           "mixed_cross_entropy", "MIX_LAMBDA", "MIX_LABEL"]


class EpochSampler(Sampler[int]):
    """Shuffles with a generator seeded by ``(seed, epoch)`` and shards across ranks.

    Like ``DistributedSampler`` with ``set_epoch``, but usable with one process too, so a
    resumed run sees exactly the order the interrupted one would have.
    """

    def __init__(self, size: int, seed: int, shuffle: bool = True, rank: int = 0, world_size: int = 1):
        self.size, self.seed, self.shuffle = size, seed, shuffle
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.per_rank = math.ceil(size / world_size)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        if self.shuffle:
            gen = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(self.size, generator=gen).tolist()
        else:
            order = list(range(self.size))
        padded = order + order[: self.per_rank * self.world_size - self.size]
        return iter(padded[self.rank :: self.world_size])

    def __len__(self) -> int:
        return self.per_rank


def _seed_worker(worker_id: int) -> None:
    """Give each data worker distinct NumPy/Python seeds derived from torch's per-worker seed."""
    import random

    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


@torch.no_grad()
def predict(task: Task, loader: Iterable, device: torch.device | str = "cpu",
            precision: str = "fp32") -> tuple[np.ndarray, np.ndarray, list]:
    """Run ``task.predict`` over a loader on ``device`` (where the task must already be, see
    :func:`~harkd.engine.devices.place`) in ``precision``: (logits, labels, keys), in loader order."""
    device = torch.device(device)
    was_training = task.training
    task.eval()
    logits, labels, keys = [], [], []
    for batch in loader:
        batch = to_device(batch, device)
        with autocast(precision, device):
            scores = task.predict(batch)
        logits.append(scores.float().cpu())
        labels.append(batch["label"].cpu())
        keys.extend(batch.get("key", []))
    task.train(was_training)
    if not logits:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64), keys
    return torch.cat(logits).numpy(), torch.cat(labels).numpy(), keys


def format_duration(seconds: float) -> str:
    """``42 s``, ``7 min``, ``3.5 h``, ``12 days``: a rough duration for progress lines."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"


def check_checkpoint_identity(ckpt: Mapping, identity: Mapping | None, path: Path) -> None:
    """A DataError when checkpoint ``path`` records another run than ``identity``: another run id (each run draws
    one when it starts), name or seed. The config hash is recorded for the record, not compared (a config.yaml
    read by a later harkd gains keys). Checkpoints written before harkd recorded identities are accepted."""
    saved = ckpt.get("run") if isinstance(ckpt, Mapping) else None
    if not saved or not identity:
        return
    differs = [k for k in ("run_id", "name", "seed") if k in saved and k in identity and saved[k] != identity[k]]
    if differs:
        what = ", ".join(f"{k} {saved[k]!r} (this run: {identity[k]!r})" for k in differs)
        raise DataError(path, f"belongs to another run ({what}): a checkpoint copied from another run is not used; "
                              "restore this run's own checkpoint or train it again")


def verify_resumable(last: Path, best: Path) -> None:
    """A DataError saying how to recover when ``last`` (last.pt) is damaged: from ``best`` (best.pt,
    a full trainer checkpoint too) when that one is sound, else by training again; and when only
    ``best`` is damaged (a resumed run would otherwise keep a best.pt that cannot be read)."""
    try:
        verify_checkpoint(last)
    except DataError as err:
        restart = (f"delete {last.name} and run the same command to train this run again from epoch 1 "
                   "(or train into a new --run-dir)")
        try:
            verify_checkpoint(best)
            best_epoch = load_checkpoint(best, verify=False)["state"]["epoch"]
        except Exception:  # best.pt damaged or missing too, or not a trainer checkpoint
            raise DataError(last, f"{err.problem}; to recover, {restart}") from None
        raise DataError(last, f"{err.problem}; to recover, copy {best.name} (epoch {best_epoch}) over it "
                              f"(cp {best} {last}) and run the same command to resume from epoch {best_epoch}, "
                              f"or {restart}") from None
    if best.is_file():
        try:
            verify_checkpoint(best)
        except DataError as err:
            raise DataError(best, f"{err.problem}; {last.name} is sound: to resume, delete {best.name} (the run "
                                  "writes it again at its next best validation epoch, so the earlier best "
                                  "epoch is lost) or train into a new --run-dir") from None


def read_metrics_file(path: Path) -> list[dict]:
    """The records of a metrics.jsonl (one JSON object a line); one DataError naming the file and line when damaged."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise DataError(path, "not a text file (cannot decode as UTF-8): delete it or restore it from a copy") from None
    records = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):
            raise DataError(path, f"line {n} is not a JSON object of epoch metrics: delete that line "
                                  "(the checkpoints do not depend on it)")
        records.append(record)
    return records


@dataclass
class TrainerState:
    """What a checkpoint restores besides weights."""

    epoch: int = 0  # epochs completed
    step: int = 0  # optimiser steps taken
    best_value: float = -math.inf
    best_loss: float = math.inf  # validation loss at best_value (breaks ties)
    best_epoch: int = -1


@dataclass
class Trainer:
    """Runs a :class:`Task` for ``epochs`` epochs over ``train_set`` with validation on ``val_set``."""

    task: Task
    train_set: Dataset
    val_set: Dataset | None
    optimizer: torch.optim.Optimizer
    run_dir: Path
    epochs: int
    num_classes: int
    seed: int = 0
    batch_size: int = 32
    num_workers: int = 0
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None
    selection_metric: str = "accuracy"
    device: str | torch.device = "cpu"  # a train.device value (resolved here) or a torch.device
    precision: str = "fp32"  # train.precision (harkd.engine.devices)
    grad_clip: float | None = None
    collate_fn: Callable | None = None
    log: Callable[[str], None] = field(default=lambda msg: print(msg, file=sys.stderr, flush=True))
    progress: bool | None = None  # None: a rich bar on a terminal, plain lines otherwise
    progress_interval: float = 30.0  # seconds between plain progress lines within an epoch (train.log_every)
    clock: Callable[[], float] = time.monotonic
    on_epoch_end: Callable[[int, dict], None] | None = None
    #: ``train.mixup`` (a :class:`~harkd.engine.config.MixupConfig`: alpha, mode, prob), None: off
    mixup: object | None = None
    tensorboard: bool = False  # train.tensorboard: mirror the epoch records to RUN/tensorboard
    #: data.resident: batches from tensors kept on the device (``auto``: on a GPU only; True: required)
    resident: bool | str = False
    #: what identifies the run (config hash, seed, name), saved in every checkpoint and checked on resume
    identity: dict | None = None
    state: TrainerState = field(default_factory=TrainerState)

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        self.rank, self.world_size = dist_utils.rank(), dist_utils.world_size()
        self.is_main = self.rank == 0
        self.device = self.device if isinstance(self.device, torch.device) else resolve_device(self.device)
        self.precision = resolve_precision(self.precision, self.device)
        self.scaler = grad_scaler(self.precision, self.device)
        place(self.task, self.device)
        self.sampler = EpochSampler(len(self.train_set), self.seed, True, self.rank, self.world_size)
        self.loader_generator = torch.Generator()
        # each rank takes an interleaved shard and batch_size / world_size samples a step, so the
        # union of the ranks' k-th batches is the single-process k-th batch
        self.rank_batch_size = max(1, self.batch_size // self.world_size)
        self.train_loader = DataLoader(
            self.train_set,
            batch_size=self.rank_batch_size,
            sampler=self.sampler,
            num_workers=self.num_workers,
            worker_init_fn=_seed_worker,
            generator=self.loader_generator,
            collate_fn=self.collate_fn,
            drop_last=self.sampler.per_rank % self.rank_batch_size == 1,  # a lone sample breaks BatchNorm
            pin_memory=self.device.type == "cuda",
        )
        self._eval_loaders: dict[int, Iterable] = {}
        self._resident = self._resident_wanted()
        if self._resident:
            self.train_loader = self._resident_loader(self.train_set, self.sampler) or self.train_loader
        self.train_module: nn.Module = dist_utils.wrap(self.task, self.device)
        self.mix_axes = self._mix_axes()
        self._tb_writer = self._tensorboard_writer() if self.tensorboard and self.is_main else None
        self._started = None  # (clock, epoch) when this process's first epoch began: the time estimate

    # ----------------------------------------------------------------- checkpoints
    @property
    def last_path(self) -> Path:
        return self.run_dir / "last.pt"

    @property
    def best_path(self) -> Path:
        return self.run_dir / "best.pt"

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / "metrics.jsonl"

    def _checkpoint(self) -> dict:
        return {
            "task": self.task.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "scaler": self.scaler.state_dict() if self.scaler else None,
            "state": vars(self.state).copy(),
            "rng": capture_rng_state(),
            "run": self.identity,
        }

    def resume(self, path: Path | None = None) -> bool:
        """Restore everything from ``path`` (default ``last.pt``); False when there is none."""
        path = Path(path) if path else self.last_path
        if not path.is_file():
            if self.is_main:
                self._truncate_metrics(0)  # a run killed before its first checkpoint starts afresh
            return False
        verify_resumable(path, self.best_path)
        # read onto the CPU (the RNG states must stay there) and copied into the placed task and optimiser
        ckpt = load_checkpoint(path, verify=False)
        check_checkpoint_identity(ckpt, self.identity, path)
        self.task.load_state_dict(ckpt["task"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        if self.scheduler and ckpt["scheduler"]:
            self.scheduler.load_state_dict(ckpt["scheduler"])
        if self.scaler and ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        self.state = TrainerState(**ckpt["state"])
        restore_rng_state(ckpt["rng"])
        if self.is_main:
            self._truncate_metrics(self.state.epoch)
        self.log(f"resumed from {path} after epoch {self.state.epoch}")
        return True

    def _truncate_metrics(self, epochs_done: int) -> None:
        """Drop metric lines of epochs the checkpoint does not cover (a killed epoch)."""
        if not self.metrics_path.is_file():
            return
        lines = [ln for ln in self.metrics_path.read_text(errors="replace").splitlines() if ln.strip()]
        records = read_metrics_file(self.metrics_path)  # one per non-blank line
        kept = [ln for ln, r in zip(lines, records) if r.get("epoch", 0) <= epochs_done]
        if len(kept) != len(lines):
            self.metrics_path.write_text("".join(ln + "\n" for ln in kept))

    # ----------------------------------------------------------------- loop
    def fit(self) -> dict:
        """Train the remaining epochs; returns the last epoch's record."""
        record: dict = {}
        while self.state.epoch < self.epochs:
            record = self._run_epoch(self.state.epoch)
            self.state.epoch += 1
            if self.is_main:
                improved = self.val_set is not None and self._improves(record)
                if improved:
                    self.state.best_value = record[f"val_{self.selection_metric}"]
                    self.state.best_loss = record["val_loss"]
                    self.state.best_epoch = self.state.epoch
                record["best_epoch"] = self.state.best_epoch
                self._save(record, improved or self.val_set is None)
                self._tensorboard(record)
            dist_utils.barrier()
            if self.on_epoch_end:
                self.on_epoch_end(self.state.epoch, record)
        return record

    def _save(self, record: dict, best: bool) -> None:
        """The epoch's metrics line, ``best.pt`` (when ``best``), then ``last.pt``.

        The metrics line first: a kill before last.pt is written leaves a line that resume drops
        (epoch > epochs done); the other order could lose the line of a saved epoch. best.pt before
        last.pt: last.pt's state (best epoch) never names a best.pt that was not written. A failed
        write (full disk, read-only directory) leaves the previous last.pt, which resume uses."""
        ckpt = self._checkpoint()
        target = self.metrics_path
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            with self.metrics_path.open("a") as handle:
                handle.write(json.dumps(record) + "\n")
            for target in [self.best_path] * best + [self.last_path]:
                atomic_save(ckpt, target)
        except OSError as err:
            epoch = record["epoch"]
            fix = {errno.ENOSPC: "the disk is full: free some space", errno.EDQUOT: "the disk quota is exceeded: "
                   "free some space"}.get(err.errno, "make the run directory writable")
            kept = (f"last.pt still holds epoch {epoch - 1}: {fix} and run the same command to resume from it"
                    if epoch > 1 and self.last_path.is_file() else
                    f"nothing was saved yet: {fix} and run the same command to start again")
            raise DataError(target, f"cannot write epoch {epoch} ({err.strerror or err}); {kept}") from None

    def _step(self, loss: torch.Tensor) -> None:
        """Backward, optional gradient clipping and the optimiser step (through the fp16 gradient scaler)."""
        if self.scaler is None:
            loss.backward()
            if self.grad_clip:
                nn.utils.clip_grad_norm_(self.task.parameters(), self.grad_clip)
            self.optimizer.step()
            return
        self.scaler.scale(loss).backward()
        if self.grad_clip:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.task.parameters(), self.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()

    def _improves(self, record: dict) -> bool:
        """Higher validation metric, or the same with a lower validation loss.

        A small validation split often saturates (e.g. 100 % accuracy) early; breaking ties
        by the loss keeps selecting the better-calibrated later epochs instead of the first."""
        value = record.get(f"val_{self.selection_metric}", -math.inf)
        if value != self.state.best_value:
            return value > self.state.best_value
        return record.get("val_loss", math.inf) < self.state.best_loss

    def _tensorboard_writer(self):
        """A SummaryWriter on ``run_dir/tensorboard``; a clear error when the extra is not installed."""
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise MissingDependencyError("tensorboard", "tensorboard", "train.tensorboard: true") from None
        return SummaryWriter(str(self.run_dir / "tensorboard"))

    def _tensorboard(self, record: dict) -> None:
        """Mirror the epoch record to TensorBoard (``train.tensorboard``)."""
        if self._tb_writer:
            for key, value in record.items():
                if key != "epoch" and isinstance(value, (int, float)):
                    self._tb_writer.add_scalar(key.replace("_", "/", 1), value, record["epoch"])
            self._tb_writer.flush()

    def _mix_axes(self) -> dict[str, int | None]:
        """Per modality of the training set, its per-sample time axis (what ``mixup`` mixes)."""
        if self.mixup is None:
            return {}
        transforms = getattr(self.train_set, "transforms", None) or {}
        axes = {m: t.time_axis for m, t in transforms.items()}
        if self.mixup.mode == "cutmix":
            for m, axis in axes.items():
                if axis is None:
                    raise ConfigError(f"config key 'train.mixup.mode': cutmix replaces a time segment, but modality "
                                      f"'{m}' is an image without a time axis (data.modalities.{m}.gaf or .dmm): "
                                      "use train.mixup.mode=mixup")
        return axes

    def _mix(self, batch: dict) -> dict:
        """One permutation and one ``lam ~ Beta(alpha, alpha)`` for the whole batch, with probability ``prob``
        (torch's global generator: saved in every checkpoint, so a resumed run mixes alike)."""
        if self.mixup is None or float(torch.rand(())) >= self.mixup.prob:
            return batch
        alpha = torch.tensor(float(self.mixup.alpha))
        lam = float(torch.distributions.Beta(alpha, alpha).sample())
        perm = torch.randperm(len(batch["label"])).to(batch["label"].device)
        start = float(torch.rand(())) * lam
        return mix_batch(batch, lam, perm, self.mix_axes, self.mixup.mode, start)

    def _run_epoch(self, epoch: int) -> dict:
        if self._started is None:
            self._started = (self.clock(), epoch)
        self.sampler.set_epoch(epoch)
        if hasattr(self.task, "set_progress"):  # a Task; any other module trains as before
            self.task.set_progress(epoch / max(self.epochs - 1, 1))
        self.loader_generator.manual_seed(self.seed * 7919 + epoch)
        self.train_module.train()
        start = time.perf_counter()
        sums: dict[str, float] = {}
        count = 0
        lr = self.optimizer.param_groups[0]["lr"]
        with self._progress(epoch) as advance:
            for batch in self.train_loader:
                batch = self._mix(to_device(batch, self.device))
                with autocast(self.precision, self.device):
                    terms = self.train_module(batch)
                loss = terms["loss"]
                if not torch.isfinite(loss):
                    raise TrainingError(
                        f"epoch {epoch + 1}: training loss became {loss.item()}; lower the learning rate"
                        " or check the inputs for extreme values"
                    )
                self.optimizer.zero_grad(set_to_none=True)
                self._step(loss)
                self.state.step += 1
                n = len(batch["label"])
                count += n
                for name, value in terms.items():
                    sums[name] = sums.get(name, 0.0) + float(value.detach()) * n
                advance(float(loss.detach()))
        if self.scheduler:
            self.scheduler.step()
        sums = dist_utils.all_reduce_sums({**sums, "_count": float(count)})
        count = sums.pop("_count")
        record = {"epoch": epoch + 1, "lr": lr, "seconds": round(time.perf_counter() - start, 3)}
        record.update({f"train_{k}": v / max(count, 1) for k, v in sums.items()})
        if self.val_set is not None and self.is_main:
            record.update({f"val_{k}": v for k, v in self.evaluate(self.val_set).items()})
            if not math.isfinite(record["val_loss"]):
                raise TrainingError(f"epoch {epoch + 1}: validation loss became {record['val_loss']} (the model's "
                                    "outputs are no longer finite); lower the learning rate (in a new --run-dir)")
        if self.is_main:
            summary = ", ".join(f"{k}={v:.4g}" for k, v in record.items() if isinstance(v, float) and k != "lr")
            self.log(f"epoch {epoch + 1}/{self.epochs}: {summary}{self._time_left(epoch + 1)}")
        return record

    def _time_left(self, done: int) -> str:
        """``, about 3 min left`` from the mean epoch time of this process so far ('' after the last epoch)."""
        start, first = self._started
        remaining = self.epochs - done
        if remaining <= 0 or done <= first:
            return ""
        return f" ({format_duration((self.clock() - start) / (done - first) * remaining)} left)"

    def _resident_wanted(self) -> bool:
        """``data.resident``: True always, ``auto`` on a GPU (on the CPU the DataLoader path keeps today's
        augmentation stream), and never with a custom collate function."""
        if self.resident is True and self.collate_fn is not None:
            raise ConfigError("config key 'data.resident': true, but this task batches its samples with its own "
                              "collate function: set data.resident: auto or false")
        if self.collate_fn is not None:
            return False
        return self.resident is True or (self.resident == "auto" and self.device.type in ("cuda", "mps"))

    def _resident_loader(self, dataset: Dataset, sampler: EpochSampler | None) -> Iterable | None:
        """A resident loader for ``dataset`` (training with ``sampler``, else evaluation order), or None (logged
        with the reason) when the data have no batched path; ``data.resident: true`` makes that an error."""
        from harkd.engine.resident import resident_loader

        batch_size = self.rank_batch_size if sampler is not None else self.batch_size
        loader, reason = resident_loader(dataset, batch_size=batch_size, sampler=sampler, device=self.device,
                                         seed=self.seed)
        if loader is None and self.resident is True:
            raise ConfigError(f"config key 'data.resident': true, but {reason}")
        if self.is_main and sampler is not None:
            self.log(f"data: {loader.describe()}" if loader is not None else
                     f"data: DataLoader path ({reason})")
        return loader

    def evaluate(self, dataset: Dataset) -> dict:
        """Loss, accuracy and macro-F1 of the current weights on ``dataset``."""
        loader = self._eval_loaders.get(id(dataset))
        if loader is None:
            loader = (self._resident_loader(dataset, None) if self._resident else None) or DataLoader(
                dataset, batch_size=self.batch_size, shuffle=False, num_workers=self.num_workers,
                collate_fn=self.collate_fn, pin_memory=self.device.type == "cuda")
            self._eval_loaders[id(dataset)] = loader
        logits, labels, _ = predict(self.task, loader, self.device, self.precision)
        report = classification_report(labels, logits.argmax(1), self.num_classes)
        loss = nn.functional.cross_entropy(torch.from_numpy(logits), torch.from_numpy(labels)).item()
        return {"loss": loss, "accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}

    def _progress(self, epoch: int):
        """Context manager yielding ``advance(loss)``: a rich bar on a TTY; otherwise a plain line
        every ``progress_interval`` seconds, so a fast epoch logs nothing but its summary."""
        from contextlib import contextmanager

        use_bar = self.progress if self.progress is not None else sys.stderr.isatty()

        @contextmanager
        def bar():
            if not self.is_main:
                yield lambda loss: None
                return
            if not use_bar:
                yield self._timed_lines(epoch)
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            with Progress(TextColumn(f"epoch {epoch + 1}/{self.epochs}"), BarColumn(), MofNCompleteColumn(),
                          TextColumn("loss {task.fields[loss]:.4f}"), TimeRemainingColumn(),
                          transient=True) as prog:
                task_id = prog.add_task("train", total=len(self.train_loader), loss=float("nan"))
                yield lambda loss: prog.update(task_id, advance=1, loss=loss)

        return bar()

    def _timed_lines(self, epoch: int) -> Callable[[float], None]:
        """``advance(loss)`` that logs ``epoch E/N: batch b/B, loss L (S s)`` when ``progress_interval`` has passed."""
        start = self.clock()
        last, done, total = start, 0, len(self.train_loader)

        def advance(loss: float) -> None:
            nonlocal last, done
            done += 1
            now = self.clock()
            if now - last >= self.progress_interval and done < total:
                last = now
                self.log(f"epoch {epoch + 1}/{self.epochs}: batch {done}/{total}, loss {loss:.4f} ({now - start:.0f} s)")

        return advance
