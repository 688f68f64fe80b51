"""Tests of the ranking-supervision example: the data, the model's shapes, the ranking operators'
conventions, and one short training run whose loss falls.

    PYTHONPATH=python GSS_LIBRARY=.build/release/libGSS.so GSS_PLUGIN_PATH=.build/release \
        .venv/bin/python -m pytest examples/rank-supervision
"""

from __future__ import annotations

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
from models import ScoreCNN  # noqa: E402
from relaxations import hard_permutation, make_ranking  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _this_folder():
    _use_this_folder()


@pytest.fixture(scope="module")
def digits():
    return data.load_digits()


def test_split_is_disjoint_stratified(digits):
    images, labels = digits
    assert images.shape == (5000, 28, 28) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    split = data.split_digits(labels)
    sizes = {k: len(v) for k, v in split.items()}
    assert sizes == {"train": 3000, "val": 1000, "test": 1000}
    sets = [set(v) for v in split.values()]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    for k, count in data.PER_CLASS.items():
        assert (np.bincount(labels[split[k]], minlength=10) == count).all()
    again = data.split_digits(labels)
    assert all((split[k] == again[k]).all() for k in split)


def test_sets_compose_numbers_deterministically(digits):
    images, labels = digits
    split = data.split_digits(labels)
    a = data.SetSampler(images, labels, split["test"], seed=3).sample(20)
    b = data.SetSampler(images, labels, split["test"], seed=3).sample(20)
    assert (a[0] == b[0]).all() and (a[1] == b[1]).all()
    imgs, values = a
    assert imgs.shape == (20, 5, 1, 28, 112) and values.shape == (20, 5)
    assert all(len(set(v)) == 5 for v in values)  # distinct values: unique ranks
    assert values.min() >= 0 and values.max() <= 9999
    # every number's four 28x28 blocks are test-split digit images of its decimal digits
    test_images = images[split["test"]]
    test_labels = labels[split["test"]]
    for s in range(3):
        for i in range(5):
            for d in range(4):
                block = imgs[s, i, 0, :, 28 * d:28 * (d + 1)]
                match = np.flatnonzero((test_images == block).all((1, 2)))
                assert len(match) >= 1
                assert test_labels[match[0]] == values[s, i] // 10 ** (3 - d) % 10


def test_permutation_targets_match_the_sorter_plugin():
    values = np.array([[30, 10, 20, 50, 40], [5, 4, 3, 2, 1]])
    p = data.permutation_targets(values)
    assert (p.sum(-1) == 1).all() and (p.sum(-2) == 1).all()
    assert p[0, 0, 2] == 1 and p[0, 1, 0] == 1 and p[1, 0, 4] == 1
    import gss

    sorter = gss.plugin("sorter", n=5)
    assert (sorter(values.astype(float), shaped=True) == p).all()
    assert (hard_permutation(torch.tensor(values, dtype=torch.float64)).numpy() == p).all()


def test_model_shapes():
    model = ScoreCNN()
    x = torch.zeros(3, 5, 1, 28, 112)
    assert model(x).shape == (3, 5)
    assert sum(p.numel() for p in model.parameters()) == 32 * 25 + 32 + 64 * 32 * 25 + 64 + 64 * 7 * 28 * 64 + 64 + 65


@pytest.mark.parametrize("method,hyper", [("gss-logistic", 0.01), ("gss-cauchy", 0.01), ("neuralsort", 0.01),
                                          ("dsn-logistic", 100.0), ("dsn-cauchy", 100.0), ("perturbed", 0.01)])
def test_rankings_share_the_convention(method, hyper):
    x = torch.tensor([[3.0, 1.0, 2.0, 5.0, 4.0], [0.1, -2.0, 5.0, 3.0, 1.0]], dtype=torch.float64, requires_grad=True)
    op = make_ranking(method, hyper, 5, seed=0)
    p = op(x)
    assert p.shape == (2, 5, 5)
    assert torch.allclose(p.detach().to(torch.float64), hard_permutation(x.detach()), atol=0.05)
    p.sum().backward() if method != "perturbed" else (p * torch.randn_like(p)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_gss_ranking_is_differentiable_in_the_right_direction():
    # raising x_0 (rank 0) must raise P[0, 4] towards rank 4 when x_0 is near x_4's value
    x = torch.tensor([[0.0, 1.0, 2.0, 3.0, 0.2]], dtype=torch.float64, requires_grad=True)
    op = make_ranking("gss-logistic", 0.3, 5, seed=0)
    p = op(x)
    p[0, 0, 1].backward()
    assert x.grad[0, 0] > 0 and x.grad[0, 4] < 0


def test_short_training_run_loss_falls():
    from train import Digits, RunConfig, train

    cfg = RunConfig("gss-logistic", 1 / 3, seed=0, steps=40, batch=5, eval_every=10, curve_sets=20,
                    val_sets=20, test_sets=20)
    record = train(cfg, Digits())
    losses = [c[1] for c in record["curve"]]
    assert losses[-1] < losses[0]
    assert record["ms_per_step_layer"] < record["ms_per_step_network"]
    assert 0.0 <= record["test_exact"] <= 1.0
