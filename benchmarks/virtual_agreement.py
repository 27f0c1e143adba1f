"""How closely the virtual accelerometer twins (``data.virtual_inertial``) follow the recorded sensor.

For every UTD-MHAD recording of the chosen training subjects and trials this computes the virtual clip
from the skeleton (:mod:`harkd.data.virtual`), resamples it and the recorded accelerometer to 128 samples
on normalised time, and reports the mean per-axis Pearson correlation, split by where the sensor is worn
(the right wrist, actions 1-21; the right thigh, 22-27), for the segment's moving frame (what harkd
uses) and for the same force left in the world frame (both turned by the fitted mounting rotation), at
each smoothing window. Training subjects only: the twins are training data, and this is what fixed
their default smoothing (0.5 s) before any student ran with them.

    python benchmarks/virtual_agreement.py --root ../shared/data
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np

from harkd.suites import record_header, replace_section, run_script, use_data_root
from harkd.suites.report import command_line, machine_description

HERE = Path(__file__).resolve().parent
TITLE = "Virtual accelerometer twins against the recorded sensor, UTD-MHAD (benchmarks/virtual_agreement.py)"


def agreement(spec, index, subjects, trials, smooth: float, frame: str) -> dict[str, list[float]]:
    """Per sensor place, the mean per-axis correlation of each recording's virtual and recorded clip."""
    from harkd.data.timeseries import resample_time
    from harkd.data.utd_mhad import THIGH
    from harkd.data.virtual import VirtualInertial

    source = VirtualInertial(spec, smooth=smooth, frame=frame)
    out: dict[str, list[float]] = {"wrist": [], "thigh": []}
    for rec in index:
        if rec.subject not in subjects or rec.trial not in trials or not source.covers(rec):
            continue
        recorded = resample_time(spec.load(rec, "inertial", sensor="acc"), 128)
        made = resample_time(source.load(rec), 128)
        place = "thigh" if spec.sensor_site(rec, "inertial") is THIGH else "wrist"
        out[place].append(float(np.mean([np.corrcoef(recorded[:, c], made[:, c])[0, 1] for c in range(3)])))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", help="data root (default: $HARKD_DATA_ROOT)")
    ap.add_argument("--subjects", type=int, nargs="+", default=[1, 3, 5], help="training subjects only")
    ap.add_argument("--trials", type=int, nargs="+", default=[1])
    ap.add_argument("--smooth", type=float, nargs="+", default=[0.3, 0.5])
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if not use_data_root(args.root, "UTD-MHAD"):
        return 0
    from harkd.data import get_dataset

    spec = get_dataset("utd-mhad")
    index = spec.scan(Path(os.environ["HARKD_DATA_ROOT"]) / "UTD-MHAD")
    rows = []
    for frame in ("segment", "world"):
        for smooth in args.smooth:
            found = agreement(spec, index, set(args.subjects), set(args.trials), smooth, frame)
            rows.append({"frame": frame, "smooth_s": smooth,
                         **{f"{place}_r": statistics.mean(v) for place, v in found.items()},
                         **{f"{place}_n": len(v) for place, v in found.items()}})
    table = "\n".join(["| frame | smoothing (s) | wrist, actions 1-21: mean r (clips) | thigh, actions 22-27: mean r (clips) |",
                       "|---|---:|---:|---:|",
                       *(f"| {r['frame']} | {r['smooth_s']:g} | {r['wrist_r']:.3f} ({r['wrist_n']}) | "
                         f"{r['thigh_r']:.3f} ({r['thigh_n']}) |" for r in rows)])
    print(table)
    if args.no_write:
        return 0
    notes = [f"recordings of training subjects {', '.join(map(str, args.subjects))}, trials "
             f"{', '.join(map(str, args.trials))}; r: Pearson correlation per axis of the recorded and the virtual clip "
             "(both resampled to 128 samples), averaged over the three axes, then over the clips",
             "segment: the force in the forearm's / thigh's moving frame, then the fitted mounting rotation (harkd's "
             "twins); world: the same force in the skeleton's axes, then the fitted rotation"]
    replace_section(HERE / "RESULTS.md", "virtual-agreement", record_header(TITLE, *notes) + table + "\n")
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    (results / "virtual-agreement.json").write_text(json.dumps({
        "date": datetime.datetime.now().isoformat(timespec="seconds"), "machine": machine_description(),
        "command": command_line(), "subjects": args.subjects, "trials": args.trials, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(run_script(main))
