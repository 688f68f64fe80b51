"""The exceptions gss raises, and the mapping from the C library's status codes to them."""

from __future__ import annotations

from typing import Optional

import numpy as np

from . import _capi

__all__ = ["GSSError", "BlackBoxError", "raise_for_status"]


class GSSError(RuntimeError):
    """A failure inside gss that is neither a bad argument nor the black box's
    (``GSS_E_INTERNAL``, ``GSS_E_UNSUPPORTED``).

    Attributes
    ----------
    status : int
        The C library's status code.
    """

    def __init__(self, message: str, status: int = _capi.E_INTERNAL) -> None:
        super().__init__(message)
        self.status = status


class BlackBoxError(GSSError):
    """The black box failed or returned a non-finite output (``GSS_E_EVALUATION``).

    The message is the library's sentence, naming the point, the sample and the input row.
    When the black box is a Python function that raised, the original exception is this one's
    ``__cause__``.

    Attributes
    ----------
    point : int or None
        The point of the batch (0 .. B-1) whose evaluation failed, or None when unknown.
    sample : int or None
        The sample (0 .. s-1) that failed; -1 for the unperturbed x of the ``fx`` covariate or a
        row of ``box(x)``; None when unknown.
    input : numpy.ndarray or None
        The input row (n numbers) the black box failed on, or None when unknown.
    """

    def __init__(
        self,
        message: str,
        point: Optional[int] = None,
        sample: Optional[int] = None,
        input: Optional[np.ndarray] = None,
    ) -> None:
        super().__init__(message, _capi.E_EVALUATION)
        self.point = point
        self.sample = sample
        self.input = input


def raise_for_status(
    status: int,
    error: bytes,
    call: Optional[_capi.Call] = None,
    failed_input: Optional[np.ndarray] = None,
    cause: Optional[BaseException] = None,
) -> None:
    """Raise the Python exception for a failed call (status != GSS_OK)."""
    message = error.decode("utf-8", "replace") or (
        f"gss failed with {_capi.STATUS_NAMES.get(status, f'status {status}')}."
    )
    if status == _capi.E_INVALID_ARGUMENT:
        raise ValueError(message)
    if status == _capi.E_OUT_OF_MEMORY:
        raise MemoryError(message)
    if status == _capi.E_CANCELLED:
        raise KeyboardInterrupt(message)
    if status == _capi.E_EVALUATION:
        point = sample = row = None
        if call is not None:
            if call.failed_point >= 0:
                point = int(call.failed_point)
                sample = int(call.failed_sample)
            if call.failed_input_written and failed_input is not None:
                row = failed_input.copy()
        if cause is not None and not isinstance(cause, Exception):
            # KeyboardInterrupt, SystemExit and the like raised inside a Python black box are not
            # the black box's failure: they go to the caller as they are.
            raise cause
        raise BlackBoxError(message, point, sample, row) from cause
    if status == _capi.E_UNSUPPORTED:
        raise GSSError(message, status)
    raise GSSError(message, status)


GSSError.__module__ = "gss"
BlackBoxError.__module__ = "gss"
