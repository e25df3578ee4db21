"""The literal text a regular expression's every match must contain, read from the expression itself.

A rule's triggers gate its search: text holding none of them is passed over. Reading them from the compiled pattern,
rather than writing them beside it, means a new or edited rule cannot be skipped by a trigger list nobody updated.
Triggers are compared with `fold`ed text, in which characters the regex engine treats as one letter when ignoring
case are one character; a case-sensitive pattern's triggers are folded too (folding only adds candidates).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import product
from re import _casefix, _constants, _parser  # type: ignore[attr-defined]  # the stdlib's own regex parser; typeshed stubs only its deprecated aliases
from typing import Any

# Alternatives and character classes are spelled out as strings up to these sizes; beyond, they guarantee nothing.
_MAX_CLASS = 10
_MAX_STRINGS = 64

# Ignoring case, the engine takes 'ſ' for 's', 'ı' for 'i', 'µ' for 'μ' (re._casefix), and compares characters by
# their one-character lower case, so 'İ' is 'i', though str.lower() makes it two characters.
_EXTRA_CASES: dict[int, tuple[int, ...]] = _casefix._EXTRA_CASES
_CASE_CLASSES = {char: min(char, *others) for char, others in _EXTRA_CASES.items() if min(char, *others) != char}


def fold(text: str) -> str:
    """`text` lower-cased with the regex engine's case equivalences, one character for each of `text`'s."""
    if text.isascii():
        return text.lower()
    return text.replace("\u0130", "i").lower().translate(_CASE_CLASSES)


def triggers(pattern: re.Pattern[str]) -> tuple[str, ...]:
    """Folded strings, one of which every match of `pattern` contains; raises if the pattern guarantees none."""
    shape = _sequence(_parser.parse(pattern.pattern, pattern.flags))
    found = shape.best()
    if found is None:
        raise ValueError(f"no literal text is common to every match of {pattern.pattern!r}: give the rule one")
    # A needle holding another adds nothing: wherever it is, the shorter one is too.
    return tuple(sorted(n for n in found if not any(other != n and other in n for other in found)))


@dataclass(frozen=True)
class _Shape:
    """What is known of the strings a part of a pattern matches; None where nothing is."""

    exact: frozenset[str] | None = None  # every string it can match, when they are few
    needles: frozenset[str] | None = None  # strings one of which each match contains
    starts: frozenset[str] | None = None  # strings one of which each match begins with
    ends: frozenset[str] | None = None  # strings one of which each match ends with

    def best(self) -> frozenset[str] | None:
        return _best(self.exact, self.needles, self.starts, self.ends)


_UNKNOWN = _Shape()
_EMPTY = _Shape(frozenset({""}), starts=frozenset({""}), ends=frozenset({""}))


def _score(strings: frozenset[str] | None) -> tuple[int, int]:
    if not strings:
        return (0, 0)
    return (min(map(len, strings)), -len(strings))


def _best(*candidates: frozenset[str] | None) -> frozenset[str] | None:
    best = max(candidates, key=_score)
    return best if _score(best)[0] > 0 else None


def _exact(strings: Iterable[str]) -> _Shape:
    found = frozenset(strings)
    return _Shape(found, starts=found, ends=found) if len(found) <= _MAX_STRINGS else _UNKNOWN


def _joined(first: frozenset[str] | None, second: frozenset[str] | None) -> frozenset[str] | None:
    """Every string of `first` followed by every one of `second`, when there are few."""
    if first is None or second is None or len(first) * len(second) > _MAX_STRINGS:
        return None
    return frozenset(a + b for a, b in product(first, second))


def _sequence(parsed: Any) -> _Shape:
    # `run`: what the items since the last one not spelled out spell together; `whole`: no such item yet.
    run: frozenset[str] | None = frozenset({""})
    whole, starts, needles = True, None, None
    for op, av in parsed:
        item = _item(op, av)
        joined = _joined(run, item.exact)
        if joined is not None:
            run = joined
            continue
        joined = _joined(run, item.starts)
        if whole:
            starts = joined or run
        needles = _best(needles, joined, run, item.needles)
        run, whole = item.ends, False
    if whole:
        return _exact(run or ())
    return _Shape(None, _best(needles, run), starts, run)


def _item(op: Any, av: Any) -> _Shape:
    if op is _constants.LITERAL:
        return _exact({fold(chr(av))})
    if op is _constants.IN:
        return _class(av)
    if op in (_constants.AT, _constants.ASSERT, _constants.ASSERT_NOT):
        return _EMPTY  # zero width: what comes before and after it in the pattern is adjacent in the text
    if op is _constants.SUBPATTERN:
        return _sequence(av[-1])
    if op is _constants.ATOMIC_GROUP:
        return _sequence(av)
    if op is _constants.BRANCH:
        return _branch([_sequence(alternative) for alternative in av[1]])
    if op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT, _constants.POSSESSIVE_REPEAT):
        low, high, item = av[0], av[1], _sequence(av[2])
        if low == high and item.exact is not None and len(item.exact) ** low <= _MAX_STRINGS:
            return _exact("".join(parts) for parts in product(item.exact, repeat=low))
        if low == 0:
            return _exact({"", *item.exact}) if high == 1 and item.exact is not None else _UNKNOWN
        return _Shape(None, item.best(), item.starts, item.ends)
    return _UNKNOWN  # any character, a category, a back-reference: no literal text


def _class(items: Any) -> _Shape:
    chars: set[str] = set()
    for op, av in items:
        if op is _constants.LITERAL:
            chars.add(chr(av))
        elif op is _constants.RANGE and av[1] - av[0] < _MAX_CLASS:
            chars.update(map(chr, range(av[0], av[1] + 1)))
        else:
            return _UNKNOWN  # negated, a category, or a wide range
    return _exact(map(fold, chars)) if len(chars) <= _MAX_CLASS else _UNKNOWN


def _branch(alternatives: list[_Shape]) -> _Shape:
    if all(a.exact is not None for a in alternatives):
        return _exact(s for a in alternatives for s in a.exact or ())
    return _Shape(
        None,
        _union(a.best() for a in alternatives),
        _union(a.starts for a in alternatives),
        _union(a.ends for a in alternatives),
    )


def _union(sets: Iterable[frozenset[str] | None]) -> frozenset[str] | None:
    """The strings of all the sets, or None if one of them is unknown."""
    found: set[str] = set()
    for strings in sets:
        if strings is None:
            return None
        found |= strings
    return frozenset(found)
