import pytest

from intervals import Interval, IntervalSet


def test_construction_merges_overlapping_and_sorts():
    s = IntervalSet([(5, 8), (1, 3), (2, 4)])
    assert s.intervals == (Interval(1, 4), Interval(5, 8))


def test_construction_merges_adjacent():
    assert IntervalSet([(1, 3), (3, 5)]).intervals == (Interval(1, 5),)


def test_construction_absorbs_contained_interval():
    assert IntervalSet([(0, 10), (2, 3), (4, 6)]).intervals == (Interval(0, 10),)


def test_construction_drops_empty():
    assert not IntervalSet([(2, 2)])
    assert len(IntervalSet([(2, 2), (3, 4)])) == 1


def test_equality_is_by_points():
    assert IntervalSet([(1, 2), (2, 3)]) == IntervalSet([(1, 3)])
    assert hash(IntervalSet([(1, 2), (2, 3)])) == hash(IntervalSet([(1, 3)]))


def test_measure():
    assert IntervalSet([(0, 2), (5, 6)]).measure == 3


@pytest.mark.parametrize(
    "point, expected",
    [(-1, False), (0, True), (1.5, True), (2, False), (3, False), (5, True), (7, False)],
)
def test_contains(point, expected):
    s = IntervalSet([(0, 2), (5, 7)])
    assert (point in s) is expected


def test_contains_on_empty_set():
    assert 0 not in IntervalSet()


def test_union():
    a = IntervalSet([(0, 2), (6, 8)])
    b = IntervalSet([(1, 3), (8, 9)])
    assert a | b == IntervalSet([(0, 3), (6, 9)])


def test_intersection():
    a = IntervalSet([(0, 5), (10, 15)])
    b = IntervalSet([(3, 12), (14, 20)])
    assert a & b == IntervalSet([(3, 5), (10, 12), (14, 15)])


def test_intersection_of_one_long_with_many_short():
    a = IntervalSet([(0, 100)])
    b = IntervalSet([(1, 2), (3, 4), (5, 6)])
    assert a & b == b
    assert b & a == b


def test_difference():
    a = IntervalSet([(0, 10), (20, 30)])
    b = IntervalSet([(2, 4), (6, 8), (25, 40)])
    assert a - b == IntervalSet([(0, 2), (4, 6), (8, 10), (20, 25)])


def test_difference_with_disjoint_set_is_unchanged():
    a = IntervalSet([(0, 1)])
    assert a - IntervalSet([(5, 6)]) == a


def test_complement():
    s = IntervalSet([(2, 3), (5, 6)])
    assert s.complement(Interval(0, 10)) == IntervalSet([(0, 2), (3, 5), (6, 10)])


def test_gaps():
    assert IntervalSet([(0, 1), (3, 4), (6, 9)]).gaps() == IntervalSet([(1, 3), (4, 6)])


def test_repr():
    assert repr(IntervalSet([(1, 2)])) == "IntervalSet([(1, 2)])"
