"""gss.smooth: batched estimates of the smoothed value, its Jacobian and the extras."""


import ctypes
import math
import operator
import threading
import weakref
from collections import OrderedDict
from ctypes import byref, c_void_p
from typing import Any, Optional

import numpy as np

from . import _capi
from ._box import BlackBox, as_points, threads_argument
from ._errors import raise_for_status

__all__ = ["smooth", "Estimate", "point_seed", "DISTRIBUTIONS", "SAMPLERS", "COVARIATES"]

LIB = _capi.LIB
_UINT64 = 2**64

DISTRIBUTIONS = ("gaussian", "logistic", "gumbel", "cauchy", "laplace", "triangular", "wigner")
SAMPLERS = ("mc", "qmc-latin", "rqmc-latin", "qmc-cartesian", "rqmc-cartesian", "sobol")
COVARIATES = ("none", "fx", "loo")


def _seed_value(seed: Any, what: str = "seed") -> int:
    try:
        value = operator.index(seed)
    except TypeError:
        raise ValueError(f"{what} must be an integer in [0, 2^64), got {seed!r}.") from None
    if isinstance(seed, bool) or not 0 <= value < _UINT64:
        raise ValueError(f"{what} must be an integer in [0, 2^64), got {seed!r}.")
    return value


def point_seed(seed: int, point: int) -> int:
    """The seed point ``point`` of a batch is estimated with (``gss_point_seed``).

    ``seed + point * 0x9E3779B97F4A7C15 (mod 2^64)``: point 0 uses ``seed`` itself, and point b
    of a batch estimated with ``seed`` equals, bit for bit, a one-point estimate with
    ``point_seed(seed, b)``, whatever the batch size and the thread count.
    """
    return int(LIB.gss_point_seed(_seed_value(seed), _seed_value(point, "point")))


class Estimate:
    """What :func:`gss.smooth` returns: the estimates and their standard errors.

    For x of shape (n,) the arrays are shaped ``(m,)`` (value) and ``(m, n)`` (Jacobian); for a
    batch x of shape (B, n) (or any ``(..., n)``) they gain the leading batch axes.  With
    ``shaped=True`` every m axis is the black box's ``output_shape`` instead.  Extras that were
    not requested are None.

    Attributes
    ----------
    value, value_stderr : numpy.ndarray, (..., m)
        The smoothed value f_eps(x) = E[f(x + gamma eps)] (with ``median=k``, the k-sample
        median's) and its standard error.
    jacobian, jacobian_stderr : numpy.ndarray, (..., m, n)
        ``jacobian[..., i, j]`` = d value_i / d x_j.
    scale_gradient, scale_gradient_stderr : numpy.ndarray, (..., m, n) or (..., m, n, n)
        With ``wrt_scale=True``: d value_i / d gamma_j (Lemma 6; one column per input, so the
        derivative in a single scalar gamma is the sum over the last axis), or d value_i / d L_jk
        with a scale matrix (Theorem 7).
    covariance, covariance_stderr : numpy.ndarray, (..., m, m)
        With ``covariance=True``: the output covariance G (Theorem 8).
    covariance_gradient, covariance_gradient_stderr : numpy.ndarray, (..., m, m, n)
        With ``covariance=True``: dG / dx.
    covariance_scale_gradient, covariance_scale_gradient_stderr : numpy.ndarray
        With both: dG / d gamma, (..., m, m, n) or (..., m, m, n, n).
    seed : int
        The seed of point 0 (point b used ``gss.point_seed(seed, b)``).
    samples : int
        Samples per point.
    """

    value: Optional[np.ndarray] = None
    value_stderr: Optional[np.ndarray] = None
    jacobian: Optional[np.ndarray] = None
    jacobian_stderr: Optional[np.ndarray] = None
    scale_gradient: Optional[np.ndarray] = None
    scale_gradient_stderr: Optional[np.ndarray] = None
    covariance: Optional[np.ndarray] = None
    covariance_stderr: Optional[np.ndarray] = None
    covariance_gradient: Optional[np.ndarray] = None
    covariance_gradient_stderr: Optional[np.ndarray] = None
    covariance_scale_gradient: Optional[np.ndarray] = None
    covariance_scale_gradient_stderr: Optional[np.ndarray] = None

    def __init__(self, seed: int, samples: int, arrays: dict[str, np.ndarray]):
        self.seed = seed
        self.samples = samples
        self.__dict__.update(arrays)

    def __repr__(self) -> str:
        parts = [f"{name}{tuple(getattr(self, name).shape)}"
                 for name in _capi.OUTPUT_FIELDS if getattr(self, name) is not None]
        return f"<gss.Estimate samples={self.samples} seed={self.seed}: {', '.join(parts)}>"


class _Config:
    """A gss_config handle, with the scale last set on it."""

    __slots__ = ("handle", "busy", "scale_key", "_finalizer", "__weakref__")

    def __init__(self) -> None:
        handle = c_void_p()
        status = LIB.gss_config_create(byref(handle))
        if status != _capi.OK:
            raise_for_status(status, b"")
        self.handle: int = handle.value
        self.busy = False
        self.scale_key: Any = None
        self._finalizer = weakref.finalize(self, LIB.gss_config_free, self.handle)

    def set(self, setter: Any, *args: Any) -> None:
        error = ctypes.create_string_buffer(_capi.ERROR_CAPACITY)
        status = setter(self.handle, *args, error, _capi.ERROR_CAPACITY)
        if status != _capi.OK:
            raise_for_status(status, error.value)


def _text(value: Any, what: str, choices: tuple[str, ...]) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be one of {', '.join(choices)}; got {value!r}.")
    return value.encode()


def _new_config(key: tuple) -> _Config:
    dist, samples, sampler, antithetic, covariate, threads, wrt_scale, covariance, median = key
    config = _Config()
    config.set(LIB.gss_config_set_distribution, dist)
    config.set(LIB.gss_config_set_samples, samples)
    config.set(LIB.gss_config_set_sampler, sampler)
    config.set(LIB.gss_config_set_antithetic, int(antithetic))
    config.set(LIB.gss_config_set_covariate, covariate)
    config.set(LIB.gss_config_set_threads, threads)
    config.set(LIB.gss_config_set_scale_derivative, int(wrt_scale))
    config.set(LIB.gss_config_set_covariance, int(covariance))
    config.set(LIB.gss_config_set_median, median)
    return config


_local = threading.local()
_CACHE_SIZE = 16


def _acquire_config(key: tuple) -> _Config:
    """A configuration with these settings, from this thread's cache (made on a miss).

    Caching saves the Python call ~10 setter calls; a configuration in use (a nested call from a
    black box on this thread) is never handed out twice.
    """
    cache: Optional[OrderedDict] = getattr(_local, "configs", None)
    if cache is None:
        cache = _local.configs = OrderedDict()
    config = cache.get(key)
    if config is not None and not config.busy:
        cache.move_to_end(key)
    else:
        config = _new_config(key)
        if key not in cache:
            cache[key] = config
            if len(cache) > _CACHE_SIZE:
                for old_key, old in list(cache.items()):
                    if not old.busy:
                        del cache[old_key]
                        break
    config.busy = True
    return config


def _scale_arrays(
    scale: Any, scale_matrix: Any, n: int
) -> tuple[Optional[np.ndarray], Optional[np.ndarray], tuple[int, ...]]:
    """(scale vector or None, scale matrix or None, the shape of one scale-derivative entry)."""
    if scale_matrix is not None:
        if not (isinstance(scale, (int, float)) and scale == 1):
            raise ValueError("give either scale or scale_matrix, not both (a scale matrix L "
                             "replaces the scale: the noise is L eps).")
        matrix = np.asarray(scale_matrix)
        if matrix.dtype.kind not in "fiu" or matrix.dtype == np.bool_:
            raise ValueError(f"scale_matrix must hold real numbers, got dtype {matrix.dtype}.")
        if matrix.shape != (n, n):
            raise ValueError(
                f"scale_matrix must have shape (n, n) = ({n}, {n}), got shape {matrix.shape}."
            )
        return None, np.ascontiguousarray(matrix, dtype=np.float64), (n, n)
    if isinstance(scale, (int, float)) and not isinstance(scale, bool):
        return np.array([float(scale)]), None, (n,)
    vector = np.asarray(scale)
    if vector.dtype.kind not in "fiu" or vector.dtype == np.bool_:
        raise ValueError(f"scale must hold real numbers, got dtype {vector.dtype}.")
    if vector.shape not in ((), (1,), (n,)):
        raise ValueError(
            f"scale must be one number or one per input, shape (n,) = ({n},); got shape {vector.shape}."
        )
    return np.ascontiguousarray(vector.reshape(-1), dtype=np.float64), None, (n,)


def _apply_scale(config: _Config, scale: Any, scale_matrix: Any, n: int) -> tuple[int, ...]:
    """Set the scale on the configuration unless it already holds it; returns the shape of one
    scale-derivative entry ((n,) or (n, n))."""
    if scale_matrix is None and type(scale) is float and scale_matrix is None:
        # The common case, without arrays: a Python float.
        if config.scale_key != scale:
            config.scale_key = None
            value = ctypes.c_double(scale)
            config.set(LIB.gss_config_set_scale, ctypes.addressof(value), 1)
            config.scale_key = scale
        return (n,)
    vector, matrix, q_shape = _scale_arrays(scale, scale_matrix, n)
    if matrix is not None:
        key: Any = (b"L", matrix.tobytes())
        if config.scale_key != key:
            config.scale_key = None
            config.set(LIB.gss_config_set_scale_matrix, matrix.ctypes.data, matrix.shape[0])
            config.scale_key = key
    else:
        assert vector is not None
        key = vector.tobytes() if vector.shape[0] > 1 else float(vector[0])
        if config.scale_key != key:
            config.scale_key = None
            config.set(LIB.gss_config_set_scale, vector.ctypes.data, vector.shape[0])
            config.scale_key = key
    return q_shape


_SETTINGS_CACHE: dict = {}


def _settings_key(
    dist: Any, samples: Any, sampler: Any, antithetic: Any, covariate: Any, threads: Any,
    wrt_scale: Any, covariance: Any, median: Any,
) -> tuple:
    """The validated configuration key (what a gss_config is made from), memoised: validating
    the same settings again costs one dictionary lookup."""
    raw = (dist, samples, type(samples), sampler, bool(antithetic), covariate, threads,
           type(threads), bool(wrt_scale), bool(covariance), median, type(median))
    try:
        return _SETTINGS_CACHE[raw]
    except KeyError:
        pass
    except TypeError:  # unhashable settings: validate below, do not remember
        raw = None
    try:
        samples_value = operator.index(samples)
    except TypeError:
        samples_value = -1
    if isinstance(samples, bool) or samples_value < 2:
        raise ValueError(f"samples must be an integer >= 2, got {samples!r}.")
    if samples_value >= _UINT64:
        raise ValueError(f"samples must be below 2^64, got {samples!r}.")
    if median is None:
        median_value = 0
    else:
        try:
            median_value = operator.index(median)
        except TypeError:
            median_value = -1
        if isinstance(median, bool) or not 2 <= median_value < _UINT64:
            raise ValueError(f"median must be None or an integer k >= 2, got {median!r}.")
    key = (
        _text(dist, "dist", DISTRIBUTIONS),
        samples_value,
        _text(sampler, "sampler", SAMPLERS),
        bool(antithetic),
        _text(covariate, "covariate", COVARIATES),
        threads_argument(threads),
        bool(wrt_scale),
        bool(covariance),
        median_value,
    )
    if raw is not None and len(_SETTINGS_CACHE) < 1024:
        _SETTINGS_CACHE[raw] = key
    return key


_LAYOUTS: dict = {}


def _layout(n: int, m: int, q_shape: tuple[int, ...], jacobian: bool, stderr: bool,
            wrt_scale: bool, covariance: bool) -> tuple[list[tuple[str, tuple[int, ...], int, int]], int]:
    """The outputs an estimate writes, in gss_estimate_outputs order: (name, per-point shape,
    per-point size), and the total size per point."""
    layout_key = (n, m, q_shape, jacobian, stderr, wrt_scale, covariance)
    found = _LAYOUTS.get(layout_key)
    if found is not None:
        return found
    shapes: list[tuple[str, tuple[int, ...]]] = [("value", (m,))]
    if jacobian:
        shapes.append(("jacobian", (m, n)))
    if wrt_scale:
        shapes.append(("scale_gradient", (m,) + q_shape))
    if covariance:
        shapes.append(("covariance", (m, m)))
        shapes.append(("covariance_gradient", (m, m, n)))
        if wrt_scale:
            shapes.append(("covariance_scale_gradient", (m, m) + q_shape))
    wanted = []
    for name, shape in shapes:
        wanted.append((name, shape, math.prod(shape), _capi.OUTPUT_INDEX[name]))
        if stderr:
            wanted.append((name + "_stderr", shape, math.prod(shape), _capi.OUTPUT_INDEX[name + "_stderr"]))
    result = (wanted, sum(size for _, _, size, _ in wanted))
    _LAYOUTS[layout_key] = result
    return result


def estimate(
    box: BlackBox,
    x: Any,
    *,
    dist: str = "logistic",
    scale: Any = 1.0,
    scale_matrix: Any = None,
    samples: int = 1024,
    sampler: str = "rqmc-latin",
    antithetic: bool = False,
    covariate: str = "loo",
    seed: int = 0,
    threads: Optional[int] = None,
    wrt_scale: bool = False,
    covariance: bool = False,
    median: Optional[int] = None,
    shaped: bool = False,
    jacobian: bool = True,
    stderr: bool = True,
) -> Estimate:
    """:func:`smooth`, with switches to skip the Jacobian or the standard errors (the layers)."""
    if not isinstance(box, BlackBox):
        raise ValueError(
            f"box must be a gss.BlackBox (from gss.plugin, gss.function, gss.program or gss.symbol), "
            f"got {type(box).__name__}."
        )
    handle = box.handle()
    n, m = box.n, box.m
    if x is None:
        if box.default_input is None:
            raise ValueError(f"x is required: the black box {box.name} has no default input.")
        x = box.default_input
    points = as_points(x, n)
    key = _settings_key(dist, samples, sampler, antithetic, covariate, threads, wrt_scale,
                        covariance, median)
    seed_value = seed if (type(seed) is int and 0 <= seed < _UINT64) else _seed_value(seed)
    wrt_scale = key[6]
    covariance = key[7]
    lead = points.shape[:-1]
    count = math.prod(lead) if len(lead) != 1 else lead[0]

    config = _acquire_config(key)
    try:
        q_shape = _apply_scale(config, scale, scale_matrix, n)
        wanted, total = _layout(n, m, q_shape, bool(jacobian), bool(stderr), wrt_scale, covariance)
        # One block: the gss_estimate_outputs struct (13 words), every output, and n doubles for
        # the failed input row; one address to ask numpy for.
        head = _capi.ESTIMATE_OUTPUTS_WORDS
        block = np.empty(head + count * total + n)
        base = block.ctypes.data
        struct = block[:head].view(np.uint64)
        struct[:] = 0
        struct[0] = 8 * head
        arrays: dict[str, np.ndarray] = {}
        offset = head
        for name, shape, size, index in wanted:
            length = count * size
            arrays[name] = block[offset: offset + length].reshape(lead + shape)
            struct[index] = base + 8 * offset
            offset += length
        if count:
            # The seed setter cannot fail for a seed in [0, 2^64): no error buffer.
            LIB.gss_config_set_seed(config.handle, seed_value, None, 0)
            config_handle = config.handle
            x_address = points.ctypes.data

            def invoke(call: _capi.Call, error: ctypes.Array) -> int:
                return LIB.gss_estimate(
                    handle, config_handle, x_address, count, base, byref(call), error,
                    _capi.ERROR_CAPACITY,
                )

            box._invoke(invoke, block[offset:], base + 8 * offset)
    finally:
        config.busy = False

    if shaped and box.output_shape != (m,):
        # Every m axis (the first of each output, the first two of the covariances) becomes the
        # black box's output shape.
        out_shape = box.output_shape
        for name, shape, _, _ in wanted:
            m_axes = 2 if name.startswith("covariance") else 1
            rebuilt = out_shape * m_axes + shape[m_axes:]
            arrays[name] = arrays[name].reshape(lead + rebuilt)
    return Estimate(seed_value, key[1], arrays)


class Tape:
    """What a forward estimate kept for its backward pass: ``tape.vjp(g)`` is g^T J per point.

    Made by :func:`estimate_with_tape` (the layers' forward pass).  The library keeps each point's
    samples (outputs and score features) when that is faster than the full Jacobian, else the
    Jacobian itself; either way ``vjp`` equals g^T J of :func:`smooth`'s Jacobian for the same seed
    up to rounding.  The numbers are freed with the tape (``nbytes`` of them).
    """

    __slots__ = ("handle", "count", "n", "m", "scale_shape", "_finalizer", "__weakref__")

    def __init__(self, handle: int, count: int, n: int, m: int, scale_shape: Optional[tuple[int, ...]]):
        self.handle = handle
        self.count, self.n, self.m = count, n, m
        self.scale_shape = scale_shape  # one point's scale cotangent, when the scale is differentiated
        self._finalizer = weakref.finalize(self, LIB.gss_vjp_tape_free, handle)

    @property
    def nbytes(self) -> int:
        """Bytes of numbers the tape holds."""
        return int(LIB.gss_vjp_tape_bytes(self.handle))

    def vjp(self, cotangent: Any) -> tuple[np.ndarray, Optional[np.ndarray]]:
        """g^T J for each point: cotangent ``(count, m)`` -> ``((count, n), scale part or None)``.

        The scale part, ``(count, n)`` (``(count, n, n)`` for a scale matrix), is g^T d value /
        d gamma per point, present when the forward pass differentiated the scale.
        """
        g = np.ascontiguousarray(cotangent, dtype=np.float64)
        if g.shape != (self.count, self.m):
            raise ValueError(
                f"cotangent must have shape (points, m) = ({self.count}, {self.m}), got {g.shape}."
            )
        grad_x = np.empty((self.count, self.n))
        grad_scale = None
        if self.scale_shape is not None:
            grad_scale = np.empty((self.count,) + self.scale_shape)
        error = ctypes.create_string_buffer(_capi.ERROR_CAPACITY)
        status = LIB.gss_vjp(self.handle, g.ctypes.data, grad_x.ctypes.data,
                             None if grad_scale is None else grad_scale.ctypes.data,
                             error, _capi.ERROR_CAPACITY)
        if status != _capi.OK:
            raise_for_status(status, error.value)
        return grad_x, grad_scale


def estimate_with_tape(
    box: BlackBox,
    x: Any,
    *,
    dist: str = "logistic",
    scale: Any = 1.0,
    scale_matrix: Any = None,
    samples: int = 1024,
    sampler: str = "rqmc-latin",
    antithetic: bool = False,
    covariate: str = "loo",
    seed: int = 0,
    threads: Optional[int] = None,
    wrt_scale: bool = False,
    median: Optional[int] = None,
) -> tuple[np.ndarray, Tape]:
    """The smoothed value at x, shape ``(..., m)``, and a :class:`Tape` for g^T J at each point.

    What a layer's forward pass needs (the C API's gss_estimate_with_tape): the same samples,
    seeds and settings as :func:`smooth`, but the Jacobian is never formed when keeping the
    samples is cheaper; the backward pass asks the tape for g^T J.
    """
    if not isinstance(box, BlackBox):
        raise ValueError(
            f"box must be a gss.BlackBox (from gss.plugin, gss.function, gss.program or gss.symbol), "
            f"got {type(box).__name__}."
        )
    handle = box.handle()
    n, m = box.n, box.m
    points = as_points(x, n)
    key = _settings_key(dist, samples, sampler, antithetic, covariate, threads, wrt_scale, False, median)
    seed_value = seed if (type(seed) is int and 0 <= seed < _UINT64) else _seed_value(seed)
    lead = points.shape[:-1]
    count = math.prod(lead)
    if count == 0:
        raise ValueError(f"x must hold at least one point, got shape {points.shape}.")
    config = _acquire_config(key)
    try:
        q_shape = _apply_scale(config, scale, scale_matrix, n)
        # The values, then n doubles for the failed input row.
        block = np.empty(count * m + n)
        value = block[: count * m].reshape(lead + (m,))
        tape = c_void_p()
        LIB.gss_config_set_seed(config.handle, seed_value, None, 0)
        config_handle = config.handle
        x_address = points.ctypes.data
        base = block.ctypes.data

        def invoke(call: _capi.Call, error: ctypes.Array) -> int:
            return LIB.gss_estimate_with_tape(
                handle, config_handle, x_address, count, base, None, byref(tape), byref(call),
                error, _capi.ERROR_CAPACITY,
            )

        box._invoke(invoke, block[count * m:], base + 8 * count * m)
    finally:
        config.busy = False
    return value, Tape(tape.value, count, n, m, q_shape if key[6] else None)


def smooth(
    box: BlackBox,
    x: Any = None,
    *,
    dist: str = "logistic",
    scale: Any = 1.0,
    scale_matrix: Any = None,
    samples: int = 1024,
    sampler: str = "rqmc-latin",
    antithetic: bool = False,
    covariate: str = "loo",
    seed: int = 0,
    threads: Optional[int] = None,
    wrt_scale: bool = False,
    covariance: bool = False,
    median: Optional[int] = None,
    shaped: bool = False,
) -> Estimate:
    """Estimate the smoothed value and Jacobian of a black box at one point or a batch.

    Generalized stochastic smoothing replaces a black box f (a sorter, a shortest-path solver, a
    renderer, a simulator: anything without a useful gradient) by

        f_eps(x) = E[ f(x + gamma * eps) ],    eps ~ mu (n independent draws),

    which is differentiable whatever f is.  gss estimates f_eps(x) and its Jacobian from
    evaluations of f alone, with a standard error for every entry:

        f_eps(x)       ~ (1/s) sum_i f(x + gamma eps_i)
        d f_eps / dx_j ~ (1/s) sum_i (f(x + gamma eps_i) - c) * score(eps_ij) / gamma_j

    (score = d/d eps of -log mu; c a control variate).  This is what ``gss grad`` computes, in
    process, on all cores, for B points in one call.

    Example
    -------
    >>> import gss, numpy as np
    >>> sorter = gss.plugin("sorter", n=5)
    >>> est = gss.smooth(sorter, np.array([0.3, -1.0, 2.0, 0.5, -0.2]), samples=4096, seed=1)
    >>> est.value.shape, est.jacobian.shape                  # (m,), (m, n)
    ((25,), (25, 5))
    >>> batch = gss.smooth(sorter, np.random.randn(100, 5), samples=256, shaped=True)
    >>> batch.value.shape                                     # (B, 5, 5) permutation matrices
    (100, 5, 5)

    Parameters
    ----------
    box : gss.BlackBox
        The black box f: :func:`gss.plugin`, :func:`gss.function`, :func:`gss.program` or
        :func:`gss.symbol`.
    x : array_like, shape (n,) or (B, n) (any ``(..., n)``), optional
        The point, or a batch of points; finite real numbers (float64 C-contiguous arrays are
        used without a copy).  Default: the black box's own input (``box.default_input``).
    dist : str
        The smoothing distribution mu: ``"gaussian"``, ``"logistic"`` (default), ``"gumbel"``,
        ``"cauchy"``, ``"laplace"``, ``"triangular"`` or ``"wigner"``.
    scale : float or array_like of shape (n,)
        gamma > 0, one for every input or one per input.  Default 1.
    scale_matrix : array_like of shape (n, n), optional
        An invertible L: smooth f(x + L eps) instead (then leave ``scale`` at 1).
    samples : int
        s >= 2 samples per point.  Default 1024.
    sampler : str
        How the samples are placed: ``"mc"``, ``"qmc-latin"``, ``"rqmc-latin"`` (default),
        ``"qmc-cartesian"``, ``"rqmc-cartesian"`` or ``"sobol"``.
    antithetic : bool
        Pair every sample with its mirror (eps and -eps for symmetric distributions).
    covariate : str
        The control variate subtracted from f: ``"none"``, ``"fx"`` (f at x) or ``"loo"``
        (leave-one-out mean of the other samples; default).
    seed : int
        In [0, 2^64).  The same seed and settings give bit-identical results, whatever the
        thread count; point b of a batch uses ``gss.point_seed(seed, b)``, so it equals a
        one-point call with that seed.
    threads : int, optional
        Worker threads (default: all cores).  Never changes the results.
    wrt_scale : bool
        Also estimate d value / d gamma (Lemma 6 of the paper; d value / d L for a scale
        matrix, Theorem 7): ``scale_gradient``.
    covariance : bool
        Also estimate the output covariance and its derivatives (Theorem 8): ``covariance``,
        ``covariance_gradient`` (and ``covariance_scale_gradient`` with ``wrt_scale``).
    median : int, optional
        k-sample median smoothing of a scalar black box (Lemma 13) with 2 <= k <= samples,
        instead of the mean.
    shaped : bool
        Give every output axis in the black box's ``output_shape`` (images, permutation
        matrices): value ``(..., *output_shape)``, Jacobian ``(..., *output_shape, n)``.

    Returns
    -------
    Estimate
        ``value``, ``value_stderr`` of shape (m,) and ``jacobian``, ``jacobian_stderr`` of shape
        (m, n) for one point; with a leading (B,) for a batch; extras as requested.

    Raises
    ------
    ValueError
        A bad argument: wrong shape or dtype, a non-finite x, an unknown distribution, sampler
        or covariate, samples < 2, a bad combination of options (the library's sentence).
    gss.BlackBoxError
        The black box failed or gave a non-finite output; ``.point``, ``.sample`` and ``.input``
        say where (a Python function's exception is its ``__cause__``).
    MemoryError
        Out of memory.
    KeyboardInterrupt
        Ctrl-C during the call: the estimate stops within one block of rows, nothing written.

    See Also
    --------
    gss.torch.Smoothed : the smoothed black box as a PyTorch layer (learnable scale too).
    gss.jax.smooth : as a JAX function under jit, grad and vmap.
    """
    return estimate(
        box, x, dist=dist, scale=scale, scale_matrix=scale_matrix, samples=samples,
        sampler=sampler, antithetic=antithetic, covariate=covariate, seed=seed, threads=threads,
        wrt_scale=wrt_scale, covariance=covariance, median=median, shaped=shaped,
    )


smooth.__module__ = "gss"
Estimate.__module__ = "gss"
point_seed.__module__ = "gss"
