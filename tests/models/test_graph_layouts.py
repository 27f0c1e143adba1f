"""Skeleton graph layouts, adjacency partitions and ST-GCN on custom layouts."""

import numpy as np
import pytest
import torch

from harkd.errors import ConfigError, InputError
from harkd.models import GraphLayout, create_model, get_graph_layout, list_graph_layouts, partition_adjacency
from harkd.models import graph, register_graph_layout

TINY_STGCN = dict(widths=(4,), strides=(1,), kernel_t=3)


@pytest.fixture
def isolated_layouts(monkeypatch):
    monkeypatch.setattr(graph, "LAYOUTS", graph.LAYOUTS.copy())


@pytest.mark.parametrize("name, joints, bones, center", [
    ("utd_kinect_v1", 20, 19, 2), ("berkeley_dmocap16", 16, 15, 0), ("ntu25", 25, 24, 20)])
def test_builtin_layouts_are_trees(name, joints, bones, center):
    layout = get_graph_layout(name)
    assert (layout.num_joints, len(layout.edges), layout.center) == (joints, bones, center)
    assert min(layout.hop_distance()) == 0  # connected (validated), a tree: V - 1 bones


def test_utd_kinect_bones_follow_the_joint_order():
    edges = {frozenset(e) for e in get_graph_layout("utd_kinect_v1").edges}
    # 0-based: head-shoulder_center, left elbow-wrist, hip_center-right hip, right ankle-foot
    assert {frozenset(e) for e in [(0, 1), (5, 6), (3, 16), (18, 19)]} <= edges


@pytest.mark.parametrize("strategy, k", [("uniform", 1), ("distance", 2), ("spatial", 3)])
def test_partitions_sum_to_mean_aggregation(strategy, k):
    layout = get_graph_layout("utd_kinect_v1")
    adj = partition_adjacency(layout, strategy)
    assert adj.shape == (k, 20, 20) and adj.dtype == np.float32
    np.testing.assert_allclose(adj.sum(axis=(0, 1)), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(adj.sum(0) > 0, adj.sum(0).T > 0)  # symmetric support


def test_spatial_partition_of_a_chain():
    adj = partition_adjacency(GraphLayout("chain", 3, ((0, 1), (1, 2)), 0), "spatial")
    # output joint 1: itself (root), joint 0 (closer to the center), joint 2 (farther)
    assert adj[0, 1, 1] == adj[1, 0, 1] == adj[2, 2, 1] == pytest.approx(1 / 3)
    assert adj[1, 1, 1] == adj[2, 0, 1] == 0


def test_custom_layout_by_name_and_object(isolated_layouts):
    register_graph_layout("hand5", 5, [(0, 1), (1, 2), (0, 3), (3, 4)], center=0)
    assert "hand5" in list_graph_layouts()
    for layout in ("hand5", GraphLayout("star4", 4, ((0, 1), (0, 2), (0, 3)), 0)):
        model = create_model("stgcn", 3, layout=layout, strategy="spatial", **TINY_STGCN).eval()
        v = get_graph_layout(layout).num_joints
        assert model(torch.randn(2, 3, 6, v)).shape == (2, 3)
    with pytest.raises(InputError, match="^graph layout 'hand5' is already registered"):
        register_graph_layout("hand5", 5, [(0, 1), (1, 2), (0, 3), (3, 4)], center=0)


@pytest.mark.parametrize("strategy", ["uniform", "distance", "spatial"])
def test_stgcn_strategies_and_edge_importance(strategy):
    model = create_model("stgcn", 3, strategy=strategy, edge_importance=False, **TINY_STGCN)
    assert not model.stages["block1"].importance.requires_grad
    model(torch.randn(2, 3, 6, 20)).sum().backward()
    assert model.stages["block1"].importance.grad is None


@pytest.mark.parametrize("edges, center, message", [
    ([(0, 1), (1, 4)], 0, "graph layout 'bad': edge (1, 4) has joint 4 outside 0..3 (joints are 0-based)"),
    ([(0, 1), (1, -1)], 0, "graph layout 'bad': edge (1, -1) has joint -1 outside 0..3 (joints are 0-based)"),
    ([(0, 1), (2, 2)], 0, "graph layout 'bad': edge (2, 2) connects a joint to itself"),
    ([(0, 1), (1, 0)], 0, "graph layout 'bad': edge (1, 0) is listed twice"),
    ([(0, 1, 2)], 0, "graph layout 'bad': edge (0, 1, 2) is not a pair of joint indices"),
    ([(0, 1.5)], 0, "graph layout 'bad': edge (0, 1.5) is not a pair of joint indices"),
    ([(0, 1), (2, 3)], 0, "graph layout 'bad': joints [2, 3] are not connected to the center joint 0"),
    ([(0, 1), (1, 2), (2, 3)], 4, "graph layout 'bad': center must be a joint index in 0..3, got 4"),
])
def test_bad_layouts_are_clear_errors(isolated_layouts, edges, center, message):
    with pytest.raises(InputError) as err:
        register_graph_layout("bad", 4, edges, center)
    assert str(err.value) == message
    assert "bad" not in list_graph_layouts()


def test_unknown_layout_message():
    with pytest.raises(ConfigError) as err:
        create_model("stgcn", 3, layout="ntu_25")
    assert str(err.value) == ("unknown graph layout 'ntu_25'; did you mean 'ntu25'? "
                              "(valid: berkeley_dmocap16, coco17, mediapipe_pose33, ntu25, openpose_body25, "
                              "utd_kinect_v1)")


def test_stgcn_rejects_wrong_joint_count():
    model = create_model("stgcn", 3, **TINY_STGCN)
    with pytest.raises(InputError) as err:
        model(torch.randn(2, 3, 6, 25))
    assert str(err.value) == "STGCN expects input (B, C, T, V) with dim 1 = 3, dim 3 = 20; got shape (2, 3, 6, 25)"
