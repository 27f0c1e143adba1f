"""Time series -> image encodings (Gramian Angular Field, PAA)."""

from harkd.encoding.gaf import (CHANNEL_METHODS, CONVENTIONS, METHODS, GAFChannels, GramianAngularField, gaf_channels,
                                gramian_angular_field)
from harkd.encoding.paa import paa, paa_edges, paa_matrix

__all__ = [
    "CHANNEL_METHODS",
    "CONVENTIONS",
    "METHODS",
    "GAFChannels",
    "GramianAngularField",
    "gaf_channels",
    "gramian_angular_field",
    "paa",
    "paa_edges",
    "paa_matrix",
]
