"""Argument checks shared by the library's entry points (no Keras, no backend).

One wording everywhere: ``{name} must be an int; got 2.5.``, ``... must be a number; got
'0.6'.``, ``... must be a finite number > 0; got nan.``, ``... must be True or False; got
'no'.`` Each check returns the value as the plain Python type it promises.
"""

from __future__ import annotations

import decimal
import math
import numbers
import operator

import numpy as np


def count(name: str, value, minimum: int | None = None) -> int:
    """An integer argument (ints, NumPy and JAX integer scalars) >= `minimum` (None: any),
    refused by name otherwise: a float batch size was truncated, a float segment length
    failed in tf.data, 2.7 flows were built as 2, and a bool is not a count. A whole float
    (2.0) is refused too, as Python's `range(2.0)` refuses it.

    Raises:
        TypeError: not an integer (a float, a str, a bool, None).
        ValueError: below `minimum`.
    """
    if isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be an int; got {value!r}.")
    try:
        value = operator.index(value)
    except (TypeError, AttributeError) as error:  # TensorFlow's float tensors: AttributeError
        raise TypeError(f"{name} must be an int; got {value!r}.") from error
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    return value


def flag(name: str, value) -> bool:
    """`value` as a bool: True, False (NumPy's too) or the integers 1 and 0; anything else is
    refused by name (`bool("no")` is True).

    Raises:
        TypeError: neither a bool nor 0 or 1.
    """
    if isinstance(value, bool | np.bool_) or (np.ndim(value) == 0 and _kind(value) == "b"):
        return bool(np.asarray(value))  # a 0-d NumPy, TensorFlow or JAX bool too
    try:
        index = operator.index(value)
    except (TypeError, AttributeError):  # a TensorFlow float or bool tensor: AttributeError
        index = None
    if index not in (0, 1):
        raise TypeError(f"{name} must be True or False; got {value!r}.")
    return bool(index)


def number(name: str, value) -> float:
    """A real-number setting as a float: Python and NumPy numbers and 0-d arrays or tensors;
    a str, bool, None, complex number (NumPy's too), 0-d array of those or array of several
    values is refused by name.

    Raises:
        TypeError: not a real number.
    """
    if isinstance(value, bool | np.bool_ | str | bytes | complex) or value is None:
        raise TypeError(f"{name} must be a number; got {value!r}.")
    if isinstance(value, numbers.Real | decimal.Decimal):  # ints past 2**64, Fraction too
        try:
            return float(value)
        except OverflowError:  # 10**400: a number, and not a finite one
            return math.inf if value > 0 else -math.inf
    try:
        if np.ndim(value) != 0:
            raise TypeError(f"{name} must be a number; got an array of shape {np.shape(value)}.")
        # A 0-d str, bool or complex array, np.complex64, ... (not "V": bfloat16 is a number;
        # TensorFlow's bfloat16 tensors have no NumPy form and are left to float()).
        if _kind(value) in _NOT_NUMBERS:
            raise TypeError(f"{name} must be a number; got {value!r}.")
        return float(value)
    except (TypeError, ValueError) as error:
        if str(error).startswith(f"{name} must be"):
            raise
        raise TypeError(f"{name} must be a number; got {value!r}.") from error


# NumPy dtype kinds that are no real number: bool, complex, times, object, bytes, str.
_NOT_NUMBERS = frozenset("bcmMOSU")


def _kind(value) -> str:
    """NumPy's dtype kind of `value` ("f", "i", "c", ...), or "" where it has no NumPy form."""
    try:
        return np.asarray(value).dtype.kind
    except (TypeError, ValueError, RuntimeError):  # TF bfloat16, torch CUDA or grad tensors
        return ""


def finite(name: str, value, positive: bool = False, note: str = "") -> float:
    """`value` as a float that is finite and >= 0, or > 0 where `positive`; refused by name
    (NaN would pass a plain `value >= 0` test the wrong way, and drop a loss term unseen).

    Args:
        name: the argument's name, as the error shows it.
        value: the value.
        positive: refuse 0 too.
        note: text put after the bound in the message, e.g. " (0: off)".

    Raises:
        TypeError: not a number.
        ValueError: NaN, infinite, negative, or 0 where `positive`.
    """
    result = number(name, value)
    if not math.isfinite(result) or result < 0 or (positive and result == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {bound}{note}; got {result}.")
    return result
