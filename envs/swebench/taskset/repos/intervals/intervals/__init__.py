"""Half-open intervals [lo, hi) and sets of them, with union, intersection and difference."""

from intervals.interval import Interval
from intervals.interval_set import IntervalSet

__all__ = ["Interval", "IntervalSet"]

__version__ = "1.0.0"
