"""The manifest beside an exported model (``model.onnx.json``): the file formats, the keys ``harkd stream``
and ``harkd bench`` read and their validation, and the model file's checksum."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from harkd.checks import is_int, is_number
from harkd.errors import DataError, InputError, unknown_key_message

__all__ = ["FORMATS", "INPUT_NAME", "OUTPUT_NAME", "INPUT_SHAPE_FILE", "MANIFEST_KEYS", "REEXPORT", "is_names",
           "manifest_path", "read_manifest", "sha256_file", "check_format", "infer_format"]

FORMATS = ("onnx", "torchscript")
INPUT_NAME, OUTPUT_NAME = "window", "probabilities"
INPUT_SHAPE_FILE = "harkd_input_shape.json"  # [channels, window] inside a TorchScript file (its graph accepts any W)


def manifest_path(model_file: str | Path) -> Path:
    """The manifest of ``model.onnx`` is ``model.onnx.json``."""
    model_file = Path(model_file)
    return model_file.with_name(model_file.name + ".json")


def is_names(v) -> bool:
    return isinstance(v, list) and len(v) > 0 and all(isinstance(x, str) for x in v)


#: manifest key -> (check, what it must be); the keys harkd stream / bench read
MANIFEST_KEYS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "format": (lambda v: v in FORMATS, "'onnx' or 'torchscript'"),
    "class_names": (is_names, "a non-empty list of strings"),
    "sampling_rate_hz": (lambda v: is_number(v, positive=True), "a number > 0"),
    "window_samples": (lambda v: is_int(v, 2), "an integer >= 2"),
    "window_seconds": (lambda v: is_number(v, positive=True), "a number > 0"),
    "channels": (is_names, "a non-empty list of strings"),
    "stream_columns": (lambda v: isinstance(v, list) and len(v) > 0 and all(is_int(c, 0) for c in v),
                       "a non-empty list of integers >= 0"),
    "model": (lambda v: isinstance(v, dict) and isinstance(v.get("name"), str), "an object with a 'name'"),
}
REEXPORT = "re-export the model with harkd export"


def read_manifest(model_file: str | Path) -> dict | None:
    """The validated manifest next to ``model_file``; None when there is none.

    DataError naming the manifest for a file that is not JSON, not an object, lacks a
    key harkd reads or has a value of the wrong type (see ``MANIFEST_KEYS``).
    """
    path = manifest_path(model_file)
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(path, f"corrupt manifest, not valid JSON ({err.msg} at line {err.lineno} column "
                              f"{err.colno}); {REEXPORT}") from None
    except UnicodeDecodeError:
        raise DataError(path, f"corrupt manifest, not UTF-8 text; {REEXPORT}") from None
    if not isinstance(manifest, dict):
        raise DataError(path, f"corrupt manifest: expected a JSON object, got {type(manifest).__name__}; {REEXPORT}")
    missing = [key for key in MANIFEST_KEYS if key not in manifest]
    if missing:
        raise DataError(path, f"manifest lacks {', '.join(repr(k) for k in missing)}; {REEXPORT}")
    for key, (check, expected) in MANIFEST_KEYS.items():
        if not check(manifest[key]):
            raise DataError(path, f"manifest key '{key}' must be {expected}, got {json.dumps(manifest[key])[:60]}; "
                                  f"{REEXPORT}")
    if len(manifest["stream_columns"]) != len(manifest["channels"]):
        raise DataError(path, f"manifest lists {len(manifest['channels'])} channels but "
                              f"{len(manifest['stream_columns'])} stream_columns; {REEXPORT}")
    seconds, rate, samples = manifest["window_seconds"], manifest["sampling_rate_hz"], manifest["window_samples"]
    if abs(seconds * rate - samples) > 0.5:
        raise DataError(path, f"manifest window_seconds {seconds:g} at sampling_rate_hz {rate:g} is "
                              f"{seconds * rate:.6g} samples, but window_samples is {samples}; {REEXPORT}")
    return manifest


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise InputError(unknown_key_message("export format", str(fmt), FORMATS))
    return fmt


def infer_format(out: str | Path) -> str:
    suffix = Path(out).suffix.lower()
    if suffix == ".onnx":
        return "onnx"
    if suffix in (".pt", ".ts", ".torchscript"):
        return "torchscript"
    raise InputError(f"cannot tell the export format from '{out}': pass --format onnx|torchscript")
