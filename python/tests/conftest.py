"""Shared fixtures.  Which gss is tested: the installed package (scripts/test.sh runs pytest from
outside the source tree after `pip install ./python`), or the source tree when pytest runs from
python/ (then the library is $GSS_LIBRARY or the repository's .build/release/libGSS.so)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import gss


def pytest_report_header(config):  # noqa: ARG001
    return [f"gss package: {Path(gss.__file__).parent}", f"gss library: {gss.library_path} "
            f"(C API {gss.api_version[0]}.{gss.api_version[1]}, {gss.library_version})"]


@pytest.fixture(scope="session")
def python() -> str:
    return sys.executable


@pytest.fixture
def sorter3():
    with gss.plugin("sorter", n=3) as box:
        yield box


@pytest.fixture
def sorter2():
    with gss.plugin("sorter", n=2) as box:
        yield box


A = np.array([[1.0, -2.0, 0.5], [0.25, 3.0, -1.5]])


@pytest.fixture
def linear_box():
    """f(x) = A x as a Python function box (n = 3, m = 2)."""
    with gss.function(lambda x: x @ A.T, 3, 2, name="linear map") as box:
        yield box


@pytest.fixture
def linear_program(tmp_path, python):
    """f(x) = A x as a program box (a Python script answering lines)."""
    script = tmp_path / "linear.py"
    script.write_text(
        "import sys\n"
        f"A = {A.tolist()!r}\n"
        "for line in sys.stdin:\n"
        "    x = [float(v) for v in line.split()]\n"
        "    print(' '.join(repr(sum(a * b for a, b in zip(row, x))) for row in A), flush=True)\n"
    )
    with gss.program(f"{python} {script}", 3, 2) as box:
        yield box
