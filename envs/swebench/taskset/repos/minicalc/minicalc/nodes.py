"""Syntax tree nodes. Every node records the source position of its first token."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Number:
    value: float
    position: int


@dataclass(frozen=True)
class Name:
    name: str
    position: int


@dataclass(frozen=True)
class Unary:
    op: str
    operand: "Node"
    position: int


@dataclass(frozen=True)
class Binary:
    op: str
    left: "Node"
    right: "Node"
    position: int


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple["Node", ...]
    position: int


@dataclass(frozen=True)
class Assign:
    name: str
    value: "Node"
    position: int


Node = Number | Name | Unary | Binary | Call | Assign
