"""A set of points on the line, stored as sorted, disjoint, non-adjacent intervals."""

from bisect import bisect_right
from collections.abc import Iterable, Iterator

from intervals.interval import Interval


def _normalize(intervals: Iterable[Interval]) -> list[Interval]:
    """Sort, drop empty intervals and merge those that overlap or touch."""
    merged: list[Interval] = []
    for interval in sorted(i for i in intervals if not i.is_empty):
        if merged and merged[-1].touches(interval):
            merged[-1] = merged[-1].hull(interval)
        else:
            merged.append(interval)
    return merged


class IntervalSet:
    """An immutable set of points given as a union of half-open intervals.

    The stored intervals are always in canonical form: sorted, non-empty, and with a gap
    between neighbours, so two sets are equal exactly when they contain the same points.
    """

    __slots__ = ("_intervals", "_starts")

    def __init__(self, intervals: Iterable[Interval | tuple[float, float]] = ()):
        self._intervals = tuple(
            _normalize(i if isinstance(i, Interval) else Interval(*i) for i in intervals)
        )
        self._starts = [interval.lo for interval in self._intervals]

    @property
    def intervals(self) -> tuple[Interval, ...]:
        return self._intervals

    def __iter__(self) -> Iterator[Interval]:
        return iter(self._intervals)

    def __len__(self) -> int:
        """The number of disjoint intervals, not the number of points."""
        return len(self._intervals)

    def __bool__(self) -> bool:
        return bool(self._intervals)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IntervalSet):
            return NotImplemented
        return self._intervals == other._intervals

    def __hash__(self) -> int:
        return hash(self._intervals)

    def __repr__(self) -> str:
        return f"IntervalSet([{', '.join(f'({i.lo}, {i.hi})' for i in self._intervals)}])"

    @property
    def measure(self) -> float:
        """The total length covered."""
        return sum(interval.length for interval in self._intervals)

    def contains(self, point: float) -> bool:
        # The only candidate is the last interval starting at or before point.
        index = bisect_right(self._starts, point) - 1
        return index >= 0 and self._intervals[index].contains(point)

    __contains__ = contains

    def union(self, other: "IntervalSet") -> "IntervalSet":
        return IntervalSet(self._intervals + other._intervals)

    def intersection(self, other: "IntervalSet") -> "IntervalSet":
        # Both lists are sorted: walk them together, advancing whichever interval ends first.
        result = []
        i = j = 0
        while i < len(self._intervals) and j < len(other._intervals):
            a, b = self._intervals[i], other._intervals[j]
            common = a.intersection(b)
            if common is not None:
                result.append(common)
            if a.hi <= b.hi:
                i += 1
            else:
                j += 1
        return IntervalSet(result)

    def difference(self, other: "IntervalSet") -> "IntervalSet":
        result = []
        for interval in self._intervals:
            remaining = [interval]
            for cut in other._intervals:
                if cut.lo >= interval.hi:
                    break
                remaining = [piece for part in remaining for piece in part.difference(cut)]
            result.extend(remaining)
        return IntervalSet(result)

    def complement(self, within: Interval) -> "IntervalSet":
        """The points of within that are not in this set."""
        return IntervalSet([within]).difference(self)

    def gaps(self) -> "IntervalSet":
        """The holes between the first and last interval."""
        return IntervalSet(
            Interval(left.hi, right.lo) for left, right in zip(self._intervals, self._intervals[1:])
        )

    __or__ = union
    __and__ = intersection
    __sub__ = difference
