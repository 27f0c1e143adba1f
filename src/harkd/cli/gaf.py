"""``harkd gaf``: preview the Gramian Angular Fields of one UTD-MHAD inertial recording."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from harkd.errors import InputError, MissingDependencyError, file_in_the_way

SAMPLE_RATE_HZ = 50.0
SENSORS = {
    "acc": [("acc x", "g"), ("acc y", "g"), ("acc z", "g")],
    "gyro": [("gyro x", "deg/s"), ("gyro y", "deg/s"), ("gyro z", "deg/s")],
}
SENSORS["all"] = SENSORS["acc"] + SENSORS["gyro"]
COLUMNS = {"acc": [0, 1, 2], "gyro": [3, 4, 5], "all": [0, 1, 2, 3, 4, 5]}
METHODS = {"summation": ["summation"], "difference": ["difference"], "both": ["summation", "difference"]}
TITLES = {"summation": "GASF (summation)", "difference": "GADF (difference)"}

EXAMPLES = """\
examples:
  harkd gaf a10_s1_t1_inertial.mat --out preview.png
  harkd gaf a10_s1_t1_inertial.mat --sensor all --method difference --image-size 64 --out gadf.svg
  harkd gaf a10_s1_t1_inertial.mat --out previews/   # writes previews/a10_s1_t1_inertial_gaf.png

--out is an image file whose extension gives the format (png, svg, pdf, jpg, ... as
matplotlib writes them), or a directory (an existing one, or a path ending in /), which
gets FILE_gaf.png; missing folders are created.

The file is a UTD-MHAD inertial recording: variable d_iner of shape (T, 6), columns
acc x/y/z in g and gyro x/y/z in deg/s, sampled at 50 Hz.
"""


def register(subparsers) -> None:
    from harkd.cli.main import HelpFormatter, int_at_least

    parser = subparsers.add_parser(
        "gaf",
        help="plot the Gramian Angular Fields of an inertial .mat recording",
        description="Plot each axis of a UTD-MHAD inertial recording above its Gramian "
                    "Angular Field image(s), one column per axis.",
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("file", type=Path, metavar="FILE.mat", help="UTD-MHAD *_inertial.mat file")
    parser.add_argument("--sensor", choices=sorted(COLUMNS), default="acc", help="axes to show")
    parser.add_argument("--method", choices=sorted(METHODS), default="both", help="GASF, GADF or both")
    parser.add_argument("--image-size", type=int_at_least(1), default=None, metavar="N",
                        help="image size N <= T, via PAA (default: T, the recording length)")
    parser.add_argument("--out", required=True, metavar="IMAGE|DIR/",
                        help="output image file (format from its extension), or a directory for FILE_gaf.png")
    parser.set_defaults(func=run)


def output_path(out: str, default_name: str, formats) -> Path:
    """The image file ``--out`` names: ``DIR/<default_name>`` for a directory (existing, or
    written with a trailing slash), else ``out`` with a supported extension."""
    path = Path(out)
    if out.endswith(("/", os.sep)) or path.is_dir():
        path = path / default_name
    else:
        supported = ", ".join(sorted(formats))
        if not path.suffix:
            raise InputError(f"--out {out} has no image extension: name a file such as {out}.png, or a directory "
                             f"as {out}/ (supported extensions: {supported})")
        if path.suffix[1:].lower() not in formats:
            raise InputError(f"--out {out}: unsupported image format '{path.suffix}' "
                             f"(supported extensions: {supported})")
    blocking = file_in_the_way(path)
    if blocking is not None:
        raise InputError(f"--out {out}: {blocking} is a file, not a directory")
    return path


def run(args: argparse.Namespace) -> int:
    from harkd.encoding import gramian_angular_field

    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependencyError("matplotlib", "plot", "harkd gaf") from None

    from harkd.data.utd_mhad import read_inertial

    formats = Figure().canvas.get_supported_filetypes()
    out = output_path(args.out, f"{args.file.stem}_gaf.png", formats)
    data = read_inertial(args.file).astype(np.float64)  # (T, 6), validated; DataError names the file
    length = data.shape[0]
    size = args.image_size or length
    if size > length:
        raise InputError(f"{args.file}: --image-size {size} exceeds the recording length T={length}")
    series = data[:, COLUMNS[args.sensor]].T  # (axes, T)
    axes_info = SENSORS[args.sensor]
    methods = METHODS[args.method]
    images = {m: gramian_angular_field(series, image_size=size, method=m) for m in methods}

    duration = length / SAMPLE_RATE_HZ
    time = np.arange(length) / SAMPLE_RATE_HZ
    ncols, nrows = len(axes_info), 1 + len(methods)
    fig = Figure(figsize=(2.9 * ncols + 0.9, 2.1 + 2.9 * len(methods)), layout="constrained")
    grid = fig.subplots(nrows, ncols, squeeze=False, gridspec_kw={"height_ratios": [0.65] + [1] * len(methods)})
    for col, ((name, unit), values) in enumerate(zip(axes_info, series)):
        ax = grid[0, col]
        ax.plot(time, values, lw=1.0, color="tab:blue" if unit == "g" else "tab:orange")
        ax.set_title(name)
        ax.set_xlim(0, duration)
        ax.set_xlabel("t [s]")
        ax.set_ylabel(f"{name} [{unit}]")
        ax.grid(alpha=0.3)
        for row, method in enumerate(methods, start=1):
            ax = grid[row, col]
            image = ax.imshow(images[method][col], cmap="RdBu_r", vmin=-1, vmax=1,
                              extent=(0, duration, duration, 0), interpolation="nearest")
            ax.set_title(f"{TITLES[method]}, {name}", fontsize=9)
            ax.set_xlabel("t [s]")
            if col == 0:
                ax.set_ylabel("t [s]")
            if col == ncols - 1:
                fig.colorbar(image, ax=grid[row, :], shrink=0.9, pad=0.01)
    fig.suptitle(f"{args.file.name}: Gramian Angular Fields, T={length} samples "
                 f"({duration:.2f} s at {SAMPLE_RATE_HZ:g} Hz), N={size}")
    save_image(fig, out)
    print(f"wrote {out} ({args.sensor}, {' + '.join(methods)}, {len(axes_info)} axes, N={size})")
    return 0


def save_image(fig, out: Path) -> None:
    """Write the figure to a temporary name beside ``out``, then rename: no half-written image."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        fig.savefig(tmp, dpi=110, format=out.suffix[1:].lower())
        os.replace(tmp, out)
    except RuntimeError as err:  # e.g. .pgf without a TeX installation
        raise InputError(f"--out {out}: matplotlib cannot write '{out.suffix}' files here ({err}); "
                         "choose another extension, e.g. .png") from None
    finally:
        tmp.unlink(missing_ok=True)
