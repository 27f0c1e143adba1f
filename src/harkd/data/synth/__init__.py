"""Synthetic datasets in the real releases' file formats, from one simulated body.

A kinematic 20-joint body (:mod:`.body`) performs scripted actions (:mod:`.actions`,
:mod:`.motion`) with per-subject and per-trial variation; the inertial sensors
(:mod:`.sensors`), Kinect skeleton and depth video (:mod:`.render`) are all derived
from that one motion, so the modalities agree physically.
"""

from harkd.data.synth.utd_mhad import UTD_ACTIONS, UTD_MISSING, SynthSummary, utd_mhad_recording, write_utd_mhad
from harkd.data.synth.berkeley_mhad import berkeley_recording, write_berkeley_mhad

__all__ = ["UTD_ACTIONS", "UTD_MISSING", "SynthSummary", "berkeley_recording", "utd_mhad_recording",
           "write_berkeley_mhad", "write_utd_mhad"]
