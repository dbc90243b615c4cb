import math

import pytest

from minicalc import Calculator, EvalError, evaluate


@pytest.mark.parametrize(
    "source, expected",
    [
        pytest.param("1 + 2 * 3", 7.0, id="precedence"),
        pytest.param("(1 + 2) * 3", 9.0, id="parentheses"),
        pytest.param("10 - 3 - 2", 5.0, id="subtraction_chain"),
        pytest.param("2 ^ 3 ^ 2", 512.0, id="power_chain"),
        pytest.param("-2 ^ 2", -4.0, id="negated_power"),
        pytest.param("2 ^ -1", 0.5, id="negative_exponent"),
        pytest.param("7 % 3", 1.0, id="modulo"),
        pytest.param("-7 % 3", -1.0, id="modulo_negative"),
        pytest.param("--3", 3.0, id="double_negation"),
        pytest.param("1.5e1 / 3", 5.0, id="scientific"),
    ],
)
def test_evaluate_arithmetic(source, expected):
    assert evaluate(source) == expected


def test_evaluate_division_is_left_associative():
    assert evaluate("8 / 4 / 2") == 1.0


def test_evaluate_variables_from_mapping():
    assert evaluate("x * y + 1", {"x": 3, "y": 4}) == 13.0


def test_evaluate_constants():
    assert evaluate("2 * pi") == pytest.approx(2 * math.pi)


def test_evaluate_functions():
    assert evaluate("hypot(3, 4) + sqrt(16) + max(1, -1)") == 10.0


def test_calculator_remembers_assignments():
    calc = Calculator()
    assert calc.evaluate("x = 2 + 3") == 5.0
    assert calc.evaluate("x * 2") == 10.0


def test_calculator_does_not_change_callers_mapping():
    initial = {"x": 1.0}
    calc = Calculator(initial)
    calc.evaluate("x = 5")
    assert initial == {"x": 1.0}


def test_unknown_variable():
    with pytest.raises(EvalError) as caught:
        evaluate("1 + nope")
    assert caught.value.position == 4


def test_unknown_function():
    with pytest.raises(EvalError, match="unknown function 'foo'"):
        evaluate("foo(1)")


def test_wrong_arity():
    with pytest.raises(EvalError, match="takes 2 arguments, got 1"):
        evaluate("max(1)")


def test_division_by_zero():
    with pytest.raises(EvalError, match="division by zero"):
        evaluate("1 / (2 - 2)")


def test_domain_error_becomes_eval_error():
    with pytest.raises(EvalError):
        evaluate("sqrt(-1)")


def test_cannot_assign_constant():
    with pytest.raises(EvalError):
        evaluate("pi = 3")
