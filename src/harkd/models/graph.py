"""Skeleton graph layouts (registry) and ST-GCN adjacency partitions.

A :class:`GraphLayout` is ``num_joints``, undirected bones as 0-based joint pairs and a
``center`` joint (used by the "spatial" partition). Register your own with
:func:`register_graph_layout`, or pass a ``GraphLayout`` straight to ``stgcn``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

from harkd.data.keypoints import COCO17, KEYPOINT_LAYOUTS, MEDIAPIPE_POSE
from harkd.errors import InputError
from harkd.registry import Registry

__all__ = ["GraphLayout", "register_graph_layout", "get_graph_layout", "list_graph_layouts",
           "partition_adjacency", "PARTITION_STRATEGIES"]

PARTITION_STRATEGIES = ("uniform", "distance", "spatial")


@dataclass(frozen=True)
class GraphLayout:
    """A validated skeleton graph: joints ``0..num_joints-1``, ``edges`` (bones), ``center`` joint.

    Raises :class:`InputError` for an edge that is not a pair of joint indices in range,
    a self-loop, a repeated bone, a bad center, or joints not connected to the center.
    """

    name: str
    num_joints: int
    edges: Tuple[Tuple[int, int], ...]
    center: int

    def __post_init__(self):
        where = f"graph layout '{self.name}'"
        n = self.num_joints
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError(f"{where}: num_joints must be a positive integer, got {n!r}")
        edges, seen = [], set()
        for edge in self.edges:
            if (isinstance(edge, (str, bytes)) or not isinstance(edge, Sequence) or len(edge) != 2
                    or not all(isinstance(j, (int, np.integer)) and not isinstance(j, bool) for j in edge)):
                raise InputError(f"{where}: edge {edge!r} is not a pair of joint indices")
            a, b = int(edge[0]), int(edge[1])
            for j in (a, b):
                if not 0 <= j < n:
                    raise InputError(f"{where}: edge ({a}, {b}) has joint {j} outside 0..{n - 1} (joints are 0-based)")
            if a == b:
                raise InputError(f"{where}: edge ({a}, {b}) connects a joint to itself")
            if frozenset((a, b)) in seen:
                raise InputError(f"{where}: edge ({a}, {b}) is listed twice")
            seen.add(frozenset((a, b)))
            edges.append((a, b))
        object.__setattr__(self, "edges", tuple(edges))
        if isinstance(self.center, bool) or not isinstance(self.center, int) or not 0 <= self.center < n:
            raise InputError(f"{where}: center must be a joint index in 0..{n - 1}, got {self.center!r}")
        unreachable = [j for j, d in enumerate(self.hop_distance()) if d < 0]
        if unreachable:
            raise InputError(f"{where}: joints {unreachable} are not connected to the center joint {self.center}")

    def hop_distance(self) -> List[int]:
        """Bone hops from each joint to ``center`` (-1 if unreachable)."""
        neighbours: Dict[int, List[int]] = {j: [] for j in range(self.num_joints)}
        for a, b in self.edges:
            neighbours[a].append(b)
            neighbours[b].append(a)
        dist = [-1] * self.num_joints
        dist[self.center] = 0
        frontier = [self.center]
        while frontier:
            nxt = []
            for j in frontier:
                for k in neighbours[j]:
                    if dist[k] < 0:
                        dist[k] = dist[j] + 1
                        nxt.append(k)
            frontier = nxt
        return dist


def partition_adjacency(layout: GraphLayout, strategy: str = "spatial") -> np.ndarray:
    """Partitioned, normalised adjacency ``A`` of shape (K, V, V), float32.

    ``A[k, v, w]`` weights input joint v for output joint w; over k the weights for
    each w sum to 1 (mean over w's neighbours and itself). Partitions (ST-GCN):
    ``uniform`` K=1; ``distance`` K=2 (self, neighbours); ``spatial`` K=3 (joints as
    far from the center as w incl. w itself, closer to the center, farther from it).
    """
    if strategy not in PARTITION_STRATEGIES:
        raise InputError(f"partition strategy must be one of {', '.join(map(repr, PARTITION_STRATEGIES))}, "
                         f"got {strategy!r}")
    n = layout.num_joints
    adj = np.eye(n, dtype=np.float32)
    for a, b in layout.edges:
        adj[a, b] = adj[b, a] = 1.0
    adj /= adj.sum(axis=0, keepdims=True)
    if strategy == "uniform":
        return adj[None]
    if strategy == "distance":
        eye = np.eye(n, dtype=bool)
        return np.stack([np.where(eye, adj, 0), np.where(eye, 0, adj)]).astype(np.float32)
    d = np.asarray(layout.hop_distance())
    dv, dw = d[:, None], d[None, :]
    return np.stack([np.where(dv == dw, adj, 0), np.where(dv < dw, adj, 0),
                     np.where(dv > dw, adj, 0)]).astype(np.float32)


#: Registered layouts (the built-ins are registered below, when this module is imported).
LAYOUTS: Registry[GraphLayout] = Registry("graph layout")


def register_graph_layout(name: str, num_joints: int, edges, center: int, *, overwrite: bool = False) -> GraphLayout:
    """Validate and register a layout under ``name``; returns it (duplicate policy:
    :class:`harkd.registry.Registry`; each call builds a new layout, so a taken name needs ``overwrite``)."""
    return LAYOUTS.register(name, GraphLayout(name, num_joints, tuple(edges), center), overwrite=overwrite)


def get_graph_layout(layout) -> GraphLayout:
    """A registered layout by name (ConfigError if unknown), or ``layout`` itself if a GraphLayout."""
    if isinstance(layout, GraphLayout):
        return layout
    return LAYOUTS.get(layout)


def list_graph_layouts() -> List[str]:
    return LAYOUTS.names()


def _one_based(pairs):
    return [(a - 1, b - 1) for a, b in pairs]


# UTD-MHAD Kinect v1, 1-based joints: 1 head, 2 shoulder_center, 3 spine, 4 hip_center,
# 5-8 left shoulder/elbow/wrist/hand, 9-12 right shoulder/elbow/wrist/hand,
# 13-16 left hip/knee/ankle/foot, 17-20 right hip/knee/ankle/foot. Center: spine.
register_graph_layout("utd_kinect_v1", 20, _one_based([
    (1, 2), (2, 3), (3, 4),
    (2, 5), (5, 6), (6, 7), (7, 8),
    (2, 9), (9, 10), (10, 11), (11, 12),
    (4, 13), (13, 14), (14, 15), (15, 16),
    (4, 17), (17, 18), (18, 19), (19, 20),
]), center=2)

# Berkeley MHAD D-Mocap / mocap, 16 joints, order measured on the real data (subject 1: the
# optical mocap's bone lengths are constant, which gives the tree; the arm that moves in
# "waving one hand", done with the right hand, gives the sides); names in
# harkd.data.berkeley_mhad.JOINT_NAMES. 0-based: 0 hip_center, 1-4 left hip/knee/ankle/foot,
# 5-8 right hip/knee/ankle/foot, 9 neck, 10-12 left shoulder/elbow/wrist, 13-15 right
# shoulder/elbow/wrist. There is no head joint. Center: hip_center (the root of the tree).
register_graph_layout("berkeley_dmocap16", 16, [
    (0, 1), (1, 2), (2, 3), (3, 4),
    (0, 5), (5, 6), (6, 7), (7, 8),
    (0, 9),
    (9, 10), (10, 11), (11, 12),
    (9, 13), (13, 14), (14, 15),
], center=0)

# NTU RGB+D (Kinect v2), 25 joints, standard ST-GCN bones (1-based); center: spine (21).
register_graph_layout("ntu25", 25, _one_based([
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9), (11, 10), (12, 11),
    (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19), (22, 23), (23, 8), (24, 25),
    (25, 12),
]), center=20)


def _named(joints, pairs):
    return [(joints.index(a), joints.index(b)) for a, b in pairs]


# Pose estimators (joint orders in harkd.data.keypoints). MediaPipe Pose, 33 landmarks: its own
# connection list (POSE_CONNECTIONS) leaves the face (0-8) and the mouth (9-10) apart from the body,
# so the nose is joined to both shoulders and both mouth corners. Center: left_hip (23; 23-24 is a bone).

register_graph_layout("mediapipe_pose33", 33, [
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13), (13, 15),
    (15, 17), (15, 19), (15, 21), (17, 19), (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20), (11, 23),
    (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (28, 30), (29, 31), (30, 32), (27, 31),
    (28, 32),
    *_named(MEDIAPIPE_POSE, [("nose", "left_shoulder"), ("nose", "right_shoulder"), ("nose", "mouth_left"),
                             ("nose", "mouth_right")]),
], center=KEYPOINT_LAYOUTS["mediapipe"].center)

# OpenPose BODY_25 (its rendering pairs, already connected). Center: mid_hip (8).
register_graph_layout("openpose_body25", 25, [
    (1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9), (9, 10), (10, 11), (8, 12), (12, 13), (13, 14),
    (1, 0), (0, 15), (15, 17), (0, 16), (16, 18), (14, 19), (19, 20), (14, 21), (11, 22), (22, 23), (11, 24),
], center=KEYPOINT_LAYOUTS["openpose"].center)

# COCO-17 (the COCO keypoint skeleton, already connected). Center: left_hip (11; 11-12 is a bone).
register_graph_layout("coco17", 17, _named(COCO17, [
    ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("right_ankle", "right_knee"), ("right_knee", "right_hip"),
    ("left_hip", "right_hip"), ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
    ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
    ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"), ("left_eye", "right_eye"), ("nose", "left_eye"),
    ("nose", "right_eye"), ("left_eye", "left_ear"), ("right_eye", "right_ear"), ("left_ear", "left_shoulder"),
    ("right_ear", "right_shoulder"),
]), center=KEYPOINT_LAYOUTS["coco17"].center)
