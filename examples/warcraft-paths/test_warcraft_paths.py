"""Tests of the Warcraft-like shortest-path example: the map generator (shapes, determinism,
coherent terrain, labels equal the plugin's paths and are optimal by an independent Dijkstra), the
model's shapes, the gradients of the ways to train, and one short training run whose loss falls.

    PYTHONPATH=python GSS_LIBRARY=.build/release/libGSS.so GSS_PLUGIN_PATH=.build/release \
        .venv/bin/python -m pytest examples/warcraft-paths
"""

from __future__ import annotations

import heapq
import os
import sys

import numpy as np
import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
# both examples have modules named data, models, train...: one pytest session may collect both
_SHARED = ("data", "models", "train", "journal", "relaxations", "methods", "report", "run")


def _use_this_folder() -> None:
    for name in _SHARED:
        module = sys.modules.get(name)
        if module is not None and os.path.dirname(os.path.abspath(getattr(module, "__file__", None) or "")) != HERE:
            del sys.modules[name]
    if sys.path[0] != HERE:
        sys.path.insert(0, HERE)


_use_this_folder()

import data  # noqa: E402
import methods  # noqa: E402
from models import CostNet  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _this_folder():
    _use_this_folder()


def dijkstra_cost(costs: np.ndarray) -> float:
    """Cheapest top-left -> bottom-right path, vertex costs (both ends), 8 neighbours."""
    rows, cols = costs.shape
    best = np.full(costs.shape, np.inf)
    best[0, 0] = costs[0, 0]
    heap = [(costs[0, 0], 0, 0)]
    while heap:
        d, r, c = heapq.heappop(heap)
        if d > best[r, c]:
            continue
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                rr, cc = r + dr, c + dc
                if (dr or dc) and 0 <= rr < rows and 0 <= cc < cols and d + costs[rr, cc] < best[rr, cc]:
                    best[rr, cc] = d + costs[rr, cc]
                    heapq.heappush(heap, (best[rr, cc], rr, cc))
    return float(best[-1, -1])


def is_path(mask: np.ndarray) -> bool:
    """A simple 8-connected chain of cells from (0, 0) to (11, 11)."""
    cells = {tuple(x) for x in np.argwhere(mask == 1)}
    if (0, 0) not in cells or (11, 11) not in cells:
        return False
    seen, stack = {(0, 0)}, [(0, 0)]
    while stack:
        r, c = stack.pop()
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                n = (r + dr, c + dc)
                if n in cells and n not in seen:
                    seen.add(n)
                    stack.append(n)
    return seen == cells


@pytest.fixture(scope="module")
def maps():
    return data.make_collection(seed=11, count=24)


def test_maps_shapes_and_determinism(maps):
    assert maps["images"].shape == (24, 96, 96, 3) and maps["images"].dtype == np.uint8
    assert maps["costs"].shape == (24, 12, 12) and maps["paths"].shape == (24, 12, 12)
    image, costs = data.make_map(11, 5)
    assert (image == maps["images"][5]).all() and (costs == maps["costs"][5]).all()
    other, _ = data.make_map(12, 5)
    assert (other != image).any()
    assert set(np.unique(maps["costs"])) <= set(data.COSTS)
    assert len(np.unique(maps["costs"])) >= 5


def test_terrain_is_spatially_coherent(maps):
    kinds = maps["costs"]
    same = (kinds[:, 1:, :] == kinds[:, :-1, :]).mean() + (kinds[:, :, 1:] == kinds[:, :, :-1]).mean()
    shares = np.array([(kinds == c).mean() for c in data.COSTS])
    chance = 2 * (shares ** 2).sum()  # neighbours equal by chance if tiles were independent
    assert same > chance + 0.3


def test_tiles_show_their_kind(maps):
    # every tile's mean colour is nearest to its own kind's colour (the image determines the costs)
    tiles = maps["images"].reshape(24, 12, 8, 12, 8, 3).mean((2, 4))
    kinds = np.searchsorted(data.COSTS, maps["costs"])
    nearest = np.argmin(((tiles[..., None, :] - data.COLOURS) ** 2).sum(-1), -1)
    assert (nearest == kinds).mean() > 0.9


def test_labels_are_the_plugins_optimal_paths(maps):
    import gss

    box = gss.plugin("shortest-path")
    again = box(maps["costs"].reshape(24, 144)).reshape(24, 12, 12)
    assert (again == maps["paths"]).all()
    for costs, mask in zip(maps["costs"], maps["paths"]):
        assert is_path(mask)
        assert abs(data.path_cost(mask, costs) - dijkstra_cost(costs)) < 1e-9


def test_model_shapes_and_positive_costs():
    model = CostNet()
    x = torch.randn(2, 3, 96, 96)
    y = model(x)
    assert y.shape == (2, 12, 12) and (y > 0).all()


def test_objective_smoothing_equals_gss_on_the_scalar_loss(maps):
    # smoothing l o h with gss directly (a black box per target) gives the same gradient as the
    # layer's (1 - 2t)^T J, since the Hamming loss is linear in the hard path and LOO is linear
    import gss

    t = maps["paths"][0].astype(float).ravel()
    x = maps["costs"][0].ravel() + np.random.default_rng(0).uniform(-0.5, 0.5, 144)
    box = data._box()
    scalar = gss.function(lambda rows: (box(rows, threads=1) * (1 - 2 * t) + t).sum(-1, keepdims=True), 144, 1)
    layer = methods.GSSObjective("logistic", 1.0, 64, "rqmc-latin", seed=0)
    xt = torch.tensor(x.reshape(1, 12, 12), requires_grad=True)
    # the layer's first call uses gss.point_seed(seed, 0) and point 0 of the batch point_seed of that
    from gss import point_seed

    seed = point_seed(point_seed(layer.layer.seed, 0), 0)
    direct = gss.smooth(scalar, x, dist="logistic", scale=1.0, samples=64, sampler="rqmc-latin",
                        covariate="loo", seed=seed, threads=1)
    loss = layer(xt, torch.tensor(t.reshape(1, 12, 12)))
    loss.backward()
    assert abs(float(loss.detach()) - direct.value[0]) < 1e-12
    assert np.abs(xt.grad.numpy().ravel() - direct.jacobian.ravel()).max() < 1e-12


def test_blackbox_and_fenchel_young_gradients(maps):
    costs = torch.tensor(maps["costs"][:2], requires_grad=True)
    t = torch.tensor(maps["paths"][:2].astype(float))
    # at the true costs the hard path is the truth: zero Hamming loss and zero blackbox gradient
    loss = methods.Blackbox(20.0)(costs, t)
    loss.backward()
    assert float(loss) == 0.0 and float(costs.grad.abs().sum()) == 0.0
    # Fenchel-Young: gradient t - E[h(w + sigma Z)], per map averaged over the batch
    fy = methods.FenchelYoung(1.0, 50, seed=0)
    c2 = costs.detach().clone().requires_grad_(True)
    fy(c2, t).backward()
    g = c2.grad.numpy() * 2
    assert np.all(g <= 1 + 1e-12) and np.all(g >= -1 - 1e-12)
    assert (g[t.numpy() == 1] >= -1e-12).all()  # true cells: t - mean path >= 0


def test_short_training_run_loss_falls():
    import train as T

    tr = data.make_collection(seed=21, count=80)
    te = data.make_collection(seed=22, count=10)
    cfg = T.RunConfig("gss-algorithm-logistic", 1.0, seed=0, steps=30, batch=8, samples=10, eval_every=10,
                      curve_maps=8, val_maps=8, test_maps=10)
    record = T.train(cfg, tr, te)
    losses = [c[1] for c in record["curve"]]
    assert losses[-1] < losses[0]
    assert 0.0 <= record["test_exact"] <= record["test_optimal"] <= 1.0
