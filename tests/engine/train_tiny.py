"""A tiny deterministic training run, used by the resume tests as a subprocess.

usage: python train_tiny.py RUN_DIR EPOCHS [--kill-at-call N] [--workers W]
"""

import argparse
import json
import os
import signal

import torch
from torch import nn
from torch.utils.data import Dataset

from harkd.engine import distributed
from harkd.engine.trainer import ClassificationTask, Trainer


class Blobs(Dataset):
    """Gaussian blobs with per-item random jitter drawn from the worker's RNG (augmentation)."""

    def __init__(self, n, seed, jitter=0.1):
        self.jitter = jitter
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.randint(0, 3, (n,), generator=g)
        self.x = torch.randn(n, 8, generator=g) + 2.0 * nn.functional.one_hot(self.labels, 8).float()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        jitter = self.jitter * torch.randn(8)
        return {"x": self.x[i] + jitter, "label": self.labels[i], "key": f"r{i}"}


class KillingTask(ClassificationTask):
    def __init__(self, *args, kill_at=None, **kw):
        super().__init__(*args, **kw)
        self.calls, self.kill_at = 0, kill_at

    def forward(self, batch):
        self.calls += 1
        if self.kill_at is not None and self.calls == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().forward(batch)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("epochs", type=int)
    ap.add_argument("--kill-at-call", type=int)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--train-size", type=int, default=61)
    ap.add_argument("--jitter", type=float, default=0.1)
    args = ap.parse_args()
    distributed.init_from_env()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(args.dropout), nn.Linear(16, 3))
    task = KillingTask(model, "x", kill_at=args.kill_at_call)
    opt = torch.optim.SGD(task.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    trainer = Trainer(task, Blobs(args.train_size, 1, args.jitter), Blobs(20, 2, args.jitter), opt, args.run_dir, args.epochs, num_classes=3,
                      seed=5, batch_size=8, num_workers=args.workers, scheduler=sched, log=lambda m: None)
    trainer.resume()
    record = trainer.fit()
    if distributed.rank() == 0:
        print(json.dumps({"record": record, "weights": [p.detach().sum().item() for p in model.parameters()]}))
    distributed.shutdown()


if __name__ == "__main__":
    main()
