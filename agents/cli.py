"""argparse types the scripts share: whole numbers (``1e6`` accepted) with a lower bound, positive numbers."""

from __future__ import annotations

import argparse

from agents.config import whole_number


def positive_int(text: str) -> int:
    return _at_least(text, 1)


def nonneg_int(text: str) -> int:
    return _at_least(text, 0)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text}") from None
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _at_least(text: str, low: int) -> int:
    try:
        value = whole_number(text, "the value")
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be >= {low}, got {text}")
    return value
