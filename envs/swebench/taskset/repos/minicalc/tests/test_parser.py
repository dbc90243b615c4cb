import pytest

from minicalc import ParseError, parse
from minicalc.nodes import Assign, Binary, Call, Name, Number, Unary


def test_parse_number():
    assert parse("12") == Number(12.0, 0)


def test_parse_multiplication_binds_tighter_than_addition():
    assert parse("1+2*3") == Binary(
        "+", Number(1.0, 0), Binary("*", Number(2.0, 2), Number(3.0, 4), 3), 1
    )


def test_parse_subtraction_is_left_associative():
    tree = parse("a-b-c")
    assert tree == Binary("-", Binary("-", Name("a", 0), Name("b", 2), 1), Name("c", 4), 3)


def test_parse_power_binds_tighter_than_unary_minus():
    assert parse("-x^2") == Unary("-", Binary("^", Name("x", 1), Number(2.0, 3), 2), 0)


def test_parse_call_with_arguments():
    assert parse("max(1, y)") == Call("max", (Number(1.0, 4), Name("y", 7)), 0)


def test_parse_call_without_arguments():
    assert parse("f()") == Call("f", (), 0)


def test_parse_assignment_is_right_associative():
    assert parse("a = b = 1") == Assign("a", Assign("b", Number(1.0, 8), 4), 0)


@pytest.mark.parametrize(
    "source, position",
    [
        pytest.param("1 +", 3, id="missing_operand"),
        pytest.param("(1", 2, id="unclosed_paren"),
        pytest.param("1 2", 2, id="trailing_value"),
        pytest.param("max(1,", 6, id="unfinished_call"),
        pytest.param(")", 0, id="stray_close"),
    ],
)
def test_parse_errors_report_position(source, position):
    with pytest.raises(ParseError) as caught:
        parse(source)
    assert caught.value.position == position
