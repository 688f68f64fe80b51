"""Ctrl-C during a long call: the library polls a file descriptor that Python's signal machinery
writes to (``signal.set_wakeup_fd``), returns ``GSS_E_CANCELLED`` within one block of rows, and
the caller sees exactly one ``KeyboardInterrupt``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
from typing import Any, Callable

from . import _capi

__all__ = ["run_cancellable"]

_MAIN_THREAD_ID = threading.main_thread().ident
_pipe: tuple[int, int] | None = None
_pipe_lock = threading.Lock()

# Runs the Python-level signal handlers that are pending, at a point of our choosing (the default
# SIGINT handler raises KeyboardInterrupt from here; ctypes.pythonapi raises what they set).
_check_signals = ctypes.pythonapi.PyErr_CheckSignals
_check_signals.restype = ctypes.c_int
_check_signals.argtypes = ()


def _wakeup_pipe() -> tuple[int, int]:
    """One non-blocking pipe per process, kept open: (read end, write end)."""
    global _pipe
    if _pipe is None:
        with _pipe_lock:
            if _pipe is None:
                r, w = os.pipe()
                os.set_blocking(r, False)
                os.set_blocking(w, False)
                _pipe = (r, w)
    return _pipe


def _drain(fd: int) -> bytes:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except (BlockingIOError, InterruptedError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def run_cancellable(
    invoke: Callable[[_capi.Call, Any], int], call: _capi.Call, error: Any,
    python_callbacks: bool = False,
) -> int:
    """Run ``invoke(call, error)`` (a C call taking a ``gss_call``) so that a signal cancels it.

    On the main thread, ``call.cancel_fd`` is the read end of a pipe installed as the wakeup fd
    for the duration of the call (the previous wakeup fd is restored afterwards, and the signal
    numbers that arrived are forwarded to it, so an asyncio loop still sees them).  When the call
    returns GSS_E_CANCELLED, the pending Python signal handlers run here: the default SIGINT
    handler raises KeyboardInterrupt (once).  A cancellation by another signal whose handler
    returns normally (say SIGUSR1 with a handler) is not the user's request to stop: the call is
    run again, which gives the same bits.  If SIGINT arrived but its handler did not raise, a
    KeyboardInterrupt is raised, so that an interrupted call never looks like a finished one.

    python_callbacks: the call runs Python code (a gss.function black box), possibly on this
    thread, where the default SIGINT handler would raise KeyboardInterrupt inside a ctypes
    callback (which ctypes would only print).  Then SIGINT is only recorded during the call, and
    the KeyboardInterrupt raised here, after it.

    Returns the call's status (never GSS_E_CANCELLED).
    """
    call.cancel_fd = -1
    if threading.get_ident() != _MAIN_THREAD_ID:
        return invoke(call, error)
    r, w = _wakeup_pipe()
    while True:
        try:
            previous = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        except ValueError:  # not the main interpreter's main thread
            return invoke(call, error)
        interrupted: list[int] = []
        swapped = python_callbacks and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        received = b""
        try:
            if swapped:
                signal.signal(signal.SIGINT, lambda number, frame: interrupted.append(number))
            call.cancel_fd = r
            status = invoke(call, error)
        finally:
            # A KeyboardInterrupt raised by the default handler right after the C call returns
            # passes through here: restore the handler and the previous fd, forward what arrived.
            if swapped:
                signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.set_wakeup_fd(previous)
            received = _drain(r)
            if received and previous >= 0:
                try:
                    os.write(previous, received)
                except OSError:
                    pass
        if interrupted:
            raise KeyboardInterrupt
        if status != _capi.E_CANCELLED:
            return status
        # Cancelled: run the handlers now (the default SIGINT handler raises KeyboardInterrupt).
        _check_signals()
        if signal.SIGINT in received:
            raise KeyboardInterrupt("gss: the call was interrupted (SIGINT).")
        if not received:
            # The fd fired, yet nothing was read: not ours to explain; do not loop forever.
            raise KeyboardInterrupt("gss: the call was cancelled.")
        # Cancelled only by other signals whose handlers returned: run the call again.
