"""Paired multimodal data: dataset specs, recording index, loaders, protocols,
transforms, the preprocessing cache and :class:`PairedDataset`.

Example::

    from harkd.data import get_dataset, make_split, make_datasets

    spec = get_dataset("utd-mhad")
    index = spec.scan("../shared/data/UTD-MHAD")           # skipped files: index.skipped
    split = make_split(spec, index, "cross_subject")       # val: a held-out training subject
    sets = make_datasets(spec, index, split, ("inertial", "skeleton"),
                         {"inertial": {"length": 128, "normalize": True},
                          "skeleton": {"frames": 32, "center": True}}, cache=True)
    sample = sets["train"][0]   # {"inertial", "skeleton", "label", "key"}

Your own recordings need no code: describe them in one table (``data.dataset: manifest``,
:mod:`harkd.data.manifest`) or pass arrays (:func:`from_arrays`). A dataset with its own file
layout subclasses :class:`DatasetSpec` in a plug-in module (:mod:`harkd.plugins`) and calls
:func:`register_dataset`.
"""

from harkd.data.arrays import from_arrays
from harkd.data.cache import PreprocessCache, default_cache_dir
from harkd.data.dataset import PairedDataset, make_datasets
from harkd.data.protocols import Split, Validation, carve_validation, make_split
from harkd.data.readers import MatVar, read_mat
from harkd.data.recording import Recording, RecordingIndex
from harkd.data.registry import DatasetSpec, ModalitySpec, available_datasets, get_dataset, register_dataset
from harkd.data.transforms import (DepthTransform, InertialTransform, ModalityTransform, SkeletonTransform,
                                   build_transforms, resample_time, segment_indices)
from harkd.data.video import read_video

__all__ = [
    "DatasetSpec", "DepthTransform", "InertialTransform", "MatVar", "ModalitySpec", "ModalityTransform",
    "PairedDataset", "PreprocessCache", "Recording", "RecordingIndex", "SkeletonTransform", "Split", "Validation",
    "available_datasets", "build_transforms", "from_arrays", "carve_validation", "default_cache_dir", "get_dataset",
    "make_datasets", "make_split", "read_mat", "read_video", "register_dataset", "resample_time",
    "segment_indices",
]
