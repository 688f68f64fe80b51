"""Differentiable ranking operators: scores (B, n) -> P (B, n, n), P[b, i, j] = (relaxed)
probability that score i has ascending rank j — the convention of gss's ``sorter`` plugin and of
diffsort.  gss smooths the hard sorter as a black box; the others are the relaxations people use."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch


def hard_permutation(scores: torch.Tensor) -> torch.Tensor:
    """The exact P of the scores (ties by index), (B, n, n)."""
    n = scores.shape[-1]
    ranks = torch.argsort(torch.argsort(scores, dim=-1, stable=True), dim=-1, stable=True)
    return (ranks[..., :, None] == torch.arange(n)).to(scores.dtype)


class GSSRanking(torch.nn.Module):
    """gss: the hard sorter plugin smoothed by generalized stochastic smoothing (LOO covariate)."""

    def __init__(self, n: int, dist: str, scale: float, samples: int, sampler: str, seed: int,
                 covariate: str = "loo") -> None:
        super().__init__()
        import gss
        import gss.torch

        self.layer = gss.torch.Smoothed(
            gss.plugin("sorter", n=n), dist=dist, scale=scale, samples=samples, sampler=sampler,
            covariate=covariate, seed=seed, shaped=True, threads=1)

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        return self.layer(scores)


class NeuralSort(torch.nn.Module):
    """Grover et al. (2019): row r of the relaxed sort matrix is softmax(((n + 1 - 2r) s - A_s 1) / tau)
    (descending positions); transposed and flipped into the ascending-rank convention."""

    def __init__(self, tau: float) -> None:
        super().__init__()
        self.tau = tau

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        n = scores.shape[-1]
        s = scores.unsqueeze(-1)  # (B, n, 1)
        a = (s - s.transpose(-1, -2)).abs()  # (B, n, n)
        b = a.sum(-1, keepdim=True)  # A_s 1, (B, n, 1)
        scaling = (n + 1 - 2 * (torch.arange(n, dtype=scores.dtype) + 1))  # (n,)
        c = s.transpose(-1, -2) * scaling[:, None]  # (B, n_pos, n_items)
        p_desc = torch.softmax((c - b.transpose(-1, -2)) / self.tau, dim=-1)  # rows: descending position
        return p_desc.flip(-2).transpose(-1, -2)  # [item, ascending rank]


class DiffSortNet(torch.nn.Module):
    """Differentiable sorting networks (Petersen et al. 2021, 2022) from the diffsort package: an
    odd-even network of relaxed swaps, logistic (with ART, lambda = 0.25) or Cauchy (monotonic)."""

    def __init__(self, n: int, distribution: str, steepness: float) -> None:
        super().__init__()
        from diffsort import DiffSortNet as _Net

        self.net = _Net("odd_even", n, steepness=steepness, distribution=distribution)

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        return self.net(scores)[1]


class _PerturbedFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, scores: torch.Tensor, sigma: float, samples: int, generator: torch.Generator):
        z = torch.randn((samples,) + tuple(scores.shape), generator=generator, dtype=scores.dtype)
        with torch.no_grad():
            perms = hard_permutation(scores.detach().unsqueeze(0) + sigma * z)  # (S, B, n, n)
        ctx.save_for_backward(perms, z)
        ctx.sigma = sigma
        return perms.mean(0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):
        perms, z = ctx.saved_tensors
        # d E[P(x + sigma Z)] / dx = E[P(x + sigma Z) Z^T] / sigma  (Berthet et al. 2020, Gaussian)
        weight = (perms * grad.unsqueeze(0)).sum((-1, -2))  # (S, B)
        g = (weight.unsqueeze(-1) * z).mean(0) / ctx.sigma
        return g, None, None, None


class PerturbedRanking(torch.nn.Module):
    """Perturbed optimizers (Berthet et al. 2020): E[P(x + sigma Z)], Z ~ N(0, I), plain Monte Carlo,
    no variance reduction; the Jacobian by the Gaussian score identity.  Written in torch."""

    def __init__(self, sigma: float, samples: int, seed: int) -> None:
        super().__init__()
        self.sigma, self.samples = sigma, samples
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        return _PerturbedFunction.apply(scores, self.sigma, self.samples, self.generator)


def make_ranking(method: str, hyper: float, n: int, seed: int, samples: int = 256,
                 sampler: str = "rqmc-latin") -> torch.nn.Module:
    """method: gss-<dist> | neuralsort | dsn-logistic | dsn-cauchy | perturbed."""
    if method.startswith("gss-"):
        return GSSRanking(n, method[4:], hyper, samples, sampler, seed)
    if method == "neuralsort":
        return NeuralSort(hyper)
    if method == "dsn-logistic":
        return DiffSortNet(n, "logistic", hyper)
    if method == "dsn-cauchy":
        return DiffSortNet(n, "cauchy", hyper)
    if method == "perturbed":
        return PerturbedRanking(hyper, samples, seed)
    raise ValueError(f"unknown method {method!r}")


#: the candidate hyperparameters each method's value is chosen from on the validation sets:
#: gss and perturbed: the noise scale gamma (paper, appendix D); NeuralSort: the temperature tau;
#: DSNs: the steepness (inverse temperature) of the relaxed swaps.
CANDIDATES = {
    "gss": (1.0, 1 / 3, 0.1),
    "perturbed": (1.0, 1 / 3, 0.1),
    "neuralsort": (1.0, 4.0, 16.0),
    "dsn-logistic": (3.0, 10.0, 30.0),
    "dsn-cauchy": (3.0, 10.0, 30.0),
}


def candidates(method: str) -> tuple[float, ...]:
    return CANDIDATES["gss" if method.startswith("gss-") else method]
