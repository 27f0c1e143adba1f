"""Write concatenated recordings as a timestamped text stream (for tests/deploy/test_stream.py and export_latency)."""

from __future__ import annotations

import numpy as np


def write_stream(clips, rate=50.0, jitter=0.0, drop=0.0, gap_after=None, gap=1.0, malformed=True, seed=0,
                 sep=","):
    """``clips``: list of (key, label, (T, 6) array). Returns (text, segments) with segments
    [(key, label, t_start, t_end)] in stream seconds."""
    rng = np.random.default_rng(seed)
    lines, segments = ["# timestamp,ax,ay,az,gx,gy,gz"], []
    t0 = 100.0
    for i, (key, label, clip) in enumerate(clips):
        times = t0 + np.arange(len(clip)) / rate
        segments.append((key, label, float(times[0]), float(times[-1])))
        for j, (t, row) in enumerate(zip(times, clip)):
            if malformed and j == 41:  # 4 malformed rows per recording
                lines += ["hello,world", f"{t:.4f},1.0", f"{t:.4f},nan,0,0,0,0,0", f"{t - 0.5:.4f},0,0,0,0,0,0"]
            if drop and 0 < j < len(clip) - 1 and rng.random() < drop:
                continue
            t = t + (rng.uniform(-jitter, jitter) if jitter else 0.0)
            lines.append(sep.join([f"{t:.4f}"] + [f"{v:.6g}" for v in row]))
        t0 = times[-1] + 1 / rate + (gap if gap_after is not None and i == gap_after else 0.0)
    return "\n".join(lines) + "\n", segments


def parse_predictions(text):
    rows = []
    for line in text.strip().splitlines():
        t, label, p = line.rsplit(",", 2)[0], line.rsplit(",", 2)[1], line.rsplit(",", 2)[2]
        rows.append((float(t), label, float(p)))
    return rows


def per_recording_labels(predictions, segments, window_s):
    """For each recording the label of the window(s) overlapping it most (majority among the best)."""
    out = []
    for key, label, start, end in segments:
        best, labels = 0.0, []
        for t, name, _ in predictions:
            overlap = min(end, t) - max(start, t - window_s)
            if overlap > best + 1e-6:
                best, labels = overlap, [name]
            elif overlap > 0 and abs(overlap - best) <= 1e-6:
                labels.append(name)
        out.append(max(set(labels), key=labels.count) if labels else None)
    return out
