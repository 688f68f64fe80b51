"""gss.jax.smooth under jit, grad and vmap: values and J^T g equal the NumPy estimate's."""

from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

import gss  # noqa: E402
import gss.jax  # noqa: E402
from closed_forms import heaviside  # noqa: E402
from test_numpy import assert_close, step  # noqa: E402


def numpy_vjp(v, jacobian):
    return np.matmul(v[..., None, :], jacobian)[..., 0, :]


@pytest.fixture
def sorter4():
    with gss.plugin("sorter", n=4) as box:
        yield box


X = np.array([[0.1, -0.3, 0.8, 0.0], [1.0, 0.2, -0.5, 0.4], [0.0, 0.0, 0.3, -0.2]])
V = np.random.default_rng(0).normal(size=(3, 16))


def test_value_and_gradient_equal_numpy(sorter4):
    f = gss.jax.smooth(sorter4, scale=0.5, samples=128)
    est = gss.smooth(sorter4, X, scale=0.5, samples=128, seed=11)
    value = f(jnp.asarray(X), 11)
    assert value.dtype == jnp.float64 and value.shape == (3, 16)
    assert np.array_equal(np.asarray(value), est.value)
    grad = jax.grad(lambda x: jnp.sum(f(x, 11) * V))(jnp.asarray(X))
    assert np.array_equal(np.asarray(grad), numpy_vjp(V, est.jacobian))


def test_jit_grad_and_a_traced_seed(sorter4):
    f = gss.jax.smooth(sorter4, scale=0.5, samples=128)

    @jax.jit
    def loss(x, seed):
        return jnp.sum(f(x, seed) * V)

    for seed in (3, 4):
        value, grad = jax.value_and_grad(loss)(jnp.asarray(X), jnp.uint32(seed))
        est = gss.smooth(sorter4, X, scale=0.5, samples=128, seed=seed)
        assert np.isclose(float(value), float(np.sum(est.value * V)), rtol=1e-13)
        assert np.array_equal(np.asarray(grad), numpy_vjp(V, est.jacobian))
    # A 64-bit Python seed keeps all its bits.
    big = 2**63 + 12345
    assert np.array_equal(np.asarray(f(X[0], big)), gss.smooth(sorter4, X[0], scale=0.5, samples=128, seed=big).value)


def test_vmap_is_the_batch_and_point_b_uses_point_seed(sorter4):
    f = gss.jax.smooth(sorter4, samples=64)
    batched = jax.vmap(lambda x: f(x, 5))(jnp.asarray(X))
    assert np.array_equal(np.asarray(batched), np.asarray(f(jnp.asarray(X), 5)))
    for b in range(3):
        one = gss.smooth(sorter4, X[b], samples=64, seed=gss.point_seed(5, b)).value
        assert np.array_equal(np.asarray(batched[b]), one)
    # Under jit and grad too.
    grad = jax.jit(jax.grad(lambda x: jnp.sum(jax.vmap(lambda r: f(r, 5))(x) * V)))(jnp.asarray(X))
    est = gss.smooth(sorter4, X, samples=64, seed=5)
    assert np.array_equal(np.asarray(grad), numpy_vjp(V, est.jacobian))


def test_vmap_over_seeds_gives_each_instance_its_seed(sorter4):
    f = gss.jax.smooth(sorter4, samples=64)
    seeds = jnp.asarray([7, 8, 9], dtype=jnp.uint32)
    out = jax.vmap(f)(jnp.asarray(X), seeds)
    for b in range(3):
        assert np.array_equal(np.asarray(out[b]), gss.smooth(sorter4, X[b], samples=64, seed=7 + b).value)
    same_x = jax.vmap(lambda s: f(jnp.asarray(X[0]), s))(seeds)
    assert np.array_equal(np.asarray(same_x[2]), gss.smooth(sorter4, X[0], samples=64, seed=9).value)


def test_float32_and_shaped(sorter4):
    f = gss.jax.smooth(sorter4, samples=64, shaped=True)
    x32 = jnp.asarray(X, dtype=jnp.float32)
    value = f(x32)
    assert value.dtype == jnp.float32 and value.shape == (3, 4, 4)
    grad = jax.grad(lambda x: jnp.sum(f(x) ** 2))(x32)
    assert grad.dtype == jnp.float32 and grad.shape == (3, 4)


def test_heaviside_closed_form_through_jax():
    x, gamma = 0.3, 0.5
    value, gradient, _ = heaviside("gaussian", x, gamma)
    with gss.function(step, 1, 1) as box:
        f = gss.jax.smooth(box, dist="gaussian", scale=gamma, samples=8192)
        y = f(jnp.asarray([x]), 3)
        g = jax.grad(lambda z: f(z, 3)[0])(jnp.asarray([x]))
        est = gss.smooth(box, [x], dist="gaussian", scale=gamma, samples=8192, seed=3)
    assert_close(np.asarray(y), est.value_stderr, [value], max_stderr=0.02)
    assert_close(np.asarray(g), est.jacobian_stderr[0], [gradient], max_stderr=0.05)


def test_errors(sorter4):
    with pytest.raises(ValueError, match="normal"):
        gss.jax.smooth(sorter4, dist="normal")
    with pytest.raises(ValueError, match="seed"):
        gss.jax.smooth(sorter4, seed=3)
    f = gss.jax.smooth(sorter4, samples=16)
    with pytest.raises(ValueError, match="n = 4"):
        f(jnp.zeros(3))
    with pytest.raises(ValueError, match="float32 or float64"):
        f(jnp.zeros(4, dtype=jnp.int32))


def test_nested_vmap_and_jit(sorter4):
    f = gss.jax.smooth(sorter4, samples=32)
    grid = jnp.asarray(np.random.default_rng(1).normal(size=(2, 3, 4)))
    nested = jax.jit(jax.vmap(jax.vmap(lambda x: f(x, 9))))(grid)
    assert np.array_equal(np.asarray(nested), np.asarray(f(grid, 9)))
    flat = gss.smooth(sorter4, np.asarray(grid).reshape(6, 4), samples=32, seed=9).value
    assert np.array_equal(np.asarray(nested).reshape(6, 16), flat)


def test_default_config_without_x64():
    """With JAX's default 32-bit config (x64 off), float32 in and out, a Python seed keeps its
    64 bits, and gradients flow under jit."""
    import subprocess
    import sys

    code = """
import jax, jax.numpy as jnp, numpy as np, gss, gss.jax
assert not jax.config.jax_enable_x64
box = gss.plugin("sorter", n=3)
f = gss.jax.smooth(box, samples=64)
x = jnp.asarray([0.1, -0.3, 0.8])
value = jax.jit(lambda z: f(z, 2**40 + 3))(x)  # a Python seed closed over keeps its 64 bits
assert value.dtype == jnp.float32
expected = gss.smooth(box, np.asarray(x, dtype=np.float64), samples=64, seed=2**40 + 3).value
assert np.array_equal(np.asarray(value), expected.astype(np.float32))
g = jax.jit(jax.grad(lambda z, s: f(z, s)[0]))(x, jnp.uint32(5))
assert g.dtype == jnp.float32 and np.isfinite(np.asarray(g)).all()
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_nested_vmap_over_seeds_and_points(sorter4):
    """Outer vmap over seeds, inner over points: instance (v, b) is point b of a call seeded
    seeds[v], as vmap(f)(X, seeds[v]) alone would give."""
    f = gss.jax.smooth(sorter4, samples=32)
    seeds = jnp.asarray([3, 4], dtype=jnp.uint32)
    out = jax.vmap(lambda s: jax.vmap(lambda x: f(x, s))(jnp.asarray(X)))(seeds)
    assert out.shape == (2, 3, 16)
    for v, seed in enumerate((3, 4)):
        assert np.array_equal(np.asarray(out[v]), gss.smooth(sorter4, X, samples=32, seed=seed).value)
    # The other nesting: outer over points, inner over seeds.
    swapped = jax.vmap(lambda x: jax.vmap(lambda s: f(x, s))(seeds))(jnp.asarray(X))
    assert np.array_equal(np.asarray(swapped), np.asarray(out).transpose(1, 0, 2))
    # Equal seeds in a vmapped seed array still mean one call per seed (no merging by value).
    same = jax.vmap(f)(jnp.asarray(X), jnp.asarray([5, 5, 5], dtype=jnp.uint32))
    for b in range(3):
        assert np.array_equal(np.asarray(same[b]), gss.smooth(sorter4, X[b], samples=32, seed=5).value)
    with pytest.raises(ValueError, match="one integer"):
        f(jnp.asarray(X), jnp.asarray([1, 2, 3]))
