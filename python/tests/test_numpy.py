"""The NumPy API against closed forms, and its determinism (seeds, batches, threads)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gss
from closed_forms import DISTRIBUTIONS, heaviside
from closed_forms import sorter2 as sorter2_reference
from conftest import A


def assert_close(estimate, stderr, truth, *, k=5.0, max_stderr=None):
    """|estimate - truth| < k * stderr everywhere, with standard errors that are small enough
    for the check to mean something (max_stderr)."""
    estimate, stderr, truth = (np.asarray(a, dtype=float) for a in (estimate, stderr, truth))
    assert estimate.shape == truth.shape, (estimate.shape, truth.shape)
    assert np.all(stderr > 0), stderr
    if max_stderr is not None:
        assert np.all(stderr < max_stderr), f"standard errors too large to test: {stderr.max()}"
    z = np.abs(estimate - truth) / stderr
    assert np.all(z < k), f"|estimate - truth| / stderr up to {z.max():.2f}:\n{estimate}\nvs\n{truth}"


def step(x):
    return (x > 0).astype(float)


# -- closed forms -------------------------------------------------------------------------------


@pytest.mark.parametrize("dist", DISTRIBUTIONS)
def test_heaviside_under_every_distribution(dist):
    x, gamma = 0.3, 0.5
    value, gradient, _ = heaviside(dist, x, gamma)
    with gss.function(step, 1, 1) as box:
        est = gss.smooth(box, [x], dist=dist, scale=gamma, samples=4096, seed=11)
    assert est.value.shape == (1,) and est.jacobian.shape == (1, 1)
    assert_close(est.value, est.value_stderr, [value], max_stderr=0.02)
    assert_close(est.jacobian, est.jacobian_stderr, [[gradient]], max_stderr=0.1)


@pytest.mark.parametrize("dist", ["gaussian", "logistic", "laplace"])
def test_heaviside_scale_derivative_lemma_6(dist):
    x, gamma = 0.3, 0.5
    _, _, dgamma = heaviside(dist, x, gamma)
    with gss.function(step, 1, 1) as box:
        est = gss.smooth(box, [x], dist=dist, scale=gamma, samples=16384, seed=3, wrt_scale=True)
    assert est.scale_gradient.shape == (1, 1)
    assert_close(est.scale_gradient, est.scale_gradient_stderr, [[dgamma]], max_stderr=0.05)


def test_linear_map_function_box(linear_box):
    x = np.array([0.2, -0.7, 1.1])
    est = gss.smooth(linear_box, x, dist="gaussian", scale=0.5, samples=4096, seed=5)
    assert est.value.shape == (2,) and est.jacobian.shape == (2, 3)
    assert_close(est.value, est.value_stderr, A @ x, max_stderr=0.1)
    assert_close(est.jacobian, est.jacobian_stderr, A, max_stderr=0.2)


def test_linear_map_program_box(linear_program):
    x = np.array([0.2, -0.7, 1.1])
    est = gss.smooth(linear_program, x, dist="logistic", scale=0.5, samples=1024, seed=5)
    assert_close(est.value, est.value_stderr, A @ x, max_stderr=0.2)
    assert_close(est.jacobian, est.jacobian_stderr, A, max_stderr=0.5)
    # The program is f itself, too.
    assert np.allclose(linear_program(x), A @ x)


def test_linear_map_per_input_scale_and_matrix(linear_box):
    x = np.array([0.2, -0.7, 1.1])
    est = gss.smooth(linear_box, x, scale=[0.2, 0.5, 1.0], samples=4096, seed=6)
    assert_close(est.jacobian, est.jacobian_stderr, A, max_stderr=0.3)
    L = np.array([[0.5, 0.0, 0.0], [0.2, 0.4, 0.0], [-0.1, 0.3, 0.6]])
    est = gss.smooth(linear_box, x, scale_matrix=L, samples=4096, seed=6, wrt_scale=True)
    assert est.scale_gradient.shape == (2, 3, 3)
    assert_close(est.jacobian, est.jacobian_stderr, A, max_stderr=0.3)
    # f linear: E f(x + L eps) = A x for every L, so d value / d L = 0.
    assert_close(est.scale_gradient, est.scale_gradient_stderr, np.zeros((2, 3, 3)), max_stderr=0.5)


@pytest.mark.parametrize("dist", ["gaussian", "logistic"])
def test_sorter_exact_for_two_numbers(sorter2, dist):
    x0, x1, gamma = 0.1, 0.4, 0.5
    value, jacobian = (np.array(a) for a in sorter2_reference(dist, x0, x1, gamma))
    est = gss.smooth(sorter2, [x0, x1], dist=dist, scale=gamma, samples=8192, seed=2)
    assert_close(est.value, est.value_stderr, value, max_stderr=0.01)
    assert_close(est.jacobian, est.jacobian_stderr, jacobian, max_stderr=0.05)
    shaped = gss.smooth(sorter2, [x0, x1], dist=dist, scale=gamma, samples=8192, seed=2, shaped=True)
    assert shaped.value.shape == (2, 2) and shaped.jacobian.shape == (2, 2, 2)
    assert np.array_equal(shaped.value.reshape(4), est.value)


def test_floor_through_a_c_symbol():
    """floor(x) from libm through libffi: d/dx E floor(x + g eps) = sum_k mu((k - x)/g)/g."""
    x, gamma = 0.35, 0.4
    with gss.symbol("libm.so.6:floor", "double(double)") as box:
        assert (box.n, box.m) == (1, 1)
        assert box([2.7]).tolist() == [2.0]
        est = gss.smooth(box, [x], dist="gaussian", scale=gamma, samples=8192, seed=4)
    phi = lambda e: math.exp(-0.5 * e * e) / math.sqrt(2 * math.pi)  # noqa: E731
    gradient = sum(phi((k - x) / gamma) / gamma for k in range(-10, 11))
    value = sum(k * (0.5 * math.erfc(-((k + 1 - x) / gamma) / math.sqrt(2))
                     - 0.5 * math.erfc(-((k - x) / gamma) / math.sqrt(2))) for k in range(-10, 11))
    assert_close(est.value, est.value_stderr, [value], max_stderr=0.02)
    assert_close(est.jacobian, est.jacobian_stderr, [[gradient]], max_stderr=0.05)


def test_the_tests_catch_a_wrong_estimator():
    """The closed-form checks fail on a deliberately wrong Jacobian (sign flipped) or a value
    shifted by 10 standard errors."""
    x, gamma = 0.3, 0.5
    value, gradient, _ = heaviside("logistic", x, gamma)
    with gss.function(step, 1, 1) as box:
        est = gss.smooth(box, [x], scale=gamma, samples=4096, seed=11)
    with pytest.raises(AssertionError):
        assert_close(-est.jacobian, est.jacobian_stderr, [[gradient]])
    with pytest.raises(AssertionError):
        assert_close(est.value + 10 * est.value_stderr, est.value_stderr, [value])


# -- determinism --------------------------------------------------------------------------------


def test_point_seed_rule():
    for seed, point in [(0, 0), (0, 1), (7, 3), (2**64 - 1, 2**63 + 5)]:
        assert gss.point_seed(seed, point) == (seed + point * 0x9E3779B97F4A7C15) % 2**64
    with pytest.raises(ValueError, match="seed"):
        gss.point_seed(-1, 0)


def test_batch_equals_point_by_point():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(6, 4))
    with gss.plugin("sorter", n=4) as box:
        batch = gss.smooth(box, points, samples=64, seed=123, wrt_scale=True)
        assert batch.value.shape == (6, 16) and batch.jacobian.shape == (6, 16, 4)
        for b in range(6):
            one = gss.smooth(box, points[b], samples=64, seed=gss.point_seed(123, b), wrt_scale=True)
            for name in ("value", "value_stderr", "jacobian", "jacobian_stderr", "scale_gradient"):
                assert np.array_equal(getattr(batch, name)[b], getattr(one, name)), (name, b)


def test_batch_of_a_python_function_equals_point_by_point(linear_box):
    points = np.random.default_rng(1).normal(size=(3, 3))
    batch = gss.smooth(linear_box, points, samples=300, seed=9)
    for b in range(3):
        one = gss.smooth(linear_box, points[b], samples=300, seed=gss.point_seed(9, b))
        assert np.array_equal(batch.jacobian[b], one.jacobian)
        assert np.array_equal(batch.value[b], one.value)


def test_leading_axes_are_a_batch(sorter3):
    points = np.random.default_rng(2).normal(size=(2, 3, 3))
    est = gss.smooth(sorter3, points, samples=32, seed=1)
    flat = gss.smooth(sorter3, points.reshape(6, 3), samples=32, seed=1)
    assert est.value.shape == (2, 3, 9) and est.jacobian.shape == (2, 3, 9, 3)
    assert np.array_equal(est.jacobian.reshape(6, 9, 3), flat.jacobian)


@pytest.mark.parametrize("kind", ["plugin", "function"])
def test_bit_identical_across_thread_counts(kind, linear_box):
    points = np.random.default_rng(3).normal(size=(4, 3))
    box = gss.plugin("sorter", n=3) if kind == "plugin" else linear_box
    one = gss.smooth(box, points, samples=2048, seed=77, threads=1, covariance=True)
    two = gss.smooth(box, points, samples=2048, seed=77, threads=2, covariance=True)
    default = gss.smooth(box, points, samples=2048, seed=77, covariance=True)
    for name in ("value", "value_stderr", "jacobian", "jacobian_stderr", "covariance", "covariance_gradient"):
        assert np.array_equal(getattr(one, name), getattr(two, name)), name
        assert np.array_equal(getattr(one, name), getattr(default, name)), name


def test_same_seed_same_bits_other_seed_other_bits(sorter3):
    x = [0.1, 0.2, 0.3]
    a = gss.smooth(sorter3, x, samples=64, seed=5)
    b = gss.smooth(sorter3, x, samples=64, seed=5)
    c = gss.smooth(sorter3, x, samples=64, seed=6)
    assert np.array_equal(a.jacobian, b.jacobian)
    assert not np.array_equal(a.jacobian, c.jacobian)


def test_input_arrays_are_not_copied_or_changed(sorter3):
    x = np.array([[0.1, 0.2, 0.3]])
    before = x.copy()
    gss.smooth(sorter3, x, samples=16)
    assert np.array_equal(x, before)
    # Other dtypes and layouts are converted.
    f = np.asfortranarray(np.array([[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]]))
    ints = np.array([1, 2, 3])
    assert np.array_equal(gss.smooth(sorter3, f, samples=16).value,
                          gss.smooth(sorter3, np.ascontiguousarray(f), samples=16).value)
    assert np.array_equal(gss.smooth(sorter3, ints, samples=16).value,
                          gss.smooth(sorter3, [1.0, 2.0, 3.0], samples=16).value)


# -- shapes, extras, the black box itself -------------------------------------------------------


def test_extras_shapes(sorter3):
    x = np.zeros((2, 3)) + [0.0, 0.5, 1.0]
    est = gss.smooth(sorter3, x, samples=64, wrt_scale=True, covariance=True)
    assert est.scale_gradient.shape == (2, 9, 3)
    assert est.covariance.shape == (2, 9, 9) and est.covariance_stderr.shape == (2, 9, 9)
    assert est.covariance_gradient.shape == (2, 9, 9, 3)
    assert est.covariance_scale_gradient.shape == (2, 9, 9, 3)
    shaped = gss.smooth(sorter3, x, samples=64, wrt_scale=True, covariance=True, shaped=True)
    assert shaped.value.shape == (2, 3, 3) and shaped.jacobian.shape == (2, 3, 3, 3)
    assert shaped.scale_gradient.shape == (2, 3, 3, 3)
    assert shaped.covariance.shape == (2, 3, 3, 3, 3)
    assert shaped.covariance_gradient.shape == (2, 3, 3, 3, 3, 3)
    assert np.array_equal(shaped.covariance.reshape(2, 9, 9), est.covariance)
    plain = gss.smooth(sorter3, x[0], samples=64)
    assert plain.scale_gradient is None and plain.covariance is None
    assert "value(9,)" in repr(plain)


def test_covariance_of_a_linear_map(linear_box):
    """Cov f(x + g eps) = g^2 A Var(eps) A^T; logistic Var = pi^2 / 3."""
    gamma = 0.5
    est = gss.smooth(linear_box, [0.0, 0.0, 0.0], scale=gamma, samples=8192, seed=8, covariance=True)
    truth = gamma**2 * (math.pi**2 / 3) * A @ A.T
    assert_close(est.covariance, est.covariance_stderr, truth, max_stderr=0.5)


def test_median_smoothing_of_a_step():
    """The k-sample median of 1[x + g eps > 0] for k = 3: P(at least 2 of 3 positive)."""
    x, gamma = 0.3, 0.5
    p, _, _ = heaviside("logistic", x, gamma)
    with gss.function(step, 1, 1) as box:
        est = gss.smooth(box, [x], scale=gamma, samples=8192, seed=1, median=3)
    truth = 3 * p**2 * (1 - p) + p**3
    assert_close(est.value, est.value_stderr, [truth], max_stderr=0.02)


def test_black_box_attributes_and_evaluation(sorter3):
    assert (sorter3.n, sorter3.m, sorter3.output_shape) == (3, 9, (3, 3))
    assert "sorter" in sorter3.name
    with gss.plugin("sorter") as five:
        assert five.default_input.tolist() == [-0.5, 1.0, 0.0, -1.0, 0.5]
        est = gss.smooth(five, samples=16)  # x defaults to the black box's own
        assert np.array_equal(est.value, gss.smooth(five, five.default_input, samples=16).value)
    y = sorter3([0.3, -1.0, 2.0])
    assert y.tolist() == [0, 1, 0, 1, 0, 0, 0, 0, 1]
    assert sorter3([[0.3, -1.0, 2.0]] * 2, shaped=True).shape == (2, 3, 3)
    assert sorter3(np.zeros((0, 3))).shape == (0, 9)
    ranks = gss.plugin("sorter", n=3, mode="ranks")
    assert ranks([0.3, -1.0, 2.0], threads=1).tolist() == [1, 0, 2]
    ranks.close()
    assert ranks.closed
    with pytest.raises(ValueError, match="closed"):
        ranks([0.0, 1.0, 2.0])


def test_python_function_is_called_with_whole_blocks():
    sizes = []

    def fn(x):
        sizes.append(len(x))
        return x.sum(axis=1, keepdims=True)

    with gss.function(fn, 2, 1, preferred_rows=1024) as box:
        gss.smooth(box, np.zeros((4, 2)), samples=1024, seed=0, threads=1)
    # Per point: sample 0 alone (its output shifts the sums), then the other 1023 in one block.
    assert sizes == [1, 1023] * 4, f"{len(sizes)} calls for 4096 rows: {sizes[:20]}"


def test_reentrant_python_function(linear_box):
    with gss.function(lambda x: x @ A.T, 3, 2, reentrant=True) as box:
        a = gss.smooth(box, [0.1, 0.2, 0.3], samples=512, seed=3)
    b = gss.smooth(linear_box, [0.1, 0.2, 0.3], samples=512, seed=3)
    assert np.array_equal(a.jacobian, b.jacobian)


def test_program_each_row(python, tmp_path):
    with gss.program("echo $(( {x0} > 0 ))", 1, 1, each_row=True) as box:
        pass  # {x0} is a decimal: the shell cannot compare it; only the construction is checked
    script = tmp_path / "twice.py"
    script.write_text("import sys\nprint(2 * float(sys.argv[1]) + float(sys.argv[2]))\n")
    with gss.program(f"{python} {script} {{x0}} {{x1}}", 2, 1, each_row=True) as box:
        assert box([[1.5, 0.25]]).tolist() == [[3.25]]
        est = gss.smooth(box, [0.0, 0.0], samples=16, seed=1)
    assert_close(est.jacobian, est.jacobian_stderr, [[2.0, 1.0]], max_stderr=1.5)


def test_calls_from_several_python_threads(linear_box):
    """Any thread may call; calls on one box are serialized, other boxes run concurrently, and
    every result equals the same call made alone."""
    from concurrent.futures import ThreadPoolExecutor

    points = np.random.default_rng(4).normal(size=(5, 3))
    sorter = gss.plugin("sorter", n=3)
    jobs = [(box, seed) for seed in range(6) for box in (sorter, linear_box)]
    alone = [gss.smooth(box, points, samples=256, seed=seed).jacobian for box, seed in jobs]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda job: gss.smooth(job[0], points, samples=256, seed=job[1]).jacobian, jobs))
    for a, b in zip(alone, together):
        assert np.array_equal(a, b)
    sorter.close()


def test_a_python_black_box_may_call_gss():
    """A black box whose function itself smooths another black box (nested calls)."""
    with gss.plugin("sorter", n=2) as inner:
        def fn(rows):
            return gss.smooth(inner, rows, samples=16, seed=0).value[:, :1]

        with gss.function(fn, 2, 1) as outer:
            est = gss.smooth(outer, [0.1, 0.4], samples=32, seed=1)
    assert np.isfinite(est.jacobian).all()
