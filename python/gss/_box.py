"""Black boxes: plugins, Python functions, programs and C symbols, as ``BlackBox`` objects."""

import ctypes
import math
import os
import threading
import weakref
from ctypes import byref, c_size_t, c_void_p
from typing import Any, Callable, Optional, Union

import numpy as np

from . import _capi
from ._cancel import run_cancellable
from ._errors import raise_for_status

__all__ = ["BlackBox", "plugin", "function", "program", "symbol"]

LIB = _capi.LIB
_CALL_SIZE = ctypes.sizeof(_capi.Call)
_thread_local = threading.local()  # .error: this thread's free error buffer
_NAN = float("nan")


def _error_buffer() -> ctypes.Array:
    return ctypes.create_string_buffer(_capi.ERROR_CAPACITY)


def _option_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_option_text(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _count(value: Any, what: str, minimum: int) -> int:
    """An integer >= minimum, or a ValueError naming `what`."""
    try:
        number = int(value.__index__()) if not isinstance(value, int) else int(value)
    except (AttributeError, TypeError):
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}.") from None
    if isinstance(value, bool) or number < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}.")
    return number


def threads_argument(threads: Optional[int]) -> int:
    """None (all cores) or a thread count >= 1, as the C library's uint32 (0 = all cores)."""
    if threads is None:
        return 0
    count = _count(threads, "threads", 0)
    if count >= 2**32:
        raise ValueError(f"threads must be at most 2^32 - 1, got {threads!r}.")
    return count


def as_points(x: Any, n: int, what: str = "x") -> np.ndarray:
    """x as a float64 C-contiguous array of shape (..., n), without a copy when it already is one.

    Raises ValueError for a dtype that is not real numbers, for a last axis that is not n, and
    for non-finite entries is left to the library (it names the point).
    """
    if isinstance(x, np.ndarray) and x.dtype == np.float64 and x.flags.c_contiguous:
        array = x
    else:
        try:
            array = np.asarray(x)
        except Exception as error:  # ragged nested lists and the like
            raise ValueError(f"{what} must be an array of real numbers of shape (n,) or (B, n) with n = {n}; "
                             f"it could not be converted ({error}).") from None
        if array.dtype.kind not in "fiu" or array.dtype == np.bool_:
            raise ValueError(
                f"{what} must hold real numbers (a float or integer dtype), got dtype {array.dtype}."
            )
        if array.ndim == 0 or array.shape[-1] != n:
            raise ValueError(
                f"{what} must have shape (n,) or (B, n) with n = {n} inputs, got shape {array.shape}."
            )
        array = np.ascontiguousarray(array, dtype=np.float64)
    if array.ndim == 0 or array.shape[-1] != n:
        raise ValueError(
            f"{what} must have shape (n,) or (B, n) with n = {n} inputs, got shape {array.shape}."
        )
    return array


class _BadOutput(ValueError):
    """A Python function returned something that is not (rows, m) real numbers."""


class _FunctionState:
    """What a Python function black box's callback shares with the calls on it."""

    __slots__ = ("fn", "n", "m", "exception", "lock", "__weakref__")

    def __init__(self, fn: Callable[[np.ndarray], Any], n: int, m: int) -> None:
        self.fn = fn
        self.n = n
        self.m = m
        self.exception: Optional[BaseException] = None
        self.lock = threading.Lock()


def _make_block_callback(state: _FunctionState) -> Any:
    """The gss_block_function for a Python callable: one GIL acquisition per block of rows."""
    n, m = state.n, state.m
    double_array = ctypes.c_double

    def evaluate(x: np.ndarray, y: np.ndarray) -> None:
        rows = len(x)
        result = state.fn(x)
        try:
            out = np.asarray(result, dtype=np.float64)
        except Exception as conversion:
            raise _BadOutput(
                f"the function must return real numbers of shape ({rows}, {m}); "
                f"it returned {type(result).__name__} ({conversion})"
            ) from None
        if out.shape != (rows, m) and not (m == 1 and out.shape == (rows,)):
            raise _BadOutput(
                f"the function returned shape {out.shape} for {rows} input rows; expected ({rows}, {m})"
            )
        y[:] = out.reshape(rows, m)

    def first_failing_row(x: np.ndarray, y: np.ndarray, block_failure: Exception) -> Exception:
        """After fn failed on a block: bisect for the first row that fails alone (at most
        2 log2(rows) + 1 more calls, about twice the block's rows), so that gss names that
        row.  y then holds the rows before it and NaN from it on.  When no single row fails
        alone (a failure of the block as a whole), y is all NaN and the block's exception
        stands."""
        low, high = 0, len(x)
        while high - low > 1:
            middle = (low + high) // 2
            try:
                evaluate(x[low:middle], y[low:middle])
                low = middle  # rows before middle are fine: the failure is after them
            except Exception:
                high = middle
        try:
            evaluate(x[low:low + 1], y[low:low + 1])
        except Exception as row_failure:
            y[low:] = _NAN
            return row_failure
        y[:] = _NAN
        return block_failure

    def callback(context, x_address, rows, y_address, error, error_capacity):  # noqa: ARG001
        y = None
        try:
            y = np.frombuffer(
                (double_array * (rows * m)).from_address(y_address), dtype=np.float64
            ).reshape(rows, m)
            # A copy: the rows are gss's, valid only during this call, and fn may keep its argument.
            x = np.frombuffer(
                (double_array * (rows * n)).from_address(x_address), dtype=np.float64
            ).reshape(rows, n).copy()
            try:
                evaluate(x, y)
                return _capi.OK
            except _BadOutput:
                raise
            except Exception as block_failure:
                y[:] = _NAN
                raise (first_failing_row(x, y, block_failure) if rows > 1 else block_failure) from None
        except BaseException as exc:  # everything goes back to the caller's thread
            if state.exception is None:
                state.exception = exc
            if y is not None and not np.isnan(y).any():
                y[:] = _NAN
            text = f"{type(exc).__name__ if not isinstance(exc, _BadOutput) else 'ValueError'}: {exc}"
            encoded = text.encode("utf-8", "replace")
            if error and error_capacity > 0:
                encoded = encoded[: error_capacity - 1]
                ctypes.memmove(error, encoded + b"\0", len(encoded) + 1)
            return _capi.E_EVALUATION

    return _capi.BlockFunction(callback)


def _free_handle(handle: int, keepalive: Any = None) -> None:  # noqa: ARG001
    # keepalive (a Python function's ctypes callback) is an argument so that it lives until here.
    if handle:
        LIB.gss_black_box_free(handle)


class BlackBox:
    """A black box f: R^n -> R^m that gss can evaluate and smooth.

    Made by :func:`gss.plugin`, :func:`gss.function`, :func:`gss.program` or :func:`gss.symbol`.
    Call it to evaluate f itself; pass it to :func:`gss.smooth` (or the PyTorch and JAX layers)
    to estimate the smoothed value and Jacobian.  Close it with :meth:`close` or a ``with``
    block (plugin instances are destroyed, programs ended); it is also closed when collected.

    Attributes
    ----------
    n : int
        Inputs per row.
    m : int
        Outputs per row.
    output_shape : tuple of int
        The shape of one output row, e.g. ``(64, 64)`` for an image or ``(5, 5)`` for the
        sorter's permutation matrix; ``(m,)`` when the black box declares none.
    name : str
        How gss names it in messages, e.g. ``"plugin 'sorter'"``.
    default_input : numpy.ndarray or None
        The black box's own meaningful input (a plugin's default), or None.
    """

    def __init__(self, handle: int, keepalive: Any = None, state: Optional[_FunctionState] = None):
        self._handle = handle
        self._state = state
        n, m = c_size_t(), c_size_t()
        LIB.gss_black_box_dims(handle, byref(n), byref(m))
        self.n: int = n.value
        self.m: int = m.value
        shape = (c_size_t * 4)()
        rank = LIB.gss_black_box_output_shape(handle, shape, 4)
        self.output_shape: tuple[int, ...] = tuple(shape[i] for i in range(min(rank, 4)))
        size = LIB.gss_black_box_name(handle, None, 0)
        buffer = ctypes.create_string_buffer(size + 1)
        LIB.gss_black_box_name(handle, buffer, size + 1)
        self.name: str = buffer.value.decode("utf-8", "replace")
        default = np.empty(self.n)
        has_default = LIB.gss_black_box_default_input(handle, default.ctypes.data)
        self.default_input: Optional[np.ndarray] = default if has_default else None
        if self.default_input is not None:
            self.default_input.flags.writeable = False
        self._finalizer = weakref.finalize(self, _free_handle, handle, keepalive)

    # -- lifetime ---------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return not self._finalizer.alive

    def close(self) -> None:
        """End the black box: plugin instances destroyed, programs ended.  Idempotent.

        Never call it while another thread is using the box.
        """
        self._finalizer()
        self._handle = 0

    def __enter__(self) -> "BlackBox":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def handle(self) -> int:
        """The ``gss_black_box *`` (an address), or a ValueError when closed."""
        if not self._handle:
            raise ValueError(f"the black box {self.name} is closed.")
        return self._handle

    def __repr__(self) -> str:
        state = ", closed" if self.closed else ""
        shape = "" if self.output_shape == (self.m,) else f", output_shape={self.output_shape}"
        return f"<gss.BlackBox {self.name}: n={self.n}, m={self.m}{shape}{state}>"

    # -- calls ------------------------------------------------------------------------------

    def _invoke(self, invoke: Callable[[_capi.Call, ctypes.Array], int], failed_input: np.ndarray,
                failed_address: int) -> None:
        """Run one C call on this box with cancellation; raise its failure as an exception.

        invoke(call, error) makes the C call; failed_input: n doubles at failed_address, where
        gss writes the failed row."""
        call = _capi.Call(_CALL_SIZE, None, -1, -1, -1, failed_address, 0)
        local = _thread_local
        error = getattr(local, "error", None)
        if error is None:  # none yet on this thread, or in use by a call further up (nested)
            error = _error_buffer()
        else:
            local.error = None
            error[0] = b"\0"  # no stale message from an earlier call
        try:
            state = self._state
            if state is None:
                status = run_cancellable(invoke, call, error)
                if status != _capi.OK:
                    raise_for_status(status, error.value, call, failed_input)
                return
            with state.lock:  # the exception slot is per box: one call at a time, as gss does
                state.exception = None
                try:
                    status = run_cancellable(invoke, call, error, python_callbacks=True)
                finally:
                    cause, state.exception = state.exception, None
            if status != _capi.OK:
                raise_for_status(status, error.value, call, failed_input, cause)
            elif cause is not None and not isinstance(cause, Exception):
                raise cause
        finally:
            local.error = error

    def __call__(self, x: Any, *, threads: Optional[int] = None, shaped: bool = False) -> np.ndarray:
        """Evaluate f itself (no smoothing).

        Parameters
        ----------
        x : array_like, shape (n,) or (..., n)
            The input row(s), finite real numbers.
        threads : int, optional
            Worker threads (default: all cores).
        shaped : bool
            Return each output row in :attr:`output_shape` instead of flat.

        Returns
        -------
        numpy.ndarray, shape (m,) or (..., m) (or ``(..., *output_shape)`` with ``shaped``)
        """
        handle = self.handle()
        points = as_points(x, self.n)
        lead = points.shape[:-1]
        rows = math.prod(lead)
        y = np.empty(lead + (self.m,))
        if rows:
            threads_value = threads_argument(threads)
            x_address = points.ctypes.data
            y_address = y.ctypes.data
            failed = np.empty(self.n)
            failed_address = failed.ctypes.data

            def invoke(call: _capi.Call, error: ctypes.Array) -> int:
                return LIB.gss_black_box_evaluate(
                    handle, x_address, rows, y_address, threads_value, byref(call), error,
                    _capi.ERROR_CAPACITY,
                )

            self._invoke(invoke, failed, failed_address)
        if shaped:
            return y.reshape(lead + self.output_shape)
        return y


def _open(opener: Callable[..., int], *args: Any) -> int:
    handle = c_void_p()
    error = _error_buffer()
    status = opener(*args, byref(handle), error, _capi.ERROR_CAPACITY)
    if status != _capi.OK:
        raise_for_status(status, error.value)
    return handle.value


def plugin(plugin: Union[str, os.PathLike], **options: Any) -> BlackBox:
    """A plugin black box: a bundled one by id, or any plugin object by path.

    Parameters
    ----------
    plugin : str or path
        A bundled plugin's id (``"sorter"``, ``"shortest-path"``, ``"renderer"``, ``"tem"``),
        found as the ``gss`` command finds them (``$GSS_PLUGIN_PATH``, then beside libgss.so), or
        the path of a plugin shared object (containing ``/`` or ending in ``.so``).
    **options
        The plugin's options, each handed to its ``create()`` as ``-o key=value``
        (``gss.plugin("sorter", n=8, mode="ranks")``).  Booleans become ``true``/``false`` and
        lists ``a,b,c``.

    Raises
    ------
    ValueError
        An unknown plugin, an unknown option or a bad option value (the plugin's sentence).
    """
    text = os.fspath(plugin)
    pairs = [(str(k).encode(), _option_text(v).encode()) for k, v in options.items()]
    array = (_capi.Option * max(1, len(pairs)))(*[_capi.Option(k, v) for k, v in pairs])
    handle = _open(LIB.gss_black_box_open_plugin, text.encode(), array, len(pairs))
    return BlackBox(handle)


def function(
    fn: Callable[[np.ndarray], Any],
    n: int,
    m: int,
    *,
    reentrant: bool = False,
    preferred_rows: int = 1024,
    name: Optional[str] = None,
) -> BlackBox:
    """A Python callable as a black box.

    Parameters
    ----------
    fn : callable
        Takes a float64 array of shape ``(rows, n)`` (a whole block of perturbed inputs, a copy
        fn may keep) and returns ``rows`` outputs as an array-like of shape ``(rows, m)`` (or
        ``(rows,)`` when m = 1).  It is called with blocks of rows, so the interpreter's lock is
        taken once per block, never per row: write it vectorised.  An exception in fn fails the
        call with :class:`gss.BlackBoxError`, whose ``__cause__`` is the exception.
    n, m : int
        Inputs and outputs per row (>= 1).
    reentrant : bool
        fn may run on several threads at once (it mostly runs NumPy code that releases the
        GIL).  Default False: gss calls it from one thread at a time.
    preferred_rows : int
        Asks gss for blocks of at least this many rows where an estimate has them (results
        never depend on the block sizes).
    name : str, optional
        How messages name it (default: fn's ``__qualname__``).
    """
    n = _count(n, "n", 1)
    m = _count(m, "m", 1)
    preferred_rows = _count(preferred_rows, "preferred_rows", 0)
    if not callable(fn):
        raise ValueError(f"fn must be callable, got {type(fn).__name__}.")
    state = _FunctionState(fn, n, m)
    callback = _make_block_callback(state)
    label = name if name is not None else f"Python function {getattr(fn, '__qualname__', repr(fn))}"
    flags = _capi.FUNCTION_REENTRANT if reentrant else 0
    handle = _open(
        LIB.gss_black_box_from_function, n, m, callback, None, flags, preferred_rows,
        label.encode("utf-8", "replace"),
    )
    return BlackBox(handle, keepalive=callback, state=state)


def program(
    command: str,
    n: int,
    m: int,
    *,
    timeout: Optional[float] = None,
    each_row: bool = False,
) -> BlackBox:
    """An external program as a black box, as ``gss --exec`` / ``--exec-each``.

    Parameters
    ----------
    command : str
        Run through ``/bin/sh -c``.  By default it is started once per worker and kept running:
        it reads lines of n numbers on stdin and answers each with a line of m numbers on stdout.
        With ``each_row=True`` it runs once per row, ``{x0}``, ``{x1}``, ... or ``{x}`` replaced by
        the row's numbers, and prints the row's m numbers.
    n, m : int
        Inputs and outputs per row (>= 1).
    timeout : float, optional
        Seconds a row may take before the call fails (default: no limit).
    each_row : bool
        One run per row (``--exec-each``).
    """
    n = _count(n, "n", 1)
    m = _count(m, "m", 1)
    seconds = 0.0
    if timeout is not None:
        seconds = float(timeout)
        if not (seconds > 0 and math.isfinite(seconds)):
            raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}.")
    flags = _capi.PROGRAM_EACH_ROW if each_row else 0
    handle = _open(LIB.gss_black_box_open_program, str(command).encode(), n, m, seconds, flags)
    return BlackBox(handle)


def symbol(
    symbol: str,
    signature: str,
    n: int = 0,
    m: int = 0,
    *,
    serialize: bool = False,
) -> BlackBox:
    """A C function called through libffi, as ``gss --symbol LIB:FUNC --signature SIG``.

    Parameters
    ----------
    symbol : str
        ``"LIBRARY:FUNCTION"``, the library a path or soname: ``"libm.so.6:floor"``.
    signature : str
        ``"double(double)"`` and the like (``RET(ARG,...)`` over double, float, int32, int64;
        n from the arguments, m = 1), or ``"void(const double*,double*)"`` with n and m given.
        gss cannot check it against the function: a wrong signature is undefined behaviour.
    n, m : int
        Only for the array signature.
    serialize : bool
        The function is not reentrant: call it from one thread at a time.
    """
    n = _count(n, "n", 0)
    m = _count(m, "m", 0)
    flags = _capi.SYMBOL_SERIALIZE if serialize else 0
    handle = _open(
        LIB.gss_black_box_open_symbol, str(symbol).encode(), str(signature).encode(), n, m, flags
    )
    return BlackBox(handle)


for _public in (BlackBox, plugin, function, program, symbol):
    _public.__module__ = "gss"
