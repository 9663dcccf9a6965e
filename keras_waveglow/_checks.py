"""Argument checks shared by the library's entry points (no Keras, no backend)."""

from __future__ import annotations

import operator


def count(name: str, value, minimum: int | None = None) -> int:
    """An integer argument (ints, NumPy and JAX integer scalars) >= `minimum` (None: any),
    refused by name otherwise: a float batch size was truncated, a float segment length
    failed in tf.data, a bool is not a count.

    Raises:
        TypeError: not an integer (a float, a str, a bool).
        ValueError: below `minimum`.
    """
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an int; got {value!r}.")
    try:
        value = operator.index(value)
    except TypeError as error:
        raise TypeError(f"{name} must be an int; got {value!r}.") from error
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {value}.")
    return value
