"""Every error path: one clear exception, nothing half-done (the box works afterwards)."""

from __future__ import annotations

import numpy as np
import pytest

import gss


def test_wrong_shapes(sorter3):
    for x, shape in [([0.1, 0.2], "(2,)"), (np.zeros((4, 2)), "(4, 2)"), (0.5, "()"), (np.float64(0.5), "()"),
                     (np.zeros((2, 4)), "(2, 4)")]:
        with pytest.raises(ValueError, match=r"shape \(n,\) or \(B, n\) with n = 3.*" + "got shape " + shape.replace("(", r"\(").replace(")", r"\)")):
            gss.smooth(sorter3, x)
        with pytest.raises(ValueError, match="n = 3"):
            sorter3(x)


def test_wrong_dtypes(sorter3):
    for x, dtype in [(np.array([1 + 2j, 0, 0]), "complex128"), (np.array(["a", "b", "c"]), "<U1"),
                     (np.array([True, False, True]), "bool"), (np.array([None, 1, 2]), "object")]:
        with pytest.raises(ValueError, match="real numbers.*" + dtype):
            gss.smooth(sorter3, x)
    with pytest.raises(ValueError, match="could not be converted"):
        gss.smooth(sorter3, [[0.1, 0.2, 0.3], [0.1]])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_x(sorter3, bad):
    with pytest.raises(ValueError) as info:
        gss.smooth(sorter3, [[0.1, 0.2, 0.3], [0.0, bad, 1.0]])
    assert "finite" in str(info.value)
    with pytest.raises(ValueError, match="finite"):
        sorter3([0.0, bad, 1.0])


def test_unknown_plugin_and_options():
    with pytest.raises(ValueError, match="no-such-plugin"):
        gss.plugin("no-such-plugin")
    with pytest.raises(ValueError, match="size"):
        gss.plugin("sorter", size=3)
    with pytest.raises(ValueError, match="mode"):
        gss.plugin("sorter", mode="sideways")
    with pytest.raises(ValueError):
        gss.plugin("./does/not/exist/libnothing.so")


@pytest.mark.parametrize(
    "settings, words",
    [
        (dict(dist="normal"), "normal"),
        (dict(dist=3), "dist"),
        (dict(sampler="halton"), "halton"),
        (dict(covariate="mean"), "mean"),
        (dict(samples=1), "samples"),
        (dict(samples=0), "samples"),
        (dict(samples=-5), "samples"),
        (dict(samples=2.5), "samples"),
        (dict(seed=-1), "seed"),
        (dict(seed=2**64), "seed"),
        (dict(threads=-1), "threads"),
        (dict(scale=0.0), "scale"),
        (dict(scale=-1.0), "scale"),
        (dict(scale=np.nan), "scale"),
        (dict(scale=[1.0, 2.0]), "scale"),
        (dict(scale_matrix=np.eye(2)), "scale_matrix"),
        (dict(scale_matrix=np.zeros((3, 3))), "invertible"),
        (dict(scale=0.5, scale_matrix=np.eye(3)), "not both"),
        (dict(median=1), "median"),
        (dict(median=3), "scalar"),  # the sorter is not scalar
    ],
)
def test_bad_settings(sorter3, settings, words):
    with pytest.raises(ValueError, match=words):
        gss.smooth(sorter3, [0.1, 0.2, 0.3], **settings)


def test_median_needs_k_at_most_s_and_no_covariance():
    with gss.function(lambda x: x[:, :1], 1, 1) as box:
        with pytest.raises(ValueError, match="covariance"):
            gss.smooth(box, [0.0], median=3, covariance=True)
        with pytest.raises(ValueError, match="5"):
            gss.smooth(box, [0.0], samples=4, median=5)


def test_not_a_black_box():
    with pytest.raises(ValueError, match="gss.BlackBox"):
        gss.smooth("sorter", [0.1])


def test_python_function_raising(linear_box):
    class Broken(Exception):
        pass

    def fn(x):
        if np.any(x[:, 0] > 2.0):
            raise Broken("x0 too large")
        return x

    with gss.function(fn, 2, 2) as box:
        with pytest.raises(gss.BlackBoxError) as info:
            gss.smooth(box, [[0.0, 0.0], [2.5, 0.0]], scale=0.01, samples=64, seed=1)
        error = info.value
        assert isinstance(error, RuntimeError)
        assert isinstance(error.__cause__, Broken)
        assert "x0 too large" in str(error)
        assert error.point == 1
        assert error.input is not None and error.input.shape == (2,) and error.input[0] > 2.0
        assert error.sample is not None
        # Nothing half-done: the box still works, and gives what a fresh call gives.
        ok = gss.smooth(box, [0.0, 0.0], scale=0.01, samples=64, seed=1)
        with gss.function(fn, 2, 2) as fresh:
            again = gss.smooth(fresh, [0.0, 0.0], scale=0.01, samples=64, seed=1)
        assert np.array_equal(ok.jacobian, again.jacobian)
        # The failing row of a block is the one named (found by evaluating rows one at a time).
        with pytest.raises(gss.BlackBoxError) as info:
            box([[0.0, 0.0], [3.0, 1.0], [0.5, 0.5]])
        assert info.value.point == 1 and info.value.input.tolist() == [3.0, 1.0]
        assert isinstance(info.value.__cause__, Broken)


def test_python_function_returning_nan():
    def fn(x):
        y = x.copy()
        y[x[:, 0] > 0.5] = np.nan
        return y

    with gss.function(fn, 1, 1) as box:
        with pytest.raises(gss.BlackBoxError) as info:
            gss.smooth(box, [0.0], samples=256, seed=2)
        assert info.value.input is not None and info.value.input[0] > 0.5
        with pytest.raises(gss.BlackBoxError):
            box([[0.0], [1.0]])


@pytest.mark.parametrize(
    "result, words",
    [
        (lambda x: np.zeros((len(x), 3)), r"\(.*, 3\).*expected"),
        (lambda x: np.zeros(len(x) + 1), "expected"),
        (lambda x: "no numbers", "real numbers"),
        (lambda x: None, "shape"),
    ],
)
def test_python_function_wrong_output(result, words):
    with gss.function(result, 2, 2) as box:
        with pytest.raises(gss.BlackBoxError, match=words):
            gss.smooth(box, [0.0, 0.0], samples=16)
        with pytest.raises(gss.BlackBoxError, match=words):
            box([0.0, 0.0])


def test_bad_function_arguments():
    with pytest.raises(ValueError, match="n must be"):
        gss.function(lambda x: x, 0, 1)
    with pytest.raises(ValueError, match="m must be"):
        gss.function(lambda x: x, 1, -1)
    with pytest.raises(ValueError, match="callable"):
        gss.function(42, 1, 1)
    with pytest.raises(ValueError, match="timeout"):
        gss.program("cat", 1, 1, timeout=-1)


def test_program_failures(python, tmp_path):
    with gss.program("exit 3", 1, 1) as box:
        with pytest.raises(gss.BlackBoxError):
            gss.smooth(box, [0.0], samples=8)
    with gss.program("echo not-a-number; cat >/dev/null", 1, 1) as box:
        with pytest.raises(gss.BlackBoxError):
            box([0.0])
    with gss.program("sleep 5", 1, 1, timeout=0.3) as box:
        with pytest.raises(gss.BlackBoxError):
            box([0.0])


def test_symbol_failures():
    with pytest.raises(ValueError):
        gss.symbol("libm.so.6:no_such_function", "double(double)")
    with pytest.raises(ValueError):
        gss.symbol("libnot-a-library.so.9:floor", "double(double)")
    with pytest.raises(ValueError):
        gss.symbol("libm.so.6:floor", "double(")


def test_torch_and_jax_are_loaded_only_on_use():
    import subprocess
    import sys

    code = "import sys, gss; print('torch' in sys.modules, 'jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_failing_row_of_a_large_block_is_named():
    calls = []

    def fn(x):
        calls.append(len(x))
        if np.any(x[:, 0] == 700.0):
            raise ArithmeticError("row 700")
        return x

    rows = np.zeros((1024, 1))
    rows[700:] = np.arange(700, 1024)[:, None]
    with gss.function(fn, 1, 1) as box:
        with pytest.raises(gss.BlackBoxError) as info:
            box(rows, threads=1)
    assert info.value.input.tolist() == [700.0] and info.value.point == 700
    assert isinstance(info.value.__cause__, ArithmeticError)
    assert sum(calls) < 4 * 1024, calls  # bisection, not a rerun per row
