"""gss: gradients through black boxes by generalized stochastic smoothing.

The smoothed black box f_eps(x) = E[f(x + gamma * eps)] is differentiable whatever f is; gss
estimates its value and Jacobian (with standard errors) from evaluations of f alone, in process,
on all cores, for a batch of points per call (Petersen et al., *Generalizing Stochastic
Smoothing for Differentiation and Gradient Estimation*).

Black boxes
    gss.plugin("sorter", n=5)             a bundled plugin (sorter, shortest-path, renderer, tem)
    gss.plugin("./libmine.so", k=3)       any plugin object (include/gss_plugin.h)
    gss.function(fn, n, m)                a Python function on (rows, n) blocks -> (rows, m)
    gss.program("python3 f.py", n, m)     a program answering lines of numbers
    gss.symbol("libm.so.6:floor", "double(double)")   a C function through libffi

Estimates
    est = gss.smooth(box, x, dist="logistic", scale=0.5, samples=1024, seed=0)
    est.value, est.jacobian, est.value_stderr, est.jacobian_stderr

Layers
    gss.torch.Smoothed(box, ...)          a torch.nn.Module (backward J^T g; learnable scale)
    gss.jax.smooth(box, ...)              a JAX function (custom_vjp; jit, grad, vmap)

The library is the C API of include/gss.h (libgss.so, shipped in the package).  For
development, GSS_LIBRARY=/path/to/libGSS.so loads another build.
"""

from __future__ import annotations

from typing import Any

from ._box import BlackBox, function, plugin, program, symbol
from ._capi import API_VERSION as _API_VERSION
from ._capi import LIBRARY_PATH as _LIBRARY_PATH
from ._capi import LIBRARY_VERSION as _LIBRARY_VERSION
from ._errors import BlackBoxError, GSSError
from ._smooth import COVARIATES, DISTRIBUTIONS, SAMPLERS, Estimate, point_seed, smooth

__version__ = "0.2.0"
#: The loaded C library's package version (``gss_library_version``).
library_version: str = _LIBRARY_VERSION
#: The loaded C library's API version as (major, minor).
api_version: tuple[int, int] = (_API_VERSION >> 16, _API_VERSION & 0xFFFF)
#: Where the loaded libgss.so is.
library_path: str = str(_LIBRARY_PATH)

__all__ = [
    "BlackBox",
    "BlackBoxError",
    "COVARIATES",
    "DISTRIBUTIONS",
    "Estimate",
    "GSSError",
    "SAMPLERS",
    "function",
    "plugin",
    "point_seed",
    "program",
    "smooth",
    "symbol",
]


def __getattr__(name: str) -> Any:
    # gss.torch and gss.jax load their frameworks only when first used.
    if name in ("torch", "jax"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'gss' has no attribute {name!r}")
