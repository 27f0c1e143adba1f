"""MMAct (Kong et al., ICCV 2019): phone/watch inertial streams and 4-camera video.

Layout under the root (folder names ``subject1`` or ``subject01``: digits are parsed,
padding is never assumed; file stems are action names like ``talking_on_phone``)::

    <stream>/subject{S}/scene{C}/session{E}/<action>.csv     stream: acc_phone, acc_watch, gyro, orientation
    subject{S}/cam{K}/scene{C}/session{E}/<action>.mp4       4 cameras (``video`` extra)

CSV rows are ``YYYYMMDD_HH:MM:SS.ffffff,x,y,z`` (acceleration m/s^2). A recording is
one take, key (subject, scene, session, action) written ``s{S}_sc{C}_se{E}_<action>``;
the 4 camera clips of a take share its sensor clips. Arrays are time first:

- each stream: (T, 3) float32 resampled onto a uniform ``rate`` Hz grid (default 100)
  from its own first timestamp;
- ``inertial``: phone accelerometer + gyroscope, (T, 6) float32 on the overlap of
  their timestamps (columns as UTD-MHAD: ``sensor="acc"|"gyro"|"all"``);
- ``video_cam{K}``: (T, H, W, 3) uint8.

Labels follow the 36 class names of the published work (the order of
``MMAct_classes.txt`` and ``MMAct_Glove.npy``); a file whose action is not one of
them (the release's 37th class, which no split uses) is skipped and reported.
Dataset ``mmact-views`` has one recording per take and camera (modality ``video``)
for the ``cross_view`` protocol.
"""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_left
from datetime import date
from pathlib import Path
from functools import partial
from typing import Callable, Mapping, Sequence

import numpy as np

from harkd.errors import ConfigError, DataError, InputError, warn
from harkd.data.readers import read_file
from harkd.data.recording import FileGroup, Recording, RecordingIndex
from harkd.data.registry import DatasetSpec, ModalitySpec, register_dataset
from harkd.data.timeseries import interpolate, uniform_grid
from harkd.data.utd_mhad import select_sensor
from harkd.data.video import read_video

#: Class names in the published order (label = index); ``MMAct_classes.txt`` verbatim.
CLASS_NAMES = (
    "carrying", "carrying heavy", "carrying light", "checking time", "closing", "crouching",
    "drinking", "entering", "exiting", "fall", "jumping", "kicking", "loitering", "looking around",
    "object transfering", "opening", "picking up", "pocket in", "pocket out", "pointing", "pulling",
    "pushing", "running", "setting down", "sitting", "sitting down", "standing", "standing up",
    "talking", "talking on phone", "throwing", "transferring large object", "using pc", "using phone",
    "walking", "waving hand",
)
#: Other spellings of a class in file names (normalised form -> class name).
ALIASES = {"transferring object": "object transfering", "object transferring": "object transfering",
           "transfering object": "object transfering", "transfering large object": "transferring large object"}

STREAMS = ("acc_phone", "acc_watch", "gyro", "orientation")
INERTIAL_STREAMS = ("acc_phone", "gyro")
NUM_SUBJECTS, NUM_SCENES, NUM_SESSIONS, NUM_CAMERAS = 20, 4, 5, 4
DEFAULT_RATE = 100.0
#: ``(name, unit)`` of each stream's columns (gyroscope in Android's rad/s; orientation has no channel list)
STREAM_CHANNELS = {
    "acc": tuple((f"acc_{a}", "m/s^2") for a in "xyz"),
    "gyro": tuple((f"gyro_{a}", "rad/s") for a in "xyz"),
}
#: Largest fraction of rows whose timestamp may be out of order (repaired as clock jitter).
MAX_OUT_OF_ORDER = 0.05

_FOLDER = {f: re.compile(rf"{f}[_ -]?(\d+)", re.IGNORECASE) for f in ("subject", "scene", "session", "cam")}
_STAMP = re.compile(r"(\d{4})(\d{2})(\d{2})_(\d{2}):(\d{2}):(\d{2}(?:\.\d{1,9})?)")
_EPOCH = date(1970, 1, 1).toordinal()


def normalise_action(text: str) -> str:
    """Lower case, ``_``/``-``/whitespace runs folded to one space: ``Talking_On-Phone`` -> ``talking on phone``."""
    return " ".join(re.split(r"[\s_\-]+", text.strip().lower())).strip()


_LABELS = {normalise_action(n): i for i, n in enumerate(CLASS_NAMES)}
_LABELS.update({k: _LABELS[v] for k, v in ALIASES.items()})


def action_label(stem: str) -> int:
    """0-based label of a file stem (``carrying_heavy``); ValueError(reason) if unknown."""
    label = _LABELS.get(normalise_action(stem))
    if label is None:
        raise ValueError(f"unknown action '{stem}' (not one of the {len(CLASS_NAMES)} MMAct classes)")
    return label


def action_stem(label: int) -> str:
    """File stem of a class in the release's style: ``talking_on_phone``."""
    return CLASS_NAMES[label].replace(" ", "_")


# -- CSV reading ------------------------------------------------------------------------
def _stamp_seconds(text: str, days: dict[str, float]) -> float | None:
    """Seconds since 1970-01-01 (clock time, no time zone) of ``YYYYMMDD_HH:MM:SS.ffffff``; None if invalid."""
    m = _STAMP.fullmatch(text)
    if m is None:
        return None
    y, mo, d, h, mi = (int(v) for v in m.groups()[:5])
    s = float(m.group(6))
    day = days.get(text[:8])
    if day is None:
        try:
            day = days[text[:8]] = (date(y, mo, d).toordinal() - _EPOCH) * 86400.0
        except ValueError:
            return None
    if h > 23 or mi > 59 or s >= 60:
        return None
    return day + h * 3600 + mi * 60 + s


def read_samples(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Validated raw samples of one CSV: times (N,) float64 seconds and values (N, 3) float64.

    Blank lines are ignored; every other row must be ``timestamp,x,y,z`` with finite
    numbers. Phone clocks jitter (the real sample has 6 of 890 rows stamped up to 45 ms
    late): rows off the longest increasing run of times keep their place and get a time
    interpolated from their neighbours (dropped at the ends), reported with
    :func:`harkd.errors.warn`; more than
    :data:`MAX_OUT_OF_ORDER` of the rows out of order is an error. Each problem is one
    DataError naming the line.
    """
    path = Path(path)
    try:
        lines = read_file(path).decode("utf-8").splitlines()
    except UnicodeDecodeError:
        raise DataError(path, "not a text file (cannot decode as UTF-8)") from None
    rows = [(n, line.strip()) for n, line in enumerate(lines, 1) if line.strip()]
    if not rows:
        raise DataError(path, "no data rows (only blank lines)")
    times, values, days = np.empty(len(rows)), np.empty((len(rows), 3)), {}
    for i, (n, line) in enumerate(rows):
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 4:
            raise DataError(path, f"line {n}: expected 4 comma-separated fields (timestamp,x,y,z), got {len(fields)}")
        t = _stamp_seconds(fields[0], days)
        if t is None:
            raise DataError(path, f"line {n}: bad timestamp '{fields[0]}' (expected YYYYMMDD_HH:MM:SS.ffffff)")
        times[i] = t
        for j, text in enumerate(fields[1:]):
            try:
                values[i, j] = float(text)
            except ValueError:
                raise DataError(path, f"line {n}: non-numeric value '{text}'") from None
    bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if bad.size:
        raise DataError(path, f"line {rows[bad[0]][0]}: NaN/inf value ({int((~np.isfinite(values)).sum())} in the file)")
    big = np.flatnonzero((np.abs(values) > np.finfo(np.float32).max).any(axis=1))
    if big.size:
        raise DataError(path, f"line {rows[big[0]][0]}: value beyond the float32 range "
                              f"({np.abs(values[big[0]]).max():g}; the samples are returned as float32)")
    if len(rows) < 2:
        raise DataError(path, f"only 1 data row (line {rows[0][0]}; need at least 2 samples to resample)")
    back = np.flatnonzero(np.diff(times) <= 0)
    if back.size:
        keep = _increasing_rows(times)
        off = len(times) - int(keep.sum())
        if off > MAX_OUT_OF_ORDER * len(times):
            (n0, prev), (n1, cur) = rows[back[0]], rows[back[0] + 1]
            raise DataError(path, f"line {n1}: timestamp {cur.split(',')[0].strip()} is not after line {n0}'s "
                                  f"{prev.split(',')[0].strip()} ({off} of {len(times)} rows out of time order; "
                                  f"at most {MAX_OUT_OF_ORDER:.0%} are repaired as clock jitter)")
        # rows off the increasing sequence keep their place; their time is interpolated by row number
        idx = np.arange(len(times))
        times = np.interp(idx, idx[keep], times[keep])
        inside = slice(int(np.argmax(keep)), len(keep) - int(np.argmax(keep[::-1])))
        retimed = int((~keep[inside]).sum())
        done = [f"{retimed} re-timed from their neighbours" if retimed else "",
                f"{off - retimed} at the ends dropped" if off > retimed else ""]
        warn(f"{path}: {off} of {len(keep)} rows out of time order (clock jitter; first at line "
             f"{rows[int(np.argmin(keep))][0]}): {', '.join(d for d in done if d)}")
        times, values = times[inside], values[inside]
        if len(times) < 2:
            raise DataError(path, f"only {len(times)} row in time order (need at least 2 samples to resample)")
    return times, values


def _increasing_rows(times: np.ndarray) -> np.ndarray:
    """Mask of a longest strictly increasing subsequence of ``times`` (the rows whose clock is consistent)."""
    tails: list[float] = []
    tail_rows: list[int] = []
    parent = np.full(len(times), -1)
    for i, t in enumerate(times):
        j = bisect_left(tails, t)
        parent[i] = tail_rows[j - 1] if j else -1
        if j == len(tails):
            tails.append(t)
            tail_rows.append(i)
        else:
            tails[j], tail_rows[j] = t, i
    keep = np.zeros(len(times), dtype=bool)
    i = tail_rows[-1]
    while i >= 0:
        keep[i] = True
        i = parent[i]
    return keep


def _check_rate(rate: float) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.number)) or not 0 < rate < 1e5:
        raise InputError(f"rate must be a positive number of Hz, got {rate!r}")
    return float(rate)


def resample_uniform(times: np.ndarray, values: np.ndarray, rate: float,
                     start: float | None = None, stop: float | None = None) -> np.ndarray:
    """Linear interpolation of ``values`` (N, C) at ``times`` onto ``start + k / rate`` up to ``stop``; float32."""
    rate = _check_rate(rate)
    start = times[0] if start is None else start
    stop = times[-1] if stop is None else stop
    return interpolate(values, times, uniform_grid(start, stop, rate)).astype(np.float32)


def read_stream(path: str | Path, rate: float = DEFAULT_RATE, sensor: str = "all", kind: str = "") -> np.ndarray:
    """(T, 3) float32 stream resampled to ``rate`` Hz from its first timestamp.

    ``sensor`` is ``"all"`` or the stream's ``kind`` (``acc``/``gyro``), so the
    inertial transform's ``sensor`` option works on a single stream.
    """
    if sensor not in ("all", kind or "all"):
        valid = " or ".join(repr(v) for v in dict.fromkeys(("all", kind or "all")))
        raise ConfigError(f"sensor must be {valid} for this MMAct stream (3 columns), got {sensor!r}")
    times, values = read_samples(path)
    return resample_uniform(times, values, rate)


def _clock(t: float) -> str:
    return f"{int(t // 3600 % 24):02d}:{int(t // 60 % 60):02d}:{t % 60:06.3f}"


def read_streams(paths: Sequence[str | Path], rate: float = DEFAULT_RATE) -> np.ndarray:
    """Several streams of one take as one (T, 3 * len(paths)) float32 sensor.

    All are resampled at ``rate`` Hz over the overlap of their timestamps (they may
    start and stop at different times and run at different rates); no overlap is a
    DataError naming the stream that starts after another one ends.
    """
    samples = [read_samples(p) for p in paths]
    start, stop = max(t[0] for t, _ in samples), min(t[-1] for t, _ in samples)
    if stop < start:
        late = int(np.argmax([t[0] for t, _ in samples]))
        early = int(np.argmin([t[-1] for t, _ in samples]))
        (tl, _), (te, _) = samples[late], samples[early]
        raise DataError(Path(paths[late]), f"no time overlap with {paths[early]} (this stream covers "
                                           f"{_clock(tl[0])}-{_clock(tl[-1])}, that one {_clock(te[0])}-{_clock(te[-1])})")
    return np.concatenate([resample_uniform(t, v, rate, start, stop) for t, v in samples], axis=1)


def read_inertial(paths: Mapping[str, Path] | Sequence[str | Path], sensor: str = "all",
                  rate: float = DEFAULT_RATE) -> np.ndarray:
    """Phone acc (m/s^2) + gyro as (T, 6|3) float32 on their common time base; ``sensor`` as UTD-MHAD.

    ``paths``: the two CSVs, or the recording's :class:`FileGroup` (acc_phone, gyro).
    """
    select_sensor(np.empty((0, 6)), sensor)  # ConfigError before any reading
    paths = list(paths.values()) if isinstance(paths, Mapping) else list(paths)
    return np.ascontiguousarray(select_sensor(read_streams(paths, rate), sensor))


# -- the dataset ------------------------------------------------------------------------
def _folder_id(kind: str, name: str) -> int:
    m = _FOLDER[kind].fullmatch(name)
    if m is None:
        raise ValueError(f"folder '{name}' is not {kind}{{N}}")
    return int(m.group(1))


def _take_key(f: dict[str, int]) -> str:
    return f"s{f['subject']}_sc{f['scene']}_se{f['session']}_{action_stem(f['action'])}"


def _path_pattern(first: str, kinds: tuple[str, ...], suffix: str) -> re.Pattern:
    """``<kind folder>/.../<action>.<suffix>`` (suffix in any case); the first folder must match ``first``."""
    folders = [f"(?P<{kinds[0]}>{first})", *(f"(?P<{k}>[^/]+)" for k in kinds[1:])]
    return re.compile("/".join(folders) + rf"/(?P<action>[^/.][^/]*)\.(?i:{suffix})")


_HIDDEN = r"(?:.*/)?\.[^/]*"  # .DS_Store, ._* (passed over silently)
_SUBJECT = r"(?i:subject)[_ -]?\d+"
_SENSOR_FOLDERS = "subject{N}/scene{N}/session{N}/{action}.csv"
_VIDEO_FOLDERS = "subject{N}/cam{N}/scene{N}/session{N}/{action}.mp4"


class MMAct(DatasetSpec):
    """MMAct; key (subject, scene, session, action), label = class index.

    ``views=True`` (dataset ``mmact-views``) makes one recording per take and camera
    (key ``..._cam{K}``, modality ``video``) that carries the take's sensor files.
    """

    key_fields = ("subject", "scene", "session", "action")
    class_names = CLASS_NAMES
    unknown_name = "unexpected file"
    subject_protocols = ("cross_subject",)
    val_subject_count = 2

    def __init__(self, views: bool = False):
        self.views = views
        self.name = "mmact-views" if views else "mmact"
        self.folder = "MMAct"
        self.glove_prefix = "MMAct"
        csv = _path_pattern(r"[^/]+", ("subject", "scene", "session"), "csv")
        self._streams = tuple(
            ModalitySpec(s, s, csv, f"{s}/{_SENSOR_FOLDERS}", "",
                         partial(read_stream, kind=s.split("_")[0] if s != "orientation" else ""),
                         "(T, 3) float32 at rate Hz", ("rate", "sensor"), glob="**/*", ignore=_HIDDEN,
                         transform="inertial", rate=DEFAULT_RATE, rate_option="rate",
                         channels=STREAM_CHANNELS.get(s.split("_")[0], ()))
            for s in STREAMS)
        inertial = ModalitySpec("inertial", "acc_phone", csv, "acc_phone/ + gyro/ CSVs", "",
                                read_inertial, "(T, 6) float32 [acc m/s^2, gyro]", ("sensor", "rate"),
                                rate=DEFAULT_RATE, rate_option="rate",
                                channels=STREAM_CHANNELS["acc"] + STREAM_CHANNELS["gyro"])
        mp4 = _path_pattern(_SUBJECT, ("subject", "cam", "scene", "session"), "mp4")
        cams = ["video"] if views else [f"video_cam{k}" for k in range(1, NUM_CAMERAS + 1)]
        videos = [ModalitySpec(c, "", mp4, _VIDEO_FOLDERS, "", read_video, "(T, H, W, 3) uint8", cheap=False,
                               glob="*[0-9]/**/*", ignore=rf"{_HIDDEN}|(?!{_SUBJECT}/).*") for c in cams]
        #: every camera's clips are scanned as one modality ``video`` (the camera is a key field)
        self._video = dataclasses.replace(videos[0], name="video")
        self.modality_specs = (*self._streams, inertial, *videos)
        #: name -> predicate, True for the training side.
        self.protocols = {
            "cross_subject": lambda r: r.subject <= 16,
            "cross_scene": lambda r: r.attrs["scene"] != 2,
            "cross_session": lambda r: r.attrs["session"] <= 4,
        }
        if views:
            self.protocols["cross_view"] = lambda r: r.attrs["cam"] <= 3

    def protocol(self, name: str) -> Callable[[Recording], bool]:
        if name == "cross_view" and not self.views:
            raise ConfigError("mmact protocol 'cross_view' splits camera views, but an mmact recording is a whole "
                              "take (all cameras, one set of sensor clips): use dataset 'mmact-views' "
                              "(one recording per take and camera; cams 1-3 train, cam 4 test)")
        return super().protocol(name)

    @property
    def scan_specs(self) -> tuple[ModalitySpec, ...]:
        """The four sensor streams and the camera clips (``inertial`` is assembled from two streams)."""
        return (*self._streams, self._video)

    def parse_fields(self, mod: ModalitySpec, groups: dict[str, str]) -> dict[str, int]:
        """Folder numbers (``subject01`` -> 1, padding never assumed) and the action label of the file stem."""
        fields = {k: _folder_id(k, v) for k, v in groups.items() if k != "action"}
        return {**fields, "action": action_label(groups["action"])}

    def make_recording(self, fields: dict[str, int], files: dict[str, Path]) -> Recording:
        tops = {"subject": NUM_SUBJECTS, "scene": NUM_SCENES, "session": NUM_SESSIONS, "cam": NUM_CAMERAS}
        for what, value in fields.items():
            if what in tops and not 1 <= value <= tops[what]:
                raise ValueError(f"{what} {value} outside 1..{tops[what]}")
        key = _take_key(fields) + (f"_cam{fields['cam']}" if "cam" in fields else "")
        return Recording(key=key, label=fields["action"], subject=fields["subject"], trial=fields["session"],
                         attrs=dict(fields), files=dict(files))

    def scan(self, root: str | Path, strict: bool = False, validate: bool = False) -> RecordingIndex:
        """Index the takes under ``root`` (see the module layout) with the generic scan.

        Unexpected paths, folder names without digits, unknown actions, out-of-range
        ids, empty files and duplicate keys (``subject1`` and ``subject01``: the first in
        sorted order wins) are skipped and reported in ``index.skipped``; ``strict=True``
        raises the first as DataError; ``validate=True`` also reads every CSV.
        A take lacking a stream simply lacks that modality (``index.missing()``).
        """
        index = super().scan(root, strict, validate)
        if not len(index) and not index.skipped:
            raise DataError(index.root, f"no {self.name} data found (expected any of "
                                        f"{', '.join(s + '/' for s in STREAMS)} or subject{{N}}/ video folders)")
        takes: dict[str, tuple[dict[str, int], dict[str, Path]]] = {}
        for rec in index:  # (take, camera) entries follow their take's sensor entry
            fields = {k: v for k, v in rec.attrs.items() if k != "cam"}
            files = takes.setdefault(_take_key(fields), (fields, {}))[1]
            if "cam" in rec.attrs:
                files[f"video_cam{rec.attrs['cam']}"] = rec.files["video"]
            else:
                files.update(rec.files)
        recordings = []
        for fields, files in takes.values():
            sensors = {m: p for m, p in files.items() if m in STREAMS}
            if all(s in sensors for s in INERTIAL_STREAMS):
                sensors["inertial"] = FileGroup({s: sensors[s] for s in INERTIAL_STREAMS})
            if not self.views:
                recordings.append(self.make_recording(fields, {**files, **sensors}))
                continue
            for slot, path in sorted((m, p) for m, p in files.items() if m not in STREAMS):
                cam = int(slot[len("video_cam"):])
                recordings.append(self.make_recording({**fields, "cam": cam}, {**sensors, "video": path}))
        return RecordingIndex(self.name, index.root, recordings, index.skipped)

    def expected_path(self, recording: Recording, modality: str) -> Path:
        """Where ``modality`` of ``recording`` would be (unpadded folder names), relative to the root."""
        a = recording.attrs
        take = Path(f"scene{a['scene']}", f"session{a['session']}")
        if modality.startswith("video"):
            cam = a["cam"] if modality == "video" else int(modality[len("video_cam"):])
            return Path(f"subject{a['subject']}", f"cam{cam}", take, f"{action_stem(a['action'])}.mp4")
        return Path(modality, f"subject{a['subject']}", take, f"{action_stem(a['action'])}.csv")

    def path_for(self, recording: Recording, modality: str, root: str | Path | None = None):
        """The file of ``modality`` (``inertial``: a FileGroup); DataError naming the missing file."""
        self.modality(modality)
        if modality == "inertial" and modality not in recording.files:
            for stream in INERTIAL_STREAMS:
                self.path_for(recording, stream, root)
        path = recording.files.get(modality)
        if path is None:
            expected = self.expected_path(recording, modality)
            raise DataError(Path(root) / expected if root is not None else expected,
                            f"missing {modality} file for recording {recording.key}")
        return path


MMACT = register_dataset(MMAct())
MMACT_VIEWS = register_dataset(MMAct(views=True))
