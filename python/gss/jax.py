"""gss as a JAX function: ``gss.jax.smooth(box, ...)``.

Returns ``f(x, seed=0)``, the smoothed black box as a function with a ``jax.custom_vjp`` over
``jax.pure_callback``: it works under ``jit``, ``grad`` and ``vmap``.  The forward pass estimates
the value (and, when differentiated, the Jacobian J, kept as the residual); the backward pass is
J^T g (on the host in NumPy: the same bits as ``gss.torch`` and the NumPy estimate).  The output has the input's dtype (gss computes in float64; enable ``jax_enable_x64`` for
float64 inputs).

Batches: every leading axis of x, its own or added by ``vmap``, is a batch of points estimated in
one gss call (``vmap`` hands the whole batch to one callback); point b (row-major over the
leading axes) uses the seed ``gss.point_seed(seed, b)``.  So ``vmap(f)(X, seed)`` equals
``f(X, seed)``, and row b of it equals ``f(X[b], gss.point_seed(seed, b))``: independent noise
per point.  A vmapped seed (one per instance) gives every instance its own call.

Example::

    import jax, jax.numpy as jnp, gss, gss.jax
    f = gss.jax.smooth(gss.plugin("sorter", n=5), scale=0.5, samples=256, shaped=True)

    @jax.jit
    def loss(theta, inputs, targets, seed):
        return jnp.mean((f(model(theta, inputs), seed) - targets) ** 2)

    grads = jax.grad(loss)(theta, inputs, targets, step)   # fresh noise per step
"""

from __future__ import annotations

import math
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from ._box import BlackBox
from ._smooth import _seed_value, estimate, estimate_with_tape, point_seed

__all__ = ["smooth"]


def _seed_words(seed: Any) -> jax.Array:
    """The seed as uint32 words (..., 2) = (low, high): a Python int keeps all 64 bits."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        value = _seed_value(seed)
        return jnp.asarray(np.array([value & 0xFFFFFFFF, value >> 32], dtype=np.uint32))
    seed = jnp.asarray(seed)
    if not jnp.issubdtype(seed.dtype, jnp.integer):
        raise ValueError(f"seed must be an integer (a Python int or an integer array), got dtype {seed.dtype}.")
    if seed.dtype.itemsize == 8:
        low = (seed & 0xFFFFFFFF).astype(jnp.uint32)
        high = (seed >> 32).astype(jnp.uint32)
    else:
        low = seed.astype(jnp.uint32)
        high = jnp.zeros_like(low)
    return jnp.stack([low, high], axis=-1)


def _host_vjp(g: np.ndarray, jacobian: np.ndarray) -> np.ndarray:
    """sum_i g[..., i] J[..., i, j] (float64), in J's dtype."""
    g = np.asarray(g, dtype=np.float64)
    jacobian = np.asarray(jacobian)
    product = np.matmul(g[..., None, :], jacobian.astype(np.float64, copy=False))[..., 0, :]
    return product.astype(jacobian.dtype, copy=False)


def smooth(box: BlackBox, *, shaped: bool = False, **settings: Any) -> Callable[..., jax.Array]:
    """The smoothed black box as a differentiable JAX function ``f(x, seed=0)``.

    Parameters
    ----------
    box : gss.BlackBox
        The black box f: R^n -> R^m.
    shaped : bool
        Outputs in the black box's ``output_shape`` (``(..., *output_shape)``).
    **settings
        ``dist``, ``scale``, ``scale_matrix``, ``samples``, ``sampler``, ``antithetic``,
        ``covariate``, ``threads``, ``median``: as in :func:`gss.smooth` (checked now).

    Returns
    -------
    f : callable
        ``f(x, seed=0)``: x of shape (..., n), float32 or float64 (a JAX or NumPy array);
        seed a Python int in [0, 2^64) (all 64 bits kept where f sees the int itself, e.g.
        closed over inside ``jit``) or an integer array, such as a step counter passed to a
        jitted function (traced; 32 bits unless x64 is enabled) for fresh noise each step.
        Returns the smoothed values, shape (..., m) (or ``(..., *output_shape)``), in x's
        dtype.  Differentiable in x (reverse mode).
    """
    if not isinstance(box, BlackBox):
        raise ValueError(f"box must be a gss.BlackBox, got {type(box).__name__}.")
    for key in ("seed", "wrt_scale", "covariance", "x", "jacobian", "stderr"):
        if key in settings:
            raise ValueError(f"gss.jax.smooth does not take {key!r}; pass the seed to f(x, seed).")
    n, m = box.n, box.m
    estimate(box, np.zeros((0, n)), **settings)  # check the settings now
    out_shape = box.output_shape if shaped else (m,)

    def host(x: np.ndarray, seed_words: np.ndarray, own_ndim: int, with_jacobian: bool):
        """The callback.  x is (V..., L..., n) and the seeds (V..., 2): vmap's axes V in front
        (size 1 where that operand is not batched), x's own leading axes L after them.  Every
        combination of the axes along which the seed varies is one gss call; the other axes
        (vmapped or x's own) are that call's batch of points, point b seeded point_seed(seed, b)."""
        x = np.asarray(x)
        dtype = x.dtype
        words = np.asarray(seed_words, dtype=np.uint64)
        seeds = words[..., 0] | (words[..., 1] << np.uint64(32))
        vmapped = x.ndim - own_ndim
        assert seeds.ndim == vmapped, (seeds.shape, x.shape, own_ndim)
        v_shape = np.broadcast_shapes(x.shape[:vmapped], seeds.shape)
        own_lead = x.shape[vmapped:-1]
        points = np.broadcast_to(x, v_shape + own_lead + (n,))
        seed_axes = [axis for axis in range(vmapped) if seeds.shape[axis] > 1]
        point_axes = [axis for axis in range(vmapped) if seeds.shape[axis] == 1]
        order = seed_axes + point_axes
        calls = math.prod(v_shape[axis] for axis in seed_axes)
        points = points.transpose(order + list(range(vmapped, points.ndim))).reshape(calls, -1, n)
        call_seeds = np.broadcast_to(seeds, v_shape).transpose(order).reshape(calls, -1)[:, 0]
        values, jacobians = [], []
        for index in range(calls):
            if with_jacobian:
                est = estimate(box, points[index], seed=int(call_seeds[index]), stderr=False, **settings)
                values.append(est.value)
                jacobians.append(est.jacobian)
            elif points.shape[1] > 0:
                # The value alone through the tape's path: no Jacobian sums where samples are cheaper.
                value, _ = estimate_with_tape(box, points[index], seed=int(call_seeds[index]), **settings)
                values.append(value)
            else:
                values.append(np.empty((0, m)))
        ordered_lead = tuple(v_shape[axis] for axis in order) + own_lead
        back = list(np.argsort(order)) + list(range(vmapped, vmapped + len(own_lead)))

        def arrange(parts: list, tail: tuple) -> np.ndarray:
            array = np.stack(parts).reshape(ordered_lead + tail)
            array = array.transpose(back + list(range(len(back), array.ndim)))
            return np.ascontiguousarray(array, dtype=dtype)

        value = arrange(values, out_shape)
        if not with_jacobian:
            return value
        return value, arrange(jacobians, (m, n))

    def call(x: jax.Array, words: jax.Array, with_jacobian: bool):
        lead = x.shape[:-1]
        value_type = jax.ShapeDtypeStruct(lead + out_shape, x.dtype)
        own_ndim = x.ndim
        if with_jacobian:
            result_types = (value_type, jax.ShapeDtypeStruct(lead + (m, n), x.dtype))
        else:
            result_types = value_type
        return jax.pure_callback(
            lambda xs, ws: host(xs, ws, own_ndim, with_jacobian),
            result_types, x, words, vmap_method="expand_dims",
        )

    @jax.custom_vjp
    def smoothed(x: jax.Array, words: jax.Array) -> jax.Array:
        return call(x, words, False)

    def forward(x: jax.Array, words: jax.Array):
        value, jacobian = call(x, words, True)
        return value, jacobian

    def backward(jacobian: jax.Array, g: jax.Array):
        # J^T g per point, in NumPy on the host: the same bits as gss.torch and as
        # np.matmul(g[..., None, :], J) on the NumPy estimate (XLA sums in another order).
        lead = jacobian.shape[:-2]
        flat = g.reshape(lead + (m,))
        grad_x = jax.pure_callback(
            _host_vjp, jax.ShapeDtypeStruct(lead + (n,), jacobian.dtype), flat, jacobian,
            vmap_method="broadcast_all",
        )
        return grad_x, None

    smoothed.defvjp(forward, backward)

    def f(x: Any, seed: Any = 0) -> jax.Array:
        x = jnp.asarray(x)
        if x.dtype not in (jnp.float32, jnp.float64):
            raise ValueError(f"x must be float32 or float64, got dtype {x.dtype}.")
        if x.ndim == 0 or x.shape[-1] != n:
            raise ValueError(f"x must have shape (..., n) with n = {n} inputs, got shape {x.shape}.")
        words = _seed_words(seed)
        if words.shape != (2,):
            raise ValueError(f"seed must be one integer (vmap over seeds for one per point), got shape {words.shape[:-1]}.")
        return smoothed(x, words)

    f.__doc__ = (f"The smoothed {box.name} (n = {n}, m = {m}): f(x, seed=0) -> values "
                 f"(..., {', '.join(map(str, out_shape))}).")
    f.box = box  # type: ignore[attr-defined]
    return f
