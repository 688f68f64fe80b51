"""ctypes declarations of ``include/gss.h`` (API major 1) and the loading of ``libgss.so``.

Everything that touches the C library's symbols is here: the structs, every function's
``argtypes``/``restype``, the status codes, and where the library is found.  The rest of the
package calls ``LIB.<function>`` with plain integers for array addresses (``c_void_p``), the
cheapest way through ctypes.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_double,
    c_int32,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path

__all__ = ["LIB", "LIBRARY_PATH", "API_MAJOR"]

API_MAJOR = 1

# Status codes (gss_plugin.h and gss.h); their values never change.
OK = 0
E_INVALID_ARGUMENT = 1
E_OUT_OF_MEMORY = 2
E_EVALUATION = 3
E_UNSUPPORTED = 4
E_INTERNAL = 5
E_CANCELLED = 16

STATUS_NAMES = {
    OK: "GSS_OK",
    E_INVALID_ARGUMENT: "GSS_E_INVALID_ARGUMENT",
    E_OUT_OF_MEMORY: "GSS_E_OUT_OF_MEMORY",
    E_EVALUATION: "GSS_E_EVALUATION",
    E_UNSUPPORTED: "GSS_E_UNSUPPORTED",
    E_INTERNAL: "GSS_E_INTERNAL",
    E_CANCELLED: "GSS_E_CANCELLED",
}

# Flags.
FUNCTION_REENTRANT = 1 << 0
PROGRAM_EACH_ROW = 1 << 0
SYMBOL_SERIALIZE = 1 << 0

ERROR_CAPACITY = 1024


class Option(Structure):
    """``gss_option``: one ``-o key=value``."""

    _fields_ = [("key", c_char_p), ("value", c_char_p)]


class Call(Structure):
    """``gss_call``: per-call cancellation in, failure details out."""

    _fields_ = [
        ("struct_size", c_size_t),
        ("cancel_flag", POINTER(c_int32)),
        ("cancel_fd", c_int32),
        ("failed_point", c_int64),
        ("failed_sample", c_int64),
        ("failed_input", c_void_p),
        ("failed_input_written", c_int32),
    ]


OUTPUT_FIELDS = (
    "value",
    "value_stderr",
    "jacobian",
    "jacobian_stderr",
    "scale_gradient",
    "scale_gradient_stderr",
    "covariance",
    "covariance_stderr",
    "covariance_gradient",
    "covariance_gradient_stderr",
    "covariance_scale_gradient",
    "covariance_scale_gradient_stderr",
)


class EstimateOutputs(Structure):
    """``gss_estimate_outputs``: the caller's arrays an estimate writes into (NULL: skipped)."""

    _fields_ = [("struct_size", c_size_t)] + [(name, c_void_p) for name in OUTPUT_FIELDS]


# The struct as words: struct_size, then one pointer per output in OUTPUT_FIELDS order.
ESTIMATE_OUTPUTS_WORDS = 1 + len(OUTPUT_FIELDS)
assert ctypes.sizeof(EstimateOutputs) == 8 * ESTIMATE_OUTPUTS_WORDS
OUTPUT_INDEX = {name: 1 + index for index, name in enumerate(OUTPUT_FIELDS)}


# gss_status (*gss_block_function)(void *context, const double *x, size_t rows, double *y,
#                                   char *error, size_t error_capacity)
BlockFunction = CFUNCTYPE(c_int32, c_void_p, c_void_p, c_size_t, c_void_p, c_void_p, c_size_t)

_ERR = (POINTER(c_char), c_size_t)  # char *error, size_t error_capacity

_SIGNATURES = {
    "gss_api_version": (c_uint32, ()),
    "gss_library_version": (c_char_p, ()),
    "gss_black_box_open_plugin": (
        c_int32,
        (c_char_p, POINTER(Option), c_size_t, POINTER(c_void_p)) + _ERR,
    ),
    "gss_black_box_from_function": (
        c_int32,
        (c_size_t, c_size_t, BlockFunction, c_void_p, c_uint32, c_size_t, c_char_p, POINTER(c_void_p))
        + _ERR,
    ),
    "gss_black_box_open_program": (
        c_int32,
        (c_char_p, c_size_t, c_size_t, c_double, c_uint32, POINTER(c_void_p)) + _ERR,
    ),
    "gss_black_box_open_symbol": (
        c_int32,
        (c_char_p, c_char_p, c_size_t, c_size_t, c_uint32, POINTER(c_void_p)) + _ERR,
    ),
    "gss_black_box_free": (None, (c_void_p,)),
    "gss_black_box_dims": (None, (c_void_p, POINTER(c_size_t), POINTER(c_size_t))),
    "gss_black_box_output_shape": (c_size_t, (c_void_p, POINTER(c_size_t), c_size_t)),
    "gss_black_box_default_input": (c_int32, (c_void_p, c_void_p)),
    "gss_black_box_name": (c_size_t, (c_void_p, POINTER(c_char), c_size_t)),
    "gss_black_box_evaluate": (
        c_int32,
        (c_void_p, c_void_p, c_size_t, c_void_p, c_uint32, POINTER(Call)) + _ERR,
    ),
    "gss_config_create": (c_int32, (POINTER(c_void_p),)),
    "gss_config_free": (None, (c_void_p,)),
    "gss_config_set_distribution": (c_int32, (c_void_p, c_char_p) + _ERR),
    "gss_config_set_scale": (c_int32, (c_void_p, c_void_p, c_size_t) + _ERR),
    "gss_config_set_scale_matrix": (c_int32, (c_void_p, c_void_p, c_size_t) + _ERR),
    "gss_config_set_samples": (c_int32, (c_void_p, c_uint64) + _ERR),
    "gss_config_set_sampler": (c_int32, (c_void_p, c_char_p) + _ERR),
    "gss_config_set_antithetic": (c_int32, (c_void_p, c_int32) + _ERR),
    "gss_config_set_covariate": (c_int32, (c_void_p, c_char_p) + _ERR),
    "gss_config_set_seed": (c_int32, (c_void_p, c_uint64) + _ERR),
    "gss_config_set_threads": (c_int32, (c_void_p, c_uint32) + _ERR),
    "gss_config_set_scale_derivative": (c_int32, (c_void_p, c_int32) + _ERR),
    "gss_config_set_covariance": (c_int32, (c_void_p, c_int32) + _ERR),
    "gss_config_set_median": (c_int32, (c_void_p, c_uint64) + _ERR),
    "gss_point_seed": (c_uint64, (c_uint64, c_uint64)),
    "gss_estimate": (
        c_int32,
        # outputs: a gss_estimate_outputs (EstimateOutputs by reference, or its address: the
        # binding writes it as 13 words at the head of its output block).
        (c_void_p, c_void_p, c_void_p, c_size_t, c_void_p, POINTER(Call)) + _ERR,
    ),
    "gss_estimate_with_tape": (
        c_int32,
        (c_void_p, c_void_p, c_void_p, c_size_t, c_void_p, c_void_p, POINTER(c_void_p), POINTER(Call))
        + _ERR,
    ),
    "gss_vjp": (c_int32, (c_void_p, c_void_p, c_void_p, c_void_p) + _ERR),
    "gss_vjp_tape_bytes": (c_size_t, (c_void_p,)),
    "gss_vjp_tape_free": (None, (c_void_p,)),
}


def _candidates() -> list[tuple[str, Path]]:
    """Where libgss.so is looked for, in order, with why."""
    here = Path(__file__).resolve().parent
    found: list[tuple[str, Path]] = []
    override = os.environ.get("GSS_LIBRARY")
    if override:
        return [("$GSS_LIBRARY", Path(override))]
    found.append(("the installed package", here / "_lib" / "libgss.so"))
    # A source checkout (python/gss inside the repository) after `swift build -c release`.
    repo = here.parent.parent
    if (repo / "Package.swift").is_file():
        found.append(("the repository's release build", repo / ".build" / "release" / "libGSS.so"))
    return found


def _load() -> tuple[ctypes.CDLL, Path]:
    candidates = _candidates()
    for origin, path in candidates:
        if path.is_file():
            break
    else:
        looked = "; ".join(f"{p} ({origin})" for origin, p in candidates)
        raise ImportError(
            f"gss: cannot find the gss library (looked at {looked}); install the package with "
            "`pip install ./python` from the repository root, or set GSS_LIBRARY to a libgss.so "
            "(libGSS.so) built by `swift build -c release`."
        )
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as error:
        raise ImportError(f"gss: cannot load the gss library {path} ({origin}): {error}") from None
    for name, (restype, argtypes) in _SIGNATURES.items():
        try:
            function = getattr(lib, name)
        except AttributeError:
            raise ImportError(
                f"gss: the library {path} does not export {name}; it is not a gss library of API "
                f"major {API_MAJOR} (rebuild it with `swift build -c release`)."
            ) from None
        function.restype = restype
        function.argtypes = argtypes
    version = lib.gss_api_version()
    major, minor = version >> 16, version & 0xFFFF
    if major != API_MAJOR:
        raise ImportError(
            f"gss: the library {path} has C API version {major}.{minor}, but this Python package "
            f"needs major version {API_MAJOR}; install matching versions (`pip install ./python` "
            "builds both from one checkout)."
        )
    return lib, path


LIB, LIBRARY_PATH = _load()
API_VERSION = LIB.gss_api_version()
LIBRARY_VERSION = LIB.gss_library_version().decode("utf-8", "replace")
