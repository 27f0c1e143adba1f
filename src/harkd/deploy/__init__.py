"""Deployment of sensor students: export with the input pipeline inside, benchmarks, streaming.

- :mod:`harkd.deploy.pipeline`: the deployable graph (raw window -> probabilities).
- :mod:`harkd.deploy.exporter`: ONNX / TorchScript export and its parity check.
- :mod:`harkd.deploy.manifest`: the manifest beside an exported file: formats, keys, validation.
- :mod:`harkd.deploy.runtime`: an exported file behind one call (:class:`ExportedModel`).
- :mod:`harkd.deploy.publish`: student-only run directory of a distillation run.
- :mod:`harkd.deploy.bench`: parameters, size, MACs, latency per runtime.
- :mod:`harkd.deploy.stream`: ring-buffer streaming inference over a text stream.
"""

from harkd.deploy.exporter import PARITY_TOLERANCE, export_run
from harkd.deploy.macs import count_macs, count_parameters
from harkd.deploy.manifest import FORMATS, manifest_path, sha256_file
from harkd.deploy.pipeline import DeployablePipeline, interpolation_matrix
from harkd.deploy.publish import publish_student
from harkd.deploy.runtime import ExportedModel, load_exported
from harkd.errors import ParityError

__all__ = ["FORMATS", "PARITY_TOLERANCE", "ExportedModel", "ParityError", "export_run", "load_exported",
           "manifest_path", "sha256_file", "count_macs", "count_parameters", "DeployablePipeline",
           "interpolation_matrix", "publish_student"]
