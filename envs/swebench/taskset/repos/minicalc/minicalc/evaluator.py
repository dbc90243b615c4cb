"""Evaluation of syntax trees against variables and functions."""

import math
from collections.abc import Callable, Mapping

from minicalc.errors import EvalError
from minicalc.nodes import Assign, Binary, Call, Name, Node, Number, Unary
from minicalc.parser import parse

# Built-in functions by name, with the number of arguments each takes.
BUILTINS: dict[str, tuple[Callable[..., float], int]] = {
    "abs": (abs, 1),
    "sqrt": (math.sqrt, 1),
    "sin": (math.sin, 1),
    "cos": (math.cos, 1),
    "ln": (math.log, 1),
    "min": (min, 2),
    "max": (max, 2),
    "hypot": (math.hypot, 2),
}

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}


class Calculator:
    """Evaluates statements, remembering variables assigned with `name = expr`.

    Each calculator has its own variables; constants cannot be reassigned.
    """

    def __init__(self, variables: Mapping[str, float] | None = None):
        self.variables: dict[str, float] = dict(variables or {})

    def evaluate(self, source: str) -> float:
        return self._eval(parse(source))

    def _eval(self, node: Node) -> float:
        match node:
            case Number(value=value):
                return value
            case Name(name=name, position=position):
                return self._lookup(name, position)
            case Unary(op="-", operand=operand):
                return -self._eval(operand)
            case Unary(op="+", operand=operand):
                return self._eval(operand)
            case Binary(op=op, left=left, right=right, position=position):
                return self._binary(op, self._eval(left), self._eval(right), position)
            case Call(function=function, args=args, position=position):
                return self._call(function, [self._eval(arg) for arg in args], position)
            case Assign(name=name, value=value, position=position):
                if name in CONSTANTS:
                    raise EvalError(f"cannot assign to constant {name!r}", position)
                result = self._eval(value)
                self.variables[name] = result
                return result
        raise TypeError(f"not a syntax tree node: {node!r}")

    def _lookup(self, name: str, position: int) -> float:
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in self.variables:
            return self.variables[name]
        raise EvalError(f"unknown variable {name!r}", position)

    @staticmethod
    def _binary(op: str, left: float, right: float, position: int) -> float:
        if op == "+":
            return left + right
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        if op in ("/", "%") and right == 0:
            raise EvalError("division by zero", position)
        if op == "/":
            return left / right
        if op == "%":
            return math.fmod(left, right)
        if op == "^":
            try:
                return left**right
            except OverflowError:
                raise EvalError("result too large", position) from None
        raise ValueError(f"unknown operator {op!r}")

    @staticmethod
    def _call(function: str, args: list[float], position: int) -> float:
        if function not in BUILTINS:
            raise EvalError(f"unknown function {function!r}", position)
        implementation, arity = BUILTINS[function]
        if len(args) != arity:
            raise EvalError(
                f"{function} takes {arity} argument{'s' if arity != 1 else ''}, got {len(args)}",
                position,
            )
        try:
            return implementation(*args)
        except ValueError:
            raise EvalError(f"{function} is undefined for {args}", position) from None


def evaluate(source: str, variables: Mapping[str, float] | None = None) -> float:
    """Evaluate one statement with a fresh calculator."""
    return Calculator(variables).evaluate(source)
