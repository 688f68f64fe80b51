"""Ways to train through the shortest-path solver, all with the same solver (gss's
``shortest-path`` plugin, Dijkstra on 12x12 vertex costs, 8-neighbourhood).  Each maps predicted
costs (B, 12, 12) and true paths (B, 12, 12) to a scalar training loss whose gradient reaches the
costs.

gss, smoothing the algorithm (section 2.3, f = h): the smoothed path mask E[h(w + gamma eps)]
    through ``gss.torch.Smoothed``, and the squared error against the true path.
gss, smoothing the objective (f = l o h): the Hamming loss of the hard path,
    l(h) = sum_i h_i (1 - 2 t_i) + sum_i t_i, smoothed.  l is linear in h, so
    E[l(h(w + gamma eps))] = l(E[h(w + gamma eps)]), and with the LOO covariate gss's estimate of
    the gradient of the smoothed scalar l o h equals (1 - 2 t)^T J with J the smoothed mask's
    Jacobian from the same samples (the leave-one-out baseline is linear too): one gss call for
    the whole batch instead of a black box per target.  tests check the identity against gss
    smoothing a scalar l o h black box directly.
blackbox: Vlastelica et al. (2020): the hard path forward, and backward the difference of the
    hard paths at w and at w + lambda * dL/dy, divided by lambda; Hamming loss.
fy: the perturbed Fenchel-Young loss (Berthet et al. 2020): additive Gaussian noise sigma Z,
    plain Monte Carlo, gradient t - E[h(w + sigma Z)] (costs are minimised).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

GRID = 12
N = GRID * GRID


def _box():
    import data

    return data._box()


def hard_paths(costs: torch.Tensor) -> torch.Tensor:
    w = costs.detach().to(torch.float64).reshape(-1, N).numpy()
    return torch.from_numpy(_box()(w, threads=1)).reshape(costs.shape).to(costs.dtype)


def hamming(paths: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Hamming distance per map (summed over cells), averaged over the batch, as Vlastelica et
    al.'s HammingLoss (blackbox's lambda is relative to this scale); for relaxed paths, the linear
    extension."""
    return (paths * (1 - 2 * targets) + targets).sum((-1, -2)).mean()


class GSSAlgorithm(torch.nn.Module):
    def __init__(self, dist: str, scale: float, samples: int, sampler: str, seed: int) -> None:
        super().__init__()
        import gss.torch

        self.layer = gss.torch.Smoothed(_box(), dist=dist, scale=scale, samples=samples, sampler=sampler,
                                        covariate="loo", seed=seed, threads=1)

    def smoothed(self, costs: torch.Tensor) -> torch.Tensor:
        return self.layer(costs.reshape(-1, N)).reshape(costs.shape)

    def forward(self, costs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return ((self.smoothed(costs) - targets) ** 2).sum((-1, -2)).mean()


class GSSObjective(GSSAlgorithm):
    def forward(self, costs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return hamming(self.smoothed(costs), targets)


class _Blackbox(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, costs: torch.Tensor, lam: float) -> torch.Tensor:
        paths = hard_paths(costs)
        ctx.save_for_backward(costs, paths)
        ctx.lam = lam
        return paths

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):
        costs, paths = ctx.saved_tensors
        perturbed = hard_paths(costs + ctx.lam * grad)
        return -(paths - perturbed) / ctx.lam, None


class Blackbox(torch.nn.Module):
    def __init__(self, lam: float) -> None:
        super().__init__()
        self.lam = lam

    def forward(self, costs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return hamming(_Blackbox.apply(costs, self.lam), targets)


class _FenchelYoung(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, costs: torch.Tensor, targets: torch.Tensor, sigma: float, samples: int,
                generator: torch.Generator) -> torch.Tensor:
        z = torch.randn((samples,) + tuple(costs.shape), generator=generator, dtype=costs.dtype)
        perturbed = costs.detach().unsqueeze(0) + sigma * z
        paths = hard_paths(perturbed)  # (S, B, 12, 12)
        mean_path = paths.mean(0)
        ctx.save_for_backward(targets - mean_path)
        # L_FY(w; t) = <w, t> - E[min_y <w + sigma Z, y>], a Monte Carlo estimate, per map, averaged
        value = (costs.detach() * targets).sum((-1, -2)) - (perturbed * paths).sum((-1, -2)).mean(0)
        return value.mean()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):
        (g,) = ctx.saved_tensors
        return grad * g / g.shape[0], None, None, None, None


class FenchelYoung(torch.nn.Module):
    def __init__(self, sigma: float, samples: int, seed: int) -> None:
        super().__init__()
        self.sigma, self.samples = sigma, samples
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, costs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return _FenchelYoung.apply(costs, targets, self.sigma, self.samples, self.generator)


def make_method(method: str, hyper: float, samples: int, sampler: str, seed: int) -> torch.nn.Module:
    """method: gss-algorithm-<dist> | gss-objective-<dist> | blackbox | fy."""
    if method.startswith("gss-algorithm-"):
        return GSSAlgorithm(method[len("gss-algorithm-"):], hyper, samples, sampler, seed)
    if method.startswith("gss-objective-"):
        return GSSObjective(method[len("gss-objective-"):], hyper, samples, sampler, seed)
    if method == "blackbox":
        return Blackbox(hyper)
    if method == "fy":
        return FenchelYoung(hyper, samples, seed)
    raise ValueError(f"unknown method {method!r}")
