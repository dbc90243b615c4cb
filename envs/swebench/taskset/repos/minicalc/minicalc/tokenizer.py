"""Turns source text into tokens."""

import re
from dataclasses import dataclass

from minicalc.errors import ParseError

# Token kinds: NUMBER, NAME, OP (one of + - * / % ^ = ( ) ,) and END.
_NUMBER = re.compile(r"(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_OPERATORS = frozenset("+-*/%^=(),")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int

    @property
    def value(self) -> float:
        return float(self.text)


def tokenize(source: str) -> list[Token]:
    """Split source into tokens, ending with one END token; raises ParseError on a stray character."""
    tokens: list[Token] = []
    index = 0
    while index < len(source):
        char = source[index]
        if char.isspace():
            index += 1
            continue
        number = _NUMBER.match(source, index)
        if number:
            tokens.append(Token("NUMBER", number.group(0), index))
            index = number.end()
            continue
        name = _NAME.match(source, index)
        if name:
            tokens.append(Token("NAME", name.group(0), index))
            index = name.end()
            continue
        if char in _OPERATORS:
            tokens.append(Token("OP", char, index))
            index += 1
            continue
        raise ParseError(f"unexpected character {char!r}", index)
    tokens.append(Token("END", "", len(source)))
    return tokens
