"""Time series -> image encodings (Gramian Angular Field, PAA)."""

from harkd.encoding.gaf import CONVENTIONS, METHODS, GramianAngularField, gramian_angular_field
from harkd.encoding.paa import paa, paa_edges, paa_matrix

__all__ = [
    "CONVENTIONS",
    "METHODS",
    "GramianAngularField",
    "gramian_angular_field",
    "paa",
    "paa_edges",
    "paa_matrix",
]
