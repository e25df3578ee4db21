"""A stored row's states and the one table of moves between them. A move the table does not hold is a bug in
Steward, never a user's mistake, so it raises IllegalTransition rather than a UserError."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Generic, TypeVar

S = TypeVar("S", bound=StrEnum)


class IllegalTransition(RuntimeError):
    def __init__(self, kind: str, frm: StrEnum, to: StrEnum) -> None:
        super().__init__(f"{kind} cannot move from {frm.value!r} to {to.value!r}")
        self.frm, self.to = frm, to


class Transitions(Generic[S]):
    """The legal moves of one kind of row: `moves[a]` holds every state a row in state `a` may move to."""

    def __init__(self, kind: str, moves: Mapping[S, Iterable[S]]) -> None:
        self.kind = kind
        self.moves: dict[S, frozenset[S]] = {frm: frozenset(to) for frm, to in moves.items()}

    def check(self, frm: S, to: S) -> S:
        """`to`, when a row in `frm` may move there; IllegalTransition otherwise."""
        if to not in self.moves.get(frm, frozenset()):
            raise IllegalTransition(self.kind, frm, to)
        return to
