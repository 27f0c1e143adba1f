"""Deployment of sensor students: export with the input pipeline inside, benchmarks, streaming.

- :mod:`harkd.export.pipeline`: the deployable graph (raw window -> probabilities).
- :mod:`harkd.export.exporter`: ONNX / TorchScript export, parity check, manifest.
- :mod:`harkd.export.publish`: student-only run directory of a distillation run.
- :mod:`harkd.export.bench`: parameters, size, MACs, latency per runtime.
- :mod:`harkd.export.stream`: ring-buffer streaming inference over a text stream.
"""

from harkd.export.exporter import (FORMATS, PARITY_TOLERANCE, ExportedModel, ParityError, export_run,
                                   load_exported, manifest_path, sha256_file)
from harkd.export.macs import count_macs, count_parameters
from harkd.export.pipeline import DeployablePipeline, interpolation_matrix
from harkd.export.publish import publish_student

__all__ = ["FORMATS", "PARITY_TOLERANCE", "ExportedModel", "ParityError", "export_run", "load_exported",
           "manifest_path", "sha256_file", "count_macs", "count_parameters", "DeployablePipeline",
           "interpolation_matrix", "publish_student"]
