import pytest

from intervals import Interval


def test_interval_rejects_reversed_bounds():
    with pytest.raises(ValueError):
        Interval(3, 1)


def test_length_and_empty():
    assert Interval(2, 5).length == 3
    assert Interval(4, 4).is_empty
    assert not Interval(4, 5).is_empty


def test_contains_is_half_open():
    interval = Interval(1, 3)
    assert interval.contains(1)
    assert interval.contains(2.5)
    assert not interval.contains(3)
    assert not interval.contains(0.5)


def test_overlaps():
    assert Interval(1, 4).overlaps(Interval(3, 6))
    assert Interval(3, 6).overlaps(Interval(1, 4))
    assert Interval(1, 10).overlaps(Interval(4, 5))


def test_adjacent_intervals_do_not_overlap_but_touch():
    left, right = Interval(1, 3), Interval(3, 5)
    assert not left.overlaps(right)
    assert not right.overlaps(left)
    assert left.touches(right)


def test_intersection():
    assert Interval(1, 5).intersection(Interval(3, 8)) == Interval(3, 5)
    assert Interval(1, 3).intersection(Interval(3, 5)) is None


def test_hull():
    assert Interval(1, 2).hull(Interval(5, 6)) == Interval(1, 6)


@pytest.mark.parametrize(
    "other, expected",
    [
        (Interval(10, 20), [Interval(0, 10)]),
        (Interval(-5, 3), [Interval(3, 10)]),
        (Interval(7, 15), [Interval(0, 7)]),
        (Interval(2, 4), [Interval(0, 2), Interval(4, 10)]),
        (Interval(-1, 11), []),
    ],
)
def test_difference(other, expected):
    assert Interval(0, 10).difference(other) == expected


def test_str():
    assert str(Interval(1, 2.5)) == "[1, 2.5)"
