"""gss as a PyTorch layer: ``gss.torch.Smoothed(box, ...)``.

The smoothed black box f_eps is differentiable; this module makes it a ``torch.nn.Module`` whose
forward estimates f_eps at a batch of inputs (one gss call, all cores) and whose backward is
J^T grad_output with the estimated Jacobian J.  The scale gamma can be learned: its gradient is
the paper's Lemma 6 estimate (Theorem 7 for a scale matrix), from the same samples.

Example: one training step through a hard sorter::

    import torch, gss, gss.torch
    sorter = gss.plugin("sorter", n=5)
    layer = gss.torch.Smoothed(sorter, scale=0.5, samples=256, shaped=True, seed=0)
    scores = model(inputs)                      # (B, 5)
    permutations = layer(scores)                # (B, 5, 5), differentiable
    loss = ((permutations - targets) ** 2).mean()
    loss.backward()                             # J^T g into the model
    optimizer.step()
"""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable

from ._box import BlackBox
from ._smooth import _seed_value, estimate, estimate_with_tape, point_seed

__all__ = ["Smoothed"]

_FLOAT_DTYPES = (torch.float32, torch.float64)


class _SmoothFunction(torch.autograd.Function):
    """forward: gss estimate of the value and a tape of the samples; backward: J^T g from the tape."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, scale: torch.Tensor, layer: "Smoothed", seed: int,  # type: ignore[override]
                need_x: bool, need_scale: bool) -> torch.Tensor:
        box = layer.box
        n, m = box.n, box.m
        lead = x.shape[:-1]
        points = x.detach().to(device="cpu", dtype=torch.float64).contiguous().numpy().reshape(-1, n)
        scale_values = scale.detach().to(device="cpu", dtype=torch.float64).numpy()
        if layer.scale_is_matrix:
            scale_args = dict(scale_matrix=scale_values)
        elif scale_values.ndim == 0:
            scale_args = dict(scale=float(scale_values))
        else:
            scale_args = dict(scale=scale_values)
        # The value through the tape's path, which forms no Jacobian where keeping the samples is
        # cheaper (the full estimate's sums cost as much without a Jacobian requested); the tape is
        # kept only for a backward pass, and differentiates gamma only when it is learned.
        if points.shape[0] > 0:
            value, tape = estimate_with_tape(box, points, seed=seed, wrt_scale=need_scale,
                                             **scale_args, **layer.settings)
        else:
            value, tape = np.empty((0, m)), None
        ctx.tape = tape if need_x or need_scale else None
        ctx.x_meta = (x.shape, x.dtype, x.device)
        ctx.scale_meta = (scale.shape, scale.dtype, scale.device)
        ctx.m = m
        out_shape = box.output_shape if layer.shaped else (m,)
        value = torch.from_numpy(value.reshape(tuple(lead) + out_shape))
        return value.to(device=x.device, dtype=x.dtype)

    @staticmethod
    @once_differentiable  # J^T g comes from gss, outside autograd: a second derivative is refused
    def backward(ctx: Any, grad_output: torch.Tensor) -> Any:  # type: ignore[override]
        g = grad_output.detach().to(device="cpu", dtype=torch.float64).contiguous().numpy()
        g = g.reshape(-1, ctx.m)
        grad_x = grad_scale = None
        if ctx.tape is None:
            return grad_x, grad_scale, None, None, None, None
        per_point_x, per_point_scale = ctx.tape.vjp(g)
        if ctx.needs_input_grad[0]:
            shape, dtype, device = ctx.x_meta
            grad_x = torch.from_numpy(per_point_x).reshape(shape).to(device=device, dtype=dtype)
        if ctx.needs_input_grad[1] and per_point_scale is not None:
            shape, dtype, device = ctx.scale_meta
            # sum over points b and outputs i of g[b, i] * d value[b, i] / d gamma_(j or jk)
            total = per_point_scale.sum(axis=0)
            if len(shape) == 0 or math.prod(shape) == 1 and total.size != 1:
                total = np.asarray(total.sum())  # one gamma for every input: the total derivative
            grad_scale = torch.from_numpy(np.asarray(total)).reshape(shape).to(device=device, dtype=dtype)
        return grad_x, grad_scale, None, None, None, None


class Smoothed(nn.Module):
    """A black box smoothed by gss, as a differentiable layer.

    ``forward(x)`` maps inputs of shape ``(..., n)`` to the smoothed values, ``(..., m)`` (or
    ``(..., *box.output_shape)`` with ``shaped=True``), in one gss call for the whole batch; the
    backward pass is J^T grad_output per point, with J the Jacobian estimated from the same
    samples.  float32 and float64 inputs give the same dtype out (gss computes in float64).
    Tensors on another device are copied to the CPU for the black box and the results back.

    Every forward call draws fresh noise: call t (``self.calls``, saved in the state_dict) uses
    the seed ``gss.point_seed(seed, t << 32)`` and point b of its batch ``gss.point_seed`` of that
    and b, so a whole training run is reproducible from ``seed``.

    Parameters
    ----------
    box : gss.BlackBox
        The black box f: R^n -> R^m.
    dist, samples, sampler, antithetic, covariate, threads, median
        As in :func:`gss.smooth`.
    scale : float or array_like of shape (n,)
        gamma > 0, one for all inputs or one per input.
    scale_matrix : array_like of shape (n, n), optional
        An invertible L: smooth f(x + L eps) instead.
    learn_scale : bool
        Make gamma (or L) an ``nn.Parameter`` (``self.scale`` / ``self.scale_matrix``) whose
        gradient is the paper's Lemma 6 estimate of d value / d gamma (Theorem 7 for L): for a
        scalar gamma, grad = sum_b sum_i g[b, i] sum_j d value[b, i] / d gamma_j.  gamma must stay
        positive; clamp it after optimizer steps if a step may cross 0
        (``with torch.no_grad(): layer.scale.clamp_(min=1e-3)``).
    seed : int
        The training run's seed.
    shaped : bool
        Outputs in the black box's output shape (images, permutation matrices).
    """

    def __init__(
        self,
        box: BlackBox,
        *,
        dist: str = "logistic",
        scale: Any = 1.0,
        scale_matrix: Any = None,
        learn_scale: bool = False,
        samples: int = 1024,
        sampler: str = "rqmc-latin",
        antithetic: bool = False,
        covariate: str = "loo",
        seed: int = 0,
        threads: Optional[int] = None,
        median: Optional[int] = None,
        shaped: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(box, BlackBox):
            raise ValueError(f"box must be a gss.BlackBox, got {type(box).__name__}.")
        self.box = box
        self.seed = _seed_value(seed)
        self.shaped = bool(shaped)
        self.settings = dict(
            dist=dist, samples=samples, sampler=sampler, antithetic=antithetic,
            covariate=covariate, threads=threads, median=median,
        )
        n = box.n
        self.scale_is_matrix = scale_matrix is not None
        if self.scale_is_matrix:
            if not (isinstance(scale, (int, float)) and scale == 1):
                raise ValueError("give either scale or scale_matrix, not both.")
            value = torch.as_tensor(np.asarray(scale_matrix, dtype=np.float64))
            if value.shape != (n, n):
                raise ValueError(f"scale_matrix must have shape ({n}, {n}), got {tuple(value.shape)}.")
            name = "scale_matrix"
        else:
            value = torch.as_tensor(np.asarray(scale, dtype=np.float64))
            if value.shape not in ((), (1,), (n,)):
                raise ValueError(
                    f"scale must be one number or one per input, shape ({n},); got {tuple(value.shape)}."
                )
            name = "scale"
        if learn_scale:
            self.register_parameter(name, nn.Parameter(value.clone()))
        else:
            self.register_buffer(name, value.clone())
        self.calls = 0  # forward calls so far; in the state_dict (extra state)
        # Check the settings now (one clear error at construction, not at the first step).
        estimate(box, np.zeros((0, n)), **self.settings)

    def _scale_tensor(self) -> torch.Tensor:
        return self.scale_matrix if self.scale_is_matrix else self.scale

    def next_seed(self) -> int:
        """The seed the next forward call will use."""
        return point_seed(self.seed, self.calls << 32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Smoothed values of x, shape ``(..., n)`` -> ``(..., m)`` (or the output shape)."""
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}.")
        if x.dtype not in _FLOAT_DTYPES:
            raise ValueError(f"x must be float32 or float64, got {x.dtype}.")
        if x.ndim == 0 or x.shape[-1] != self.box.n:
            raise ValueError(
                f"x must have shape (..., n) with n = {self.box.n} inputs, got {tuple(x.shape)}."
            )
        seed = self.next_seed()
        scale = self._scale_tensor()
        grad = torch.is_grad_enabled()
        need_x = grad and x.requires_grad
        need_scale = grad and scale.requires_grad
        out = _SmoothFunction.apply(x, scale, self, seed, need_x, need_scale)
        self.calls += 1
        return out

    def get_extra_state(self) -> dict:
        """The call counter and seed, so that a restored module continues the run's noise."""
        return {"calls": self.calls, "seed": self.seed}

    def set_extra_state(self, state: dict) -> None:
        self.calls = int(state["calls"])
        self.seed = _seed_value(state["seed"])

    def extra_repr(self) -> str:
        learn = isinstance(self._scale_tensor(), nn.Parameter)
        return (f"{self.box.name}, n={self.box.n}, m={self.box.m}, dist={self.settings['dist']}, "
                f"samples={self.settings['samples']}, learn_scale={learn}, seed={self.seed}")
