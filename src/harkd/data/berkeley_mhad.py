"""Berkeley-MHAD: 11 actions x 12 subjects x 5 repetitions, accelerometers / skeleton / mocap.

Layout under the root (one recording = key ``sSS_aAA_rRR``):

- ``Accelerometer/Shimmer0H/acc_h0H_sSS_aAA_rRR.txt``: six Shimmer accelerometers
  (H = 1..6), whitespace rows ``x y z unix_time`` (g, saturating at +-2 g; unix seconds;
  uneven ~30-40 Hz, median interval ~0.026 s).
- ``Time_stamps/time_stamps_img_sSS_aAA_rRR.txt``: camera frames, rows ``frame unix_time``
  (~21 fps; the ``_bNN``/``_t-pose`` background captures are ignored).
- ``Front-Facing/D-Mocap/K1_kinect_SSS_AAA_RRR.mat``: ``frontKinect`` (T, 16, 3), the
  skeleton from the front Kinect, millimetres, z up, joint 0 at x = y = 0. Its frames span
  the camera's time stamps at ~30 Hz (measured on subject 1: (T - 1) / span = 26.7-30.6
  fps, median 30.1), so it aligns with the accelerometers by normalised time over the
  camera span (``window="camera"``).
- ``Front-Facing/Mocap/K1_mocap_SSS_AAA_RRR.mat``: one variable named like the file,
  (T, 16, 3) millimetres, y up, frame-aligned with D-Mocap (same T, same joints).
- ``Camera/ClusterCC/CamKK/SSS/AAA/RRR/img_lCC_cKK_sSS_aAA_rRR_IIIII.pgm`` (optional):
  grey frames of each camera, one folder per camera and recording (modality ``camera``).

Skeleton and mocap are returned in metres (float32, axes as in the files) with the joint
order :data:`JOINT_NAMES` (graph layout ``berkeley_dmocap16``), found from the data:
constant mocap bone lengths give the tree; the arm that moves in "waving one hand"
(right hand) gives the sides.

Accelerometers are synchronised on the shared unix clock: every requested stream is
linearly interpolated on its own time stamps onto one grid at ``rate`` Hz over the
window where all of them (and, with ``window="camera"``, the camera) have data. Streams
that do not overlap, a missing stream file or a gap longer than ``max_gap`` seconds
are a :class:`~harkd.errors.DataError` naming the file.

Gaps, measured on the full release (3948 accelerometer files): the Shimmers go up to
1.19 s without a sample. Eleven files have a gap over 1 s (:data:`RELEASE_GAPS`: ten of
Shimmer03 in subjects 3, 5 and 9, one of Shimmer04 in s07_a07_r02), and below 1 s the gap
lengths are continuous (0.98, 0.96, 0.94 s, ...), so these are ordinary sensor dropouts,
not broken files. The default ``max_gap`` is therefore 2 s (well above the longest gap):
gaps up to it are linearly interpolated like every other interval, and a gap over
:data:`REPORTED_GAP` (1 s) is also reported with :func:`harkd.errors.warn` naming the file,
the gap and the row. A smaller ``max_gap`` (e.g. 1) turns those recordings into errors
instead (with ``data.on_error: skip`` they are left out and reported).

The release lacks the accelerometers of s02_a07_r05 (:data:`MISSING_ACCELEROMETERS`) and
all of s04_a08_r05 (:data:`MISSING`); a scan reports both (``harkd data info``).
"""

from __future__ import annotations

import re
import warnings
from functools import partial
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from harkd.errors import ConfigError, DataError, unknown_key_message
from harkd.data.readers import MatVar, read_file, read_mat
from harkd.data.recording import FileGroup, Recording
from harkd.data.registry import DatasetSpec, ModalitySpec, register_dataset
from harkd.data.timeseries import DEFAULT_MAX_GAP, REPORTED_GAP, checked_times, interpolate, uniform_grid  # noqa: F401

#: Class names in the dataset definition's order (label = action id - 1).
CLASS_NAMES = (
    "jumping in place",
    "jumping jacks",
    "bending",
    "punching",
    "waving two hands",
    "waving one hand",
    "clapping hands",
    "throwing a ball",
    "sit down then stand up",
    "sit down",
    "stand up",
)

#: D-Mocap / mocap joint order (0-based), measured on the real data (see the module docstring).
JOINT_NAMES = (
    "hip_center",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
    "neck",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_shoulder", "right_elbow", "right_wrist",
)
HIP_CENTER = JOINT_NAMES.index("hip_center")

NUM_SUBJECTS, NUM_ACTIONS, NUM_REPETITIONS = 12, 11, 5
ACCELEROMETERS = (1, 2, 3, 4, 5, 6)
#: (subject, action, repetition) keys absent from the official release (every modality).
MISSING = ((4, 8, 5),)
#: (subject, action, repetition) keys of the release without any accelerometer file.
MISSING_ACCELEROMETERS = ((2, 7, 5),)
#: The release's accelerometer gaps over :data:`REPORTED_GAP`: (accelerometer, subject, action,
#: repetition) -> (seconds without a sample, data row after the gap), measured on the real files.
RELEASE_GAPS = {
    (3, 3, 3, 1): (1.115, 173), (3, 3, 3, 2): (1.078, 164), (3, 3, 3, 3): (1.101, 153),
    (3, 3, 9, 2): (1.154, 46), (3, 3, 9, 3): (1.053, 33),
    (3, 5, 3, 1): (1.112, 258), (3, 5, 3, 3): (1.132, 462), (3, 5, 3, 4): (1.097, 175),
    (3, 5, 3, 5): (1.194, 274), (3, 9, 10, 2): (1.019, 106), (4, 7, 7, 2): (1.083, 18),
}
DEFAULT_RATE = 30.0
WINDOWS = ("overlap", "camera")

_KEY = r"s(?P<subject>\d+)_a(?P<action>\d+)_r(?P<repetition>\d+)"
_MAT_KEY = r"S(?P<subject>\d+)_A(?P<action>\d+)_R(?P<repetition>\d+)"
_DIR_KEY = r"S(?P<subject>\d+)/A(?P<action>\d+)/R(?P<repetition>\d+)"
_MAT_NAME = "K1_{kind}_S{{subject:02d}}_A{{action:02d}}_R{{repetition:02d}}.mat"
ACC_COLUMNS = "x y z unix_time"
CAMERA_COLUMNS = "frame unix_time"

DMOCAP = MatVar("frontKinect", (None, 16, 3), time_axis=0, dtype_kind="f", out_dtype="float32")


def key_of(subject: int, action: int, repetition: int) -> str:
    """The recording key, e.g. ``s01_a05_r02``."""
    return f"s{subject:02d}_a{action:02d}_r{repetition:02d}"


# -- text files ------------------------------------------------------------------------
_FLOAT32_MAX = float(np.finfo(np.float32).max)


def read_table(path: str | Path, columns: str) -> np.ndarray:
    """Whitespace-separated numeric rows with the fields named in ``columns`` -> (N, C) float64.

    Blank lines are ignored. An unreadable file, a row with the wrong number of
    values, a non-numeric, NaN/inf or beyond-float32 value, or no rows at all is one DataError.
    Parsed by :func:`numpy.loadtxt` (the full release's 3948 files: 0.6 s instead of
    6 s line by line); a file it rejects is re-read line by line for the exact message.
    """
    path = Path(path)
    names = columns.split()
    try:
        text = read_file(path).decode("ascii")
    except UnicodeDecodeError as err:
        raise DataError(path, f"not a text file (non-ASCII byte at offset {err.start})") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # loadtxt warns on a file without rows
            table = np.loadtxt(text.splitlines(), dtype=np.float64, comments=None, ndmin=2)
    except ValueError:
        table = None
    if (table is not None and table.shape[0] and table.shape[1] == len(names) and np.isfinite(table).all()
            and (np.abs(table) <= _FLOAT32_MAX).all()):
        return table
    return _read_table_lines(path, text, columns)


def _read_table_lines(path: Path, text: str, columns: str) -> np.ndarray:
    """:func:`read_table`'s line-by-line validator: the first bad line as one DataError."""
    names = columns.split()
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(names):
            raise DataError(path, f"line {n}: expected {len(names)} values ({columns}), got {len(fields)}")
        row = []
        for value in fields:
            try:
                row.append(float(value))
            except ValueError:
                raise DataError(path, f"line {n}: non-numeric value '{value}'") from None
        if not all(np.isfinite(row)):
            raise DataError(path, f"line {n}: NaN/inf value")
        if max(map(abs, row)) > _FLOAT32_MAX:
            raise DataError(path, f"line {n}: value beyond the float32 range ({max(map(abs, row)):g}; "
                                  "the samples are returned as float32)")
        rows.append(row)
    if not rows:
        raise DataError(path, f"no data rows (expected {columns})")
    return np.asarray(rows, dtype=np.float64)


def read_stream(path: str | Path, max_gap: float | None = DEFAULT_MAX_GAP) -> tuple[np.ndarray, np.ndarray]:
    """One accelerometer file -> (values (N, 3) float64 in g, unix times (N,) in seconds)."""
    path = Path(path)
    table = read_table(path, ACC_COLUMNS)
    keep = checked_times(path, table[:, 3], max_gap)
    return table[keep, :3], table[keep, 3]


def read_camera_times(path: str | Path) -> np.ndarray:
    """Camera time stamps file -> (N, 2) float64 ``[frame index, unix time]`` (at least 2 frames)."""
    path = Path(path)
    table = read_table(path, CAMERA_COLUMNS)
    checked_times(path, table[:, 1], what="frame time stamp")
    return table


# -- synchronisation -------------------------------------------------------------------
def common_grid(spans: Mapping[Path, tuple[float, float]], rate: float, what: str) -> np.ndarray:
    """Times at ``rate`` Hz over the intersection of ``spans`` (path -> (start, end) seconds);
    a DataError naming the stream that leaves fewer than 2 samples in common."""
    start = max(s for s, _ in spans.values())
    end = min(e for _, e in spans.values())
    if (end - start) * rate >= 1 - 1e-6:
        return uniform_grid(start, end, rate, slack=1e-6)  # this reader's slack, so results stay bit-identical
    if len(spans) == 1:
        path, (s, e) = next(iter(spans.items()))
        raise DataError(path, f"covers only {e - s:.3f} s: fewer than 2 samples at {rate:g} Hz")

    def others(path: Path) -> tuple[float, float]:
        rest = [v for p, v in spans.items() if p != path] or [spans[path]]
        return max(s for s, _ in rest), min(e for _, e in rest)

    culprit = max(spans, key=lambda p: others(p)[1] - others(p)[0])  # the one whose removal helps most
    (s, e), (os_, oe) = spans[culprit], others(culprit)
    raise DataError(culprit, f"does not overlap the other {what} on the shared clock: it covers "
                             f"{s:.3f}-{e:.3f} s, they share {os_:.3f}-{oe:.3f} s "
                             f"(need at least 2 samples at {rate:g} Hz in common)")


def sibling(path: Path, accelerometer: int) -> Path:
    """The file of accelerometer ``accelerometer`` of the same recording as accelerometer file ``path``."""
    name = re.sub(r"^acc_h\d+", f"acc_h{accelerometer:02d}", path.name)
    return path.parent.parent / f"Shimmer{accelerometer:02d}" / name


def camera_file(path: Path) -> Path:
    """The camera time stamps file of the recording of accelerometer file ``path``."""
    key = re.search(_KEY, path.name)
    return path.parent.parent.parent / "Time_stamps" / f"time_stamps_img_{key.group(0) if key else path.stem}.txt"


def _ids(value, option: str) -> tuple[int, ...]:
    """Accelerometer ids from an int or a list of ints, each 1-6 and unique."""
    values = [value] if isinstance(value, (int, np.integer)) else value
    try:
        values = list(values)
    except TypeError:
        values = [value]
    ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v in ACCELEROMETERS for v in values)
    if not ok or len(set(values)) != len(values):
        raise ConfigError(f"Berkeley-MHAD option '{option}' must list distinct accelerometer ids 1-6, got {value!r}")
    return tuple(int(v) for v in values)


def _accelerometer_of(path: Path) -> int | None:
    match = re.match(r"acc_h(\d+)_", path.name)
    return int(match.group(1)) if match else None


def read_accelerometers(files: FileGroup | Mapping[int, Path] | str | Path,
                        accelerometers: Iterable[int] | None = None, rate: float = DEFAULT_RATE,
                        sync_with: Iterable[int] = (), window: str = "overlap",
                        max_gap: float = DEFAULT_MAX_GAP, sensor: str = "all") -> np.ndarray:
    """The ``accelerometers`` of one recording synchronised on the shared clock -> (T, 3k) float32 g.

    ``files`` maps accelerometer id -> file (a path: that one accelerometer); files of
    ids it lacks are looked up beside the given ones. ``accelerometers`` defaults to all
    six (for a single path: its own); columns are x, y, z of each, in that order. The
    grid runs at ``rate`` Hz over the window covered by every stream of ``accelerometers``
    and ``sync_with`` (extra ids that only bound the window, so separately loaded
    accelerometers share one time base) and, with ``window="camera"``, by the camera.
    ``sensor`` (``acc``/``all``) is accepted for the inertial transform (no gyroscope).
    A stream's gaps up to ``max_gap`` seconds (default 2: the release has up to 1.19 s) are
    interpolated, those over 1 s reported; a longer gap is a DataError naming the file.
    """
    if sensor not in ("acc", "all"):
        raise ConfigError("Berkeley-MHAD sensor must be 'acc' or 'all' (accelerometers only, no gyroscope), "
                          f"got {sensor!r}")
    if window not in WINDOWS:
        raise ConfigError(unknown_key_message("Berkeley-MHAD window", str(window), WINDOWS))
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 1000:
        raise ConfigError(f"Berkeley-MHAD option 'rate' must be a number of Hz in (0, 1000], got {rate!r}")
    if isinstance(max_gap, bool) or not isinstance(max_gap, (int, float)) or max_gap <= 0:
        raise ConfigError(f"Berkeley-MHAD option 'max_gap' must be a positive number of seconds, got {max_gap!r}")
    if isinstance(files, (str, Path)):
        files = {_accelerometer_of(Path(files)) or 1: Path(files)}
    if not files:
        raise ConfigError("read_accelerometers needs at least one accelerometer file")
    files = {int(h): Path(p) for h, p in files.items()}
    if accelerometers is None:
        accelerometers = tuple(files) if len(files) == 1 else ACCELEROMETERS
    selected = _ids(accelerometers, "accelerometers")
    if not selected:
        raise ConfigError("Berkeley-MHAD option 'accelerometers' must name at least one accelerometer (1-6)")
    some = next(iter(files.values()))
    streams = {}
    for h in dict.fromkeys(selected + _ids(sync_with, "sync_with")):
        path = Path(files[h]) if h in files else sibling(some, h)
        if not path.is_file():
            raise DataError(path, f"missing accelerometer {h} (Shimmer{h:02d}) file of this recording")
        streams[h] = (path, *read_stream(path, max_gap))
    spans = {path: (t[0], t[-1]) for path, _, t in streams.values()}
    if window == "camera":
        cam = camera_file(some)
        if not cam.is_file():
            raise DataError(cam, "missing camera time stamps file (needed by window='camera')")
        times = read_camera_times(cam)[:, 1]
        spans[cam] = (times[0], times[-1])
    grid = common_grid(spans, float(rate), "streams of this recording")
    out = [interpolate(values, t, grid) for _, values, t in (streams[h] for h in selected)]
    return np.ascontiguousarray(np.concatenate(out, axis=1), dtype=np.float32)


# -- skeletons ---------------------------------------------------------------------------
def read_dmocap(path: str | Path) -> np.ndarray:
    """(T, 16, 3) float32 D-Mocap skeleton (``frontKinect``) in metres."""
    return read_mat(path, DMOCAP) / np.float32(1000.0)


def read_mocap(path: str | Path) -> np.ndarray:
    """(T, 16, 3) float32 optical mocap skeleton (variable named like the file) in metres."""
    path = Path(path)
    return read_mat(path, MatVar(path.stem, (None, 16, 3), 0, "f", "float32")) / np.float32(1000.0)


# -- camera frames -----------------------------------------------------------------------
def read_pgm(path: str | Path) -> np.ndarray:
    """One binary (P5) PGM image -> (H, W) uint8, or uint16 when its maxval exceeds 255."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DataError(path, f"cannot read file ({err.strerror or err})") from None
    header = re.match(rb"P5(?:\s+|#[^\n]*\n)+(\d+)(?:\s+|#[^\n]*\n)+(\d+)(?:\s+|#[^\n]*\n)+(\d+)\s", data)
    if header is None:
        raise DataError(path, "not a binary PGM image (no 'P5 width height maxval' header)")
    w, h, maxval = (int(v) for v in header.groups())
    dtype = np.dtype(">u2") if maxval > 255 else np.dtype("u1")
    pixels = data[header.end():]
    if len(pixels) < w * h * dtype.itemsize:
        raise DataError(path, f"truncated PGM image ({len(pixels)} of {w * h * dtype.itemsize} pixel bytes)")
    return np.frombuffer(pixels, dtype, w * h).reshape(h, w).astype(dtype.newbyteorder("="))


def read_camera(files: FileGroup | Mapping[str, Path] | str | Path, camera: str | None = None) -> np.ndarray:
    """The frames of one camera of a recording -> (T, H, W) uint8 (frame-index order).

    ``files`` maps ``"ClusterCC/CamKK"`` -> that camera's frame folder (or is one folder);
    ``camera`` picks one (default: the first present).
    """
    if isinstance(files, (str, Path)):
        folder = Path(files)
    else:
        if camera is None:
            camera = next(iter(sorted(files)), None)
        if camera not in files:
            raise ConfigError(unknown_key_message("Berkeley-MHAD camera", str(camera), files))
        folder = Path(files[camera])
    frames = sorted(folder.glob("img_*.pgm"))
    if not frames:
        raise DataError(folder, "no img_*.pgm frames in this camera folder")
    if len(frames) < 2:
        raise DataError(folder, f"only 1 frame ({frames[0].name}) in this camera folder (need at least 2)")
    images = [read_pgm(f) for f in frames]
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        bad, im = next((f, im) for f, im in zip(frames, images) if im.shape != images[0].shape)
        raise DataError(bad, f"frame size {im.shape} differs from the first frame's {images[0].shape}")
    return np.stack(images)


# -- the dataset -------------------------------------------------------------------------
_ACC_OPTIONS = ("rate", "sync_with", "window", "max_gap", "sensor")
_ACC_PATTERN = re.compile(rf"Shimmer(?P<part>0[1-6])/acc_h(?P=part)_{_KEY}\.txt")
_ACC_LAYOUT = "(T, 3) float32 g at `rate` Hz"


def accelerometer_channels(accelerometers: Iterable[int]) -> tuple[tuple[str, str], ...]:
    """``(name, unit)`` of the columns of ``accelerometers`` as loaded: ``acc{H}_x``, ... in g."""
    return tuple((f"acc{h}_{axis}", "g") for h in accelerometers for axis in "xyz")


def _accelerometer_modality(name: str, reader, layout: str, options, cheap: bool = True,
                            accelerometers: tuple[int, ...] = ACCELEROMETERS) -> ModalitySpec:
    return ModalitySpec(name, "Accelerometer", _ACC_PATTERN, "ShimmerHH/acc_hHH_sSS_aAA_rRR.txt",
                        "Shimmer{part}/acc_h{part}_{key}.txt", reader, layout, tuple(options), cheap,
                        glob="*/*", parts=tuple(f"{h:02d}" for h in ACCELEROMETERS), transform="inertial",
                        rate=DEFAULT_RATE, rate_option="rate", channels=accelerometer_channels(accelerometers))


class BerkeleyMHAD(DatasetSpec):
    """Berkeley-MHAD (Ofli et al., WACV 2013); key (subject, action, repetition), label action - 1.

    Modalities: ``inertial`` (any subset of the six accelerometers, option
    ``accelerometers``, synchronised: (T, 3k)); ``acc1``..``acc6`` (one accelerometer each,
    on the time base of all six by default, for one branch per sensor); ``skeleton``
    (D-Mocap) and ``mocap`` ((T, 16, 3) metres); ``timestamps`` (camera, (N, 2)); ``camera``
    (the release's PGM frames of one camera, option ``camera="Cluster01/Cam01"``).
    """

    name = "berkeley-mhad"
    folder = "Berkeley-MHAD"
    glove_prefix = "Berkeley"
    class_names = CLASS_NAMES
    key_fields = ("subject", "action", "repetition")
    modality_specs = (
        _accelerometer_modality("inertial", read_accelerometers,
                                "(T, 3k) float32 g, k accelerometers synchronised at `rate` Hz",
                                ("accelerometers", *_ACC_OPTIONS)),
        *(_accelerometer_modality(f"acc{h}", partial(read_accelerometers, accelerometers=(h,),
                                                     sync_with=ACCELEROMETERS), _ACC_LAYOUT, _ACC_OPTIONS, cheap=False,
                                  accelerometers=(h,))
          for h in ACCELEROMETERS),
        ModalitySpec("skeleton", "Front-Facing/D-Mocap", re.compile(rf"K1_kinect_{_MAT_KEY}\.mat"),
                     "K1_kinect_SSS_AAA_RRR.mat", _MAT_NAME.format(kind="kinect"), read_dmocap,
                     "(T, 16, 3) float32 metres (D-Mocap)"),
        ModalitySpec("mocap", "Front-Facing/Mocap", re.compile(rf"K1_mocap_{_MAT_KEY}\.mat"),
                     "K1_mocap_SSS_AAA_RRR.mat", _MAT_NAME.format(kind="mocap"), read_mocap,
                     "(T, 16, 3) float32 metres (optical mocap)", transform="skeleton"),
        ModalitySpec("camera", "Camera", re.compile(rf"(?P<part>Cluster\d+/Cam\d+)/{_DIR_KEY}"),
                     "ClusterCC/CamKK/SSS/AAA/RRR/", "{part}/S{subject:02d}/A{action:02d}/R{repetition:02d}",
                     read_camera, "(T, H, W) uint8 grey frames of one camera", ("camera",), cheap=False,
                     glob="Cluster*/Cam*/S*/A*/R*", transform="depth", directories=True),
        ModalitySpec("timestamps", "Time_stamps", re.compile(rf"time_stamps_img_{_KEY}\.txt"),
                     "time_stamps_img_sSS_aAA_rRR.txt", "time_stamps_img_{key}.txt", read_camera_times,
                     "(N, 2) float64 [frame, unix s]", ignore=r"time_stamps_img_s\d+_(b\d+|t-pose)\.txt"),
    )
    #: name -> predicate, True for the training side. ``subject_specific`` (repetitions 1-3 /
    #: 4-5 of every subject) is for smoke tests and per-subject studies, e.g. on subject 1 alone.
    protocols = {
        "cross_subject": lambda r: r.subject <= 7,
        "subject_specific": lambda r: r.trial <= 3,
    }
    subject_protocols = ("cross_subject",)
    val_subject_count = 1

    def channels(self, modality: str, sensor: str = "all", load: Mapping | None = None):
        """The columns of the loaded accelerometers (``load`` option ``accelerometers``, default all
        six); ``sensor`` ``acc`` and ``all`` both keep every column (no gyroscope)."""
        if modality == "inertial" and (load or {}).get("accelerometers") is not None:
            names = accelerometer_channels(_ids(load["accelerometers"], "accelerometers"))
            return [n for n, _ in names], [u for _, u in names], list(range(len(names)))
        return super().channels(modality, "all" if sensor == "acc" else sensor, load)

    def make_recording(self, fields: dict[str, int], files: dict[str, Path]) -> Recording:
        s, a, r = fields["subject"], fields["action"], fields["repetition"]
        for what, value, top in (("subject", s, NUM_SUBJECTS), ("action", a, NUM_ACTIONS),
                                 ("repetition", r, NUM_REPETITIONS)):
            if not 1 <= value <= top:
                raise ValueError(f"{what} {value} outside 1..{top}")
        return Recording(key=key_of(s, a, r), label=a - 1, subject=s, trial=r,
                         attrs={"subject": s, "action": a, "repetition": r}, files=dict(files))

    def expected_keys(self) -> list[str]:
        """The full 12 x 11 x 5 grid (660 keys; the release lacks :data:`MISSING`, reported as absent)."""
        return [key_of(s, a, r) for s in range(1, NUM_SUBJECTS + 1) for a in range(1, NUM_ACTIONS + 1)
                for r in range(1, NUM_REPETITIONS + 1)]


BERKELEY_MHAD = register_dataset(BerkeleyMHAD())
