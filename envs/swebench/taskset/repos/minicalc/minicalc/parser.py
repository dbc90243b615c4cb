"""Recursive-descent parser.

Grammar, lowest precedence first:

    statement := NAME '=' statement | expr
    expr      := term (('+' | '-') term)*
    term      := unary (('*' | '/' | '%') unary)*
    unary     := ('-' | '+') unary | power
    power     := primary ('^' unary)?          right-associative; binds tighter than unary minus
    primary   := NUMBER | NAME | NAME '(' [expr (',' expr)*] ')' | '(' expr ')'

So -2^2 is -(2^2) = -4 and 2^3^2 is 2^(3^2) = 512, as in mathematics.
"""

from minicalc.errors import ParseError
from minicalc.nodes import Assign, Binary, Call, Name, Node, Number, Unary
from minicalc.tokenizer import Token, tokenize


class _Parser:
    def __init__(self, tokens: list[Token]):
        self._tokens = tokens
        self._index = 0

    def _peek(self, offset: int = 0) -> Token:
        return self._tokens[min(self._index + offset, len(self._tokens) - 1)]

    def _next(self) -> Token:
        token = self._peek()
        self._index += 1
        return token

    def _at_op(self, *ops: str) -> bool:
        token = self._peek()
        return token.kind == "OP" and token.text in ops

    def _expect_op(self, op: str) -> Token:
        token = self._next()
        if token.kind != "OP" or token.text != op:
            raise ParseError(f"expected {op!r}, found {_describe(token)}", token.position)
        return token

    def statement(self) -> Node:
        first = self._peek()
        second = self._peek(1)
        if first.kind == "NAME" and second.kind == "OP" and second.text == "=":
            self._index += 2
            return Assign(first.text, self.statement(), first.position)
        return self.expr()

    def expr(self) -> Node:
        node = self.term()
        while self._at_op("+", "-"):
            op = self._next()
            node = Binary(op.text, node, self.term(), op.position)
        return node

    def term(self) -> Node:
        node = self.unary()
        while self._at_op("*", "/", "%"):
            op = self._next()
            node = Binary(op.text, node, self.unary(), op.position)
        return node

    def unary(self) -> Node:
        if self._at_op("-", "+"):
            op = self._next()
            return Unary(op.text, self.unary(), op.position)
        return self.power()

    def power(self) -> Node:
        base = self.primary()
        if self._at_op("^"):
            op = self._next()
            return Binary("^", base, self.unary(), op.position)
        return base

    def primary(self) -> Node:
        token = self._next()
        if token.kind == "NUMBER":
            return Number(token.value, token.position)
        if token.kind == "NAME":
            if self._at_op("("):
                return Call(token.text, self._arguments(), token.position)
            return Name(token.text, token.position)
        if token.kind == "OP" and token.text == "(":
            node = self.expr()
            self._expect_op(")")
            return node
        raise ParseError(f"expected a value, found {_describe(token)}", token.position)

    def _arguments(self) -> tuple[Node, ...]:
        self._expect_op("(")
        args: list[Node] = []
        if not self._at_op(")"):
            args.append(self.expr())
            while self._at_op(","):
                self._next()
                args.append(self.expr())
        self._expect_op(")")
        return tuple(args)


def _describe(token: Token) -> str:
    return "end of input" if token.kind == "END" else repr(token.text)


def parse(source: str) -> Node:
    """Parse one statement; the whole source must be consumed."""
    parser = _Parser(tokenize(source))
    node = parser.statement()
    trailing = parser._peek()
    if trailing.kind != "END":
        raise ParseError(f"unexpected {_describe(trailing)}", trailing.position)
    return node
