"""gss.torch.Smoothed: forward = the NumPy estimate, backward = J^T v of its Jacobian (to rounding:
the tape sums in another order), through both kinds of tape, the learnable scale's gradient
(Lemma 6) against finite differences, dtypes, seeds across calls."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import gss  # noqa: E402
import gss.torch  # noqa: E402
from closed_forms import heaviside  # noqa: E402
from conftest import A  # noqa: E402
from test_numpy import assert_close, step  # noqa: E402


def numpy_vjp(v, jacobian):
    return np.matmul(v[:, None, :], jacobian)[:, 0, :]


def assert_vjp_equal(grad, v, jacobian):
    """grad == v^T J per point, to the rounding of a sum in another order (J^T v from a tape)."""
    expected = numpy_vjp(v, jacobian)
    rounding = 1e-13 * np.matmul(np.abs(v)[:, None, :], np.abs(jacobian))[:, 0, :] + 1e-300
    assert np.all(np.abs(grad - expected) <= rounding), (grad, expected)


def test_forward_and_backward_equal_the_numpy_estimate(sorter3):
    layer = gss.torch.Smoothed(sorter3, scale=0.5, samples=128, seed=42)
    x = torch.tensor([[0.1, -0.3, 0.8], [1.0, 0.2, -0.5]], dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out = layer(x)
    (out * v).sum().backward()
    seed = gss.point_seed(42, 0 << 32)
    est = gss.smooth(sorter3, x.detach().numpy(), scale=0.5, samples=128, seed=seed)
    assert out.dtype == torch.float64 and out.shape == (2, 9)
    assert np.array_equal(out.detach().numpy(), est.value)
    assert_vjp_equal(x.grad.numpy(), v.numpy(), est.jacobian)


def threshold_map(rows):
    """f(x)_i = 1 if x_i > i/20 else 0, and f(x)_(n+i) = x_i^3: a box wide enough (m*p > 8(m + p))
    for the tape to keep the samples instead of the Jacobian."""
    n = rows.shape[1]
    return np.concatenate([(rows > np.arange(n) / 20).astype(float), rows**3], axis=1)


@pytest.mark.parametrize("covariate", ["loo", "none", "fx"])
@pytest.mark.parametrize("sampler", ["rqmc-latin", "mc"])
def test_backward_from_kept_samples_equals_the_full_jacobian(covariate, sampler):
    n = 24
    box = gss.function(threshold_map, n, 2 * n)
    settings = dict(scale=0.3, samples=96, sampler=sampler, covariate=covariate)
    layer = gss.torch.Smoothed(box, seed=11, threads=2, **settings)
    x = torch.linspace(-0.5, 1.5, 3 * n, dtype=torch.float64).reshape(3, n).requires_grad_()
    v = torch.randn(3, 2 * n, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    out = layer(x)
    (out * v).sum().backward()
    est = gss.smooth(box, x.detach().numpy(), seed=gss.point_seed(11, 0), **settings)
    assert np.allclose(out.detach().numpy(), est.value, rtol=1e-13, atol=1e-13)
    assert_vjp_equal(x.grad.numpy(), v.numpy(), est.jacobian)
    # Against a wrong Jacobian (one output's row negated) the check fails.
    wrong = est.jacobian.copy()
    wrong[:, n:] *= -1
    with pytest.raises(AssertionError):
        assert_vjp_equal(x.grad.numpy(), v.numpy(), wrong)


def test_learned_scale_from_kept_samples_equals_the_full_estimate():
    n = 24
    box = gss.function(threshold_map, n, 2 * n)
    layer = gss.torch.Smoothed(box, scale=np.full(n, 0.4), learn_scale=True, samples=64, seed=5)
    x = torch.linspace(-0.5, 1.5, 2 * n, dtype=torch.float64).reshape(2, n).requires_grad_()
    v = torch.randn(2, 2 * n, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    (layer(x) * v).sum().backward()
    est = gss.smooth(box, x.detach().numpy(), scale=np.full(n, 0.4), samples=64, wrt_scale=True,
                     seed=gss.point_seed(5, 0))
    assert_vjp_equal(x.grad.numpy(), v.numpy(), est.jacobian)
    expected = np.einsum("bi,bij->j", v.numpy(), est.scale_gradient)
    rounding = 1e-13 * np.einsum("bi,bij->j", np.abs(v.numpy()), np.abs(est.scale_gradient))
    assert np.all(np.abs(layer.scale.grad.numpy() - expected) <= rounding)


def test_each_call_draws_fresh_noise_reproducibly(sorter3):
    x = torch.tensor([0.1, -0.3, 0.8], dtype=torch.float64)
    layer = gss.torch.Smoothed(sorter3, samples=64, seed=7)
    first, second = layer(x), layer(x)
    assert not torch.equal(first, second)
    assert int(layer.calls) == 2
    expected = gss.smooth(sorter3, x.numpy(), samples=64, seed=gss.point_seed(7, 1 << 32)).value
    assert np.array_equal(second.numpy(), expected)
    # A new module with the same seed, or one restored from a state_dict, repeats the run.
    again = gss.torch.Smoothed(sorter3, samples=64, seed=7)
    assert torch.equal(again(x), first)
    restored = gss.torch.Smoothed(sorter3, samples=64, seed=7)
    restored.load_state_dict(layer.state_dict())
    third = layer(x)
    assert torch.equal(restored(x), third)


def test_float32_in_float32_out(sorter3):
    layer = gss.torch.Smoothed(sorter3, samples=64, seed=1)
    x = torch.tensor([[0.1, -0.3, 0.8]], dtype=torch.float32, requires_grad=True)
    out = layer(x)
    assert out.dtype == torch.float32
    out.sum().backward()
    assert x.grad.dtype == torch.float32
    est = gss.smooth(sorter3, x.detach().double().numpy(), samples=64, seed=gss.point_seed(1, 0))
    assert np.array_equal(out.detach().numpy(), est.value.astype(np.float32))
    v = np.ones((1, 9))
    expected = numpy_vjp(v, est.jacobian)
    assert np.allclose(x.grad.numpy(), expected, rtol=1e-6, atol=1e-7 * np.abs(est.jacobian).sum())


def test_shaped_outputs_and_leading_axes(sorter3):
    layer = gss.torch.Smoothed(sorter3, samples=32, seed=3, shaped=True)
    x = torch.randn(4, 2, 3, dtype=torch.float64, requires_grad=True)
    out = layer(x)
    assert out.shape == (4, 2, 3, 3)
    out.sum().backward()
    assert x.grad.shape == (4, 2, 3)
    # Rows of a permutation matrix sum to 1, so do their smoothed versions; d(sum)/dx = 0 exactly
    # up to rounding.
    assert torch.allclose(out.sum(-1), torch.ones(4, 2, 3, dtype=torch.float64))


def test_linear_map_gradient_is_a_transpose_v(linear_box):
    layer = gss.torch.Smoothed(linear_box, dist="gaussian", scale=0.5, samples=4096, seed=0)
    x = torch.tensor([0.2, -0.7, 1.1], dtype=torch.float64, requires_grad=True)
    v = torch.tensor([1.0, -2.0], dtype=torch.float64)
    (layer(x) * v).sum().backward()
    est = gss.smooth(linear_box, x.detach().numpy(), dist="gaussian", scale=0.5, samples=4096,
                     seed=gss.point_seed(0, 0))
    # The gradient's standard error: |v|-weighted, conservatively the sum of the entries'.
    stderr = np.abs(v.numpy()) @ est.jacobian_stderr
    assert_close(x.grad.numpy(), stderr, A.T @ v.numpy(), max_stderr=0.5)


def test_learnable_scalar_scale_gradient_is_lemma_6(sorter3):
    layer = gss.torch.Smoothed(sorter3, scale=0.5, learn_scale=True, samples=256, seed=5)
    assert isinstance(layer.scale, torch.nn.Parameter) and layer.scale.shape == ()
    x = torch.tensor([[0.1, -0.3, 0.8], [0.0, 0.2, 0.1]], dtype=torch.float64)
    v = torch.randn(2, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    (layer(x) * v).sum().backward()
    est = gss.smooth(sorter3, x.numpy(), scale=0.5, samples=256, seed=gss.point_seed(5, 0),
                     wrt_scale=True)
    expected = np.tensordot(v.numpy(), est.scale_gradient, axes=([0, 1], [0, 1])).sum()
    assert layer.scale.grad.dtype == torch.float64
    assert np.isclose(layer.scale.grad.item(), expected, rtol=1e-12, atol=1e-15)


def test_learnable_scale_gradient_against_finite_differences():
    """d/dgamma of E[f(x + gamma eps)] for a smooth f: Lemma 6's estimate (through the layer)
    against central differences of the layer's own values at gamma +- h with common seeds."""
    weights = np.array([[1.0, 0.5], [-0.3, 2.0]])

    def f(x):  # smooth, nonlinear: sin and squares
        return np.sin(x) @ weights.T + 0.5 * (x**2) @ np.abs(weights).T

    x = torch.tensor([0.4, -0.2], dtype=torch.float64)
    v = torch.tensor([1.0, 0.7], dtype=torch.float64)
    gamma, h, samples = 0.6, 1e-3, 2**16
    with gss.function(f, 2, 2) as box:
        for per_input in (False, True):
            scale = [gamma, gamma] if per_input else gamma
            layer = gss.torch.Smoothed(box, dist="gaussian", scale=scale, learn_scale=True,
                                       samples=samples, seed=9)
            (layer(x) * v).sum().backward()
            grad = layer.scale.grad.numpy().reshape(-1)
            est = gss.smooth(box, x.numpy(), dist="gaussian", scale=scale, samples=samples,
                             seed=gss.point_seed(9, 0), wrt_scale=True)
            stderr = np.abs(v.numpy()) @ est.scale_gradient_stderr  # (n,) per input gamma
            for j in range(2 if per_input else 1):
                def value_at(g):
                    s = np.array([gamma, gamma])
                    if per_input:
                        s[j] = g
                    else:
                        s[:] = g
                    probe = gss.torch.Smoothed(box, dist="gaussian", scale=s, samples=samples, seed=9)
                    return float((probe(x) * v).sum())
                fd = (value_at(gamma + h) - value_at(gamma - h)) / (2 * h)
                # A scalar gamma's derivative is the sum over inputs: sd(sum) <= sum of sd.
                se = stderr[j] if per_input else stderr.sum()
                assert se < 0.05
                assert abs(grad[j] - fd) < 5 * se, (per_input, j, grad[j], fd, se)
            # A deliberately wrong estimate (sign flipped) fails the same check.
            assert abs(-grad[0] - fd) > 5 * se


def test_learnable_scale_closed_form_heaviside():
    """For the step f = 1[x > 0]: d/dgamma P(x + gamma eps > 0) = -mu(-x/gamma) x / gamma^2."""
    x0, gamma = 0.3, 0.5
    _, _, truth = heaviside("logistic", x0, gamma)
    with gss.function(step, 1, 1) as box:
        layer = gss.torch.Smoothed(box, scale=gamma, learn_scale=True, samples=16384, seed=2)
        layer(torch.tensor([x0], dtype=torch.float64)).sum().backward()
        est = gss.smooth(box, [x0], scale=gamma, samples=16384, seed=gss.point_seed(2, 0),
                         wrt_scale=True)
    assert_close([layer.scale.grad.item()], est.scale_gradient_stderr[0], [truth], max_stderr=0.05)


def test_learnable_scale_matrix(linear_box):
    L = np.array([[0.5, 0.0, 0.0], [0.1, 0.4, 0.0], [0.0, 0.2, 0.3]])
    layer = gss.torch.Smoothed(linear_box, scale_matrix=L, learn_scale=True, samples=128, seed=1)
    assert layer.scale_matrix.shape == (3, 3)
    x = torch.tensor([0.2, -0.7, 1.1], dtype=torch.float64)
    v = torch.tensor([[1.0, -1.0]], dtype=torch.float64)
    (layer(x[None]) * v).sum().backward()
    est = gss.smooth(linear_box, x[None].numpy(), scale_matrix=L, samples=128,
                     seed=gss.point_seed(1, 0), wrt_scale=True)
    expected = np.tensordot(v.numpy(), est.scale_gradient, axes=([0, 1], [0, 1]))
    assert np.allclose(layer.scale_matrix.grad.numpy(), expected, rtol=1e-12, atol=1e-15)


def test_a_training_step_runs(sorter3):
    model = torch.nn.Linear(4, 3).double()
    layer = gss.torch.Smoothed(sorter3, scale=0.3, learn_scale=True, samples=64, seed=0, shaped=True)
    optimizer = torch.optim.SGD(list(model.parameters()) + list(layer.parameters()), lr=0.1)
    inputs = torch.randn(8, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    targets = torch.eye(3, dtype=torch.float64).expand(8, 3, 3)
    losses = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = ((layer(model(inputs)) - targets) ** 2).mean()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            layer.scale.clamp_(min=1e-3)
        losses.append(loss.item())
    assert all(np.isfinite(losses))
    assert model.weight.grad is not None and layer.scale.grad is not None


def test_errors(sorter3):
    layer = gss.torch.Smoothed(sorter3, samples=16)
    with pytest.raises(ValueError, match="float32 or float64"):
        layer(torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="n = 3"):
        layer(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="normal"):
        gss.torch.Smoothed(sorter3, dist="normal")
    with pytest.raises(ValueError, match="scale"):
        gss.torch.Smoothed(sorter3, scale=[1.0, 2.0])
    with pytest.raises(ValueError, match="finite"):
        layer(torch.tensor([0.0, float("nan"), 1.0]))
    assert int(layer.calls) == 0  # failed calls do not count
    with gss.function(lambda x: np.full((len(x), 1), np.nan), 1, 1) as box:
        with pytest.raises(gss.BlackBoxError):
            gss.torch.Smoothed(box, samples=8)(torch.zeros(1))


def test_inference_and_scale_only_gradients(sorter3):
    layer = gss.torch.Smoothed(sorter3, scale=0.5, learn_scale=True, samples=64, seed=4)
    x = torch.tensor([[0.1, -0.3, 0.8]], dtype=torch.float64)
    with torch.no_grad():
        plain = layer(x)  # no Jacobian, no scale derivative estimated
    assert not plain.requires_grad
    est = gss.smooth(sorter3, x.numpy(), scale=0.5, samples=64, seed=gss.point_seed(4, 0))
    assert np.array_equal(plain.numpy()[0], est.value[0])
    out = layer(x)  # x needs no gradient; the scale does
    out.sum().backward()
    assert x.grad is None and layer.scale.grad is not None
    est = gss.smooth(sorter3, x.numpy(), scale=0.5, samples=64, seed=gss.point_seed(4, 1 << 32),
                     wrt_scale=True)
    assert np.isclose(layer.scale.grad.item(), est.scale_gradient.sum(), rtol=1e-12, atol=1e-15)
