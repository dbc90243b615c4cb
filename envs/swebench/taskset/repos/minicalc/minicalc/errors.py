"""The errors minicalc raises; every one carries the source position it refers to."""


class CalcError(Exception):
    def __init__(self, message: str, position: int):
        super().__init__(f"{message} at position {position}")
        self.message = message
        self.position = position


class ParseError(CalcError):
    """The input is not a well-formed expression."""


class EvalError(CalcError):
    """A well-formed expression cannot be evaluated: unknown name, bad arity, division by zero."""
