"""The prefilter is safe: with it, the rules redact exactly what they redact applied to every string without it.

Secrets of each rule's shape (drawn from the rule's own pattern) are embedded in random text and go through each
public entry point, alone and in a batch; the reference applies every rule, ungated, to each string.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot.redact import redactor as redact_module
from bot.redact.redactor import _RULES, Redactor, _Rule

# Characters the regex engine matches ignoring case though str.lower() keeps them apart ('ſ' for 's', 'ı' for 'i',
# 'İ' for 'i', the Kelvin sign for 'k'), the separators the rules stop at, and any other text.
_SURROUNDING = st.text(
    st.one_of(st.sampled_from(" \t\n:=\"'@/._-ſıİKµ"), st.characters(codec="utf-8"), st.sampled_from("abcXYZ019")),
    max_size=12,
)


def _embedded(rule: _Rule) -> st.SearchStrategy[str]:
    return st.builds(
        lambda before, secret, after: before + secret + after, _SURROUNDING, st.from_regex(rule.pattern), _SURROUNDING
    )


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


@pytest.mark.parametrize("rule", _RULES, ids=[rule.kind for rule in _RULES])
def test_with_the_prefilter_the_rules_redact_what_they_redact_alone(rules_only: Redactor, rule: _Rule) -> None:
    # An alternation's branches are drawn about evenly, so each trigger gets a few examples of its own. Bounded and
    # with no deadline: the machine is shared, and a slow example is not a wrong one; no explain phase, which takes
    # minutes on this pattern-heavy input and adds nothing to the shrunk example.
    @settings(
        max_examples=8 + 5 * len(rule.triggers),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    )
    @given(_embedded(rule), st.lists(st.one_of(_SURROUNDING, _embedded(rule)), max_size=3), st.integers(0, 3))
    def check(text: str, others: list[str], at: int) -> None:
        batch = [*others[:at], text, *others[at:]]
        expected = [_rules_alone(each) for each in batch]
        assert [rules_only.redact(each) for each in batch] == expected
        assert rules_only.redact_all(batch) == expected
        labels = {f"k{i}": each for i, each in enumerate(batch)}
        assert rules_only.redact_flat(batch, [labels]) == (expected, [dict(zip(labels, expected, strict=True))])

    check()
