"""A small calculator: tokenizer, recursive-descent parser and evaluator for arithmetic
expressions with variables, assignment and functions."""

from minicalc.errors import CalcError, EvalError, ParseError
from minicalc.evaluator import Calculator, evaluate
from minicalc.parser import parse
from minicalc.tokenizer import Token, tokenize

__all__ = [
    "CalcError",
    "Calculator",
    "EvalError",
    "ParseError",
    "Token",
    "evaluate",
    "parse",
    "tokenize",
]

__version__ = "1.0.0"
