"""The prefilter is safe: with it, the rules redact exactly what they redact applied to every string without it.

Secrets of every rule's shape (drawn from the rule's own pattern) are embedded in random text, alone and in batches,
and go through each public entry point; the reference applies every rule, ungated, to each string.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.redact import redactor as redact_module
from bot.redact.redactor import _RULES, Redactor

# Characters the regex engine matches ignoring case though str.lower() keeps them apart ('ſ' for 's', 'ı' for 'i',
# 'İ' for 'i', the Kelvin sign for 'k'), the separators the rules stop at, and plain text.
_SURROUNDING = st.text(
    st.one_of(st.sampled_from(" \t\n:=\"'@/._-ſıİKµ"), st.characters(codec="utf-8"), st.sampled_from("abcXYZ019")),
    max_size=12,
)
_SECRETS = st.one_of([st.from_regex(rule.pattern) for rule in _RULES])
_EMBEDDED = st.builds(lambda before, secret, after: before + secret + after, _SURROUNDING, _SECRETS, _SURROUNDING)
_BATCHES = st.lists(st.one_of(_EMBEDDED, _SURROUNDING), min_size=1, max_size=6)

# Bounded, and no deadline: the machine is shared, and a slow example is not a wrong one.
_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def rules_only() -> Iterator[Redactor]:
    # The detect-secrets scan after the rules has its own gate; without it, what remains is the rules and their gates.
    patch = pytest.MonkeyPatch()
    patch.setattr(redact_module._SecretScanner, "should_scan", lambda self, line: False)
    yield Redactor()
    patch.undo()


def _rules_alone(text: str) -> str:
    for rule in _RULES:
        text = rule.replace_all(text)
    return text


@_SETTINGS
@given(_EMBEDDED)
def test_one_string_is_redacted_as_by_the_rules_alone(rules_only: Redactor, text: str) -> None:
    assert rules_only.redact(text) == _rules_alone(text)


@_SETTINGS
@given(_BATCHES)
def test_a_batch_is_redacted_as_by_the_rules_alone(rules_only: Redactor, texts: list[str]) -> None:
    expected = [_rules_alone(text) for text in texts]
    assert rules_only.redact_all(texts) == expected
    mapping = {f"k{i}": text for i, text in enumerate(texts)}
    assert rules_only.redact_flat(texts, [mapping]) == (expected, [dict(zip(mapping, expected))])

