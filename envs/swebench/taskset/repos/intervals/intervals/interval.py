"""A single half-open interval."""

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Interval:
    """The half-open interval [lo, hi): it contains lo but not hi.

    lo == hi is the empty interval. Intervals order by (lo, hi), which is the order
    IntervalSet keeps them in.
    """

    lo: float
    hi: float

    def __post_init__(self):
        if self.lo > self.hi:
            raise ValueError(f"interval lower bound {self.lo} exceeds upper bound {self.hi}")

    @property
    def length(self) -> float:
        return self.hi - self.lo

    @property
    def is_empty(self) -> bool:
        return self.lo == self.hi

    def contains(self, point: float) -> bool:
        return self.lo <= point < self.hi

    def overlaps(self, other: "Interval") -> bool:
        """True when the two intervals share at least one point.

        [1, 3) and [3, 5) do not overlap: 3 belongs only to the second.
        """
        return self.lo < other.hi and other.lo < self.hi

    def touches(self, other: "Interval") -> bool:
        """True when the intervals overlap or are adjacent, so their union is one interval."""
        return self.lo <= other.hi and other.lo <= self.hi

    def intersection(self, other: "Interval") -> "Interval | None":
        """The common part, or None when the intervals do not overlap."""
        if not self.overlaps(other):
            return None
        return Interval(max(self.lo, other.lo), min(self.hi, other.hi))

    def hull(self, other: "Interval") -> "Interval":
        """The smallest interval covering both."""
        return Interval(min(self.lo, other.lo), max(self.hi, other.hi))

    def difference(self, other: "Interval") -> list["Interval"]:
        """The parts of self not in other: zero, one or two non-empty intervals, in order."""
        if not self.overlaps(other):
            return [] if self.is_empty else [self]
        pieces = []
        if self.lo < other.lo:
            pieces.append(Interval(self.lo, other.lo))
        if other.hi < self.hi:
            pieces.append(Interval(other.hi, self.hi))
        return pieces

    def __str__(self) -> str:
        return f"[{self.lo}, {self.hi})"
