"""Registry, recording index, skipped files and strict mode."""

from __future__ import annotations

import re

import pytest

from harkd.data import available_datasets, get_dataset
from harkd.data.recording import Recording
from harkd.data.registry import DatasetSpec, ModalitySpec
from harkd.errors import ConfigError, DataError

from utdfiles import write_recording


def test_registry_and_class_names():
    spec = get_dataset("utd-mhad")
    assert get_dataset("UTD_MHAD") is spec
    assert "utd-mhad" in available_datasets()
    assert len(spec.class_names) == 27
    assert spec.class_names[0] == "right arm swipe to the left"
    assert spec.class_names[26] == "squat two arms stretch out"
    assert all(n == n.strip() for n in spec.class_names)
    assert spec.modalities == ("inertial", "skeleton", "depth", "rgb")
    with pytest.raises(ConfigError, match=r"unknown dataset 'utd-mhd'; did you mean 'utd-mhad'\?"):
        get_dataset("utd-mhd")


def test_index_one_entry_per_key(small_utd):
    index = get_dataset("utd-mhad").scan(small_utd)
    assert len(index) == 16 and index.skipped == []
    assert index.modality_counts() == {"depth": 16, "inertial": 16, "skeleton": 16}
    rec = index["a2_s3_t1"]
    assert (rec.label, rec.subject, rec.trial) == (1, 3, 1)
    assert rec.attrs == {"action": 2, "subject": 3, "trial": 1}
    assert rec.files["skeleton"].name == "a2_s3_t1_skeleton.mat"
    assert index.keys[:3] == ["a1_s1_t1", "a1_s1_t2", "a1_s2_t1"]  # numeric, not string, order


def test_labels_from_definition_not_folder_order(tmp_path):
    for key in ("a10_s1_t1", "a2_s1_t1", "a27_s1_t1"):
        write_recording(tmp_path, key, ("inertial",))
    index = get_dataset("utd-mhad").scan(tmp_path)
    assert [(r.key, r.label) for r in index] == [("a2_s1_t1", 1), ("a10_s1_t1", 9), ("a27_s1_t1", 26)]


def test_missing_modality_reported(small_utd):
    (small_utd / "Skeleton" / "a1_s2_t2_skeleton.mat").unlink()
    index = get_dataset("utd-mhad").scan(small_utd)
    assert index["a1_s2_t2"].modalities == ("depth", "inertial")
    assert index.missing() == {"a1_s2_t2": ["skeleton"]}
    assert len(index.with_modalities(["inertial", "skeleton"])) == 15


@pytest.mark.parametrize("name,reason", [
    ("a1_s1_t1_inertial.txt", r"unknown file name pattern \(expected a\{A\}_s\{S\}_t\{T\}_inertial\.mat\)"),
    ("notes.mat", r"unknown file name pattern"),
    ("a1_s1_inertial.mat", r"unknown file name pattern"),
    ("a28_s1_t1_inertial.mat", r"action 28 outside 1\.\.27"),
    ("a1_s9_t1_inertial.mat", r"subject 9 outside 1\.\.8"),
])
def test_unknown_file_skipped_or_strict(small_utd, name, reason):
    bad = small_utd / "Inertial" / name
    bad.write_bytes(b"x")
    spec = get_dataset("utd-mhad")
    index = spec.scan(small_utd)
    assert len(index) == 16
    assert len(index.skipped) == 1 and index.skipped[0][0] == bad
    assert re.fullmatch(reason, index.skipped[0][1]) or re.match(reason, index.skipped[0][1])
    with pytest.raises(DataError, match="^" + re.escape(str(bad)) + ": " + reason):
        spec.scan(small_utd, strict=True)


def test_empty_and_duplicate_files_skipped(small_utd):
    (small_utd / "Inertial" / "a1_s1_t1_inertial.mat").write_bytes(b"")
    dup = small_utd / "Skeleton" / "a01_s2_t1_skeleton.mat"
    dup.write_bytes((small_utd / "Skeleton" / "a1_s2_t1_skeleton.mat").read_bytes())
    index = get_dataset("utd-mhad").scan(small_utd)
    reasons = {p.name: r for p, r in index.skipped}
    # the release's name wins although "a01..." sorts before "a1..."
    assert reasons == {"a1_s1_t1_inertial.mat": "empty file (0 bytes)",
                       "a01_s2_t1_skeleton.mat": "duplicate of a1_s2_t1_skeleton.mat (same key a1_s2_t1; "
                                                 "the release's file name is kept)"}
    assert index["a1_s1_t1"].modalities == ("depth", "skeleton")
    assert index["a1_s2_t1"].files["skeleton"].name == "a1_s2_t1_skeleton.mat"


@pytest.mark.parametrize("other", ["a01_s2_t1_inertial.mat", "a1_s02_t1_inertial.mat", "a1_s2_t001_inertial.mat"])
def test_duplicate_key_keeps_the_release_name_whichever_sorts_first(small_utd, other):
    canonical = small_utd / "Inertial" / "a1_s2_t1_inertial.mat"
    (small_utd / "Inertial" / other).write_bytes(canonical.read_bytes())
    index = get_dataset("utd-mhad").scan(small_utd)
    assert index["a1_s2_t1"].files["inertial"] == canonical
    assert [(p.name, r) for p, r in index.skipped] == [
        (other, "duplicate of a1_s2_t1_inertial.mat (same key a1_s2_t1; the release's file name is kept)")]
    with pytest.raises(DataError) as err:
        get_dataset("utd-mhad").scan(small_utd, strict=True)
    assert err.value.path.name == other


def test_duplicate_key_without_the_release_name_keeps_the_first_in_sorted_order(small_utd):
    canonical = small_utd / "Inertial" / "a1_s2_t1_inertial.mat"
    for name in ("a01_s2_t1_inertial.mat", "a1_s02_t1_inertial.mat"):
        (small_utd / "Inertial" / name).write_bytes(canonical.read_bytes())
    canonical.unlink()
    index = get_dataset("utd-mhad").scan(small_utd)
    assert index["a1_s2_t1"].files["inertial"].name == "a01_s2_t1_inertial.mat"
    assert [(p.name, r) for p, r in index.skipped] == [
        ("a1_s02_t1_inertial.mat", "duplicate of a01_s2_t1_inertial.mat (same key a1_s2_t1)")]


def test_validate_loads_every_file(small_utd):
    bad = small_utd / "Depth" / "a2_s4_t2_depth.mat"
    bad.write_bytes(b"garbage" * 20)
    spec = get_dataset("utd-mhad")
    assert spec.scan(small_utd).skipped == []  # cheap scan: names and sizes only
    index = spec.scan(small_utd, validate=True)
    assert index.skipped == [(bad, "not a MATLAB MAT-file (no 'MATLAB 5.0 MAT-file' header)")]
    assert index["a2_s4_t2"].modalities == ("inertial", "skeleton")
    with pytest.raises(DataError, match=re.escape(str(bad)) + ": not a MATLAB MAT-file"):
        spec.scan(small_utd, strict=True, validate=True)


def test_bad_root(tmp_path):
    spec = get_dataset("utd-mhad")
    with pytest.raises(DataError, match=re.escape(str(tmp_path / "nope")) + ": utd-mhad root is not a directory"):
        spec.scan(tmp_path / "nope")
    with pytest.raises(DataError, match=r"no utd-mhad modality folder found \(expected any of Inertial/"):
        spec.scan(tmp_path)


def test_unknown_modality_and_load_option(small_utd):
    spec = get_dataset("utd-mhad")
    rec = spec.scan(small_utd)["a1_s1_t1"]
    with pytest.raises(ConfigError, match=r"unknown utd-mhad modality 'skeletn'; did you mean 'skeleton'\?"):
        spec.load(rec, "skeletn")
    with pytest.raises(ConfigError, match=r"unknown inertial load option 'sensr'; did you mean 'sensor'\?"):
        spec.load(rec, "inertial", sensr="acc")
    with pytest.raises(ConfigError, match=r"unknown sensor 'accel'; did you mean 'acc'\?"):
        spec.load(rec, "inertial", sensor="accel")
    assert spec.load(rec, "inertial", sensor="acc").shape[1] == 3


class NestedSpec(DatasetSpec):
    """A nested layout ``Signals/<group>/item<N>.txt`` with its own field parsing and wording."""

    name = "nested-test"
    class_names = ("a", "b")
    key_fields = ("item",)
    protocols = {}
    unknown_name = "unexpected file"
    modality_specs = (ModalitySpec("signal", "Signals", re.compile(r"(?P<group>[^/]+)/(?P<item>[^/]+)\.txt"),
                                   "GROUP/itemN.txt", "", lambda path: path, "path", glob="**/*"),)

    def parse_fields(self, mod, groups):
        if not re.fullmatch(r"item\d+", groups["item"]):
            raise ValueError(f"'{groups['item']}' is not item{{N}}")
        return {"item": int(groups["item"][4:])}

    def make_recording(self, fields, files):
        return Recording(key=f"i{fields['item']}", label=0, subject=1, attrs=dict(fields), files=dict(files))


def test_scan_hooks_parse_fields_recursive_glob_and_nested_duplicates(tmp_path):
    for rel in ("g1/item1.txt", "g2/item01.txt", "g1/thing.txt", "g1/deeper/more/item2.txt", "g2/item3.txt"):
        (tmp_path / "Signals" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "Signals" / rel).write_text("x")
    index = NestedSpec().scan(tmp_path)
    assert index.keys == ["i1", "i3"] and index["i1"].files["signal"].parent.name == "g1"
    assert {p.relative_to(tmp_path).as_posix(): r for p, r in index.skipped} == {  # folders are not reported
        "Signals/g1/deeper/more/item2.txt": "unexpected file (expected GROUP/itemN.txt)",
        "Signals/g1/thing.txt": "'thing' is not item{N}",
        "Signals/g2/item01.txt": "duplicate of Signals/g1/item1.txt (same key i1)"}
    with pytest.raises(DataError, match=re.escape(f"{tmp_path / 'Signals/g1/deeper/more/item2.txt'}: unexpected")):
        NestedSpec().scan(tmp_path, strict=True)
