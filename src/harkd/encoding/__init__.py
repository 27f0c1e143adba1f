"""Image encodings: time series (Gramian Angular Field, PAA) and depth clips (depth motion maps)."""

from harkd.encoding.gaf import (CHANNEL_METHODS, CONVENTIONS, METHODS, GAFChannels, GramianAngularField, gaf_channels,
                                gramian_angular_field)
from harkd.encoding.dmm import VIEWS as DMM_VIEWS, depth_motion_maps, dmm_channels
from harkd.encoding.paa import paa, paa_edges, paa_matrix

__all__ = [
    "CHANNEL_METHODS",
    "CONVENTIONS",
    "DMM_VIEWS",
    "METHODS",
    "depth_motion_maps",
    "dmm_channels",
    "GAFChannels",
    "GramianAngularField",
    "gaf_channels",
    "gramian_angular_field",
    "paa",
    "paa_edges",
    "paa_matrix",
]
