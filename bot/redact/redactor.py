"""The one redaction function, and the Slack-safe rendering of untrusted text.

`Redactor.redact` replaces secrets, credentials, e-mail addresses and internal host names
with placeholders like ``[REDACTED:aws-key]`` before anything is stored or posted;
`neutralise` and `quote_untrusted` make untrusted text inert, quoted data in Slack mrkdwn.
"""

from __future__ import annotations

import bisect
import functools
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import ahocorasick
from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
from detect_secrets.filters import heuristic
from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString
from detect_secrets.plugins.ip_public import IPPublicDetector
from detect_secrets.plugins.keyword import KeywordDetector

from bot.redact.triggers import fold, triggers

log = logging.getLogger(__name__)

PLACEHOLDER = re.compile(r"\[REDACTED:[a-z0-9-]+\]")
_UNSCANNABLE = "[REDACTED:unscannable]"


def placeholder(kind: str) -> str:
    return f"[REDACTED:{kind}]"


def _is_placeholder(value: str) -> bool:
    return value.startswith("[REDACTED:")


# --- Our own rules: the common cases, cheap and with precise spans --------------------------


@dataclass(frozen=True)
class _Rule:
    """A pattern whose group `secret` (or the whole match) becomes a placeholder of `kind`.

    `triggers` are folded substrings without which the pattern cannot match, read from the pattern: a substring
    test costs a fraction of a regex search, and most text contains none of them.
    """

    kind: str
    pattern: re.Pattern[str]
    replace: Callable[[re.Match[str]], str] | None = None
    # Every match begins in the unbroken run of text that holds one of its triggers, so in ASCII text (where a
    # case-insensitive match is one of the lower-cased triggers) none begins before the last space ahead of the first.
    starts_by_trigger: bool = False
    triggers: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "triggers", triggers(self.pattern))

    def apply(self, text: str, folded: str) -> str:
        if not _contains_any(folded, self.triggers):
            return text
        if not self.starts_by_trigger:
            return self.replace_all(text)
        start = 0
        if text.isascii():
            # `folded` is the text before earlier rules replaced parts of it: offsets come from the text as it is.
            current = text.lower()
            first = min((at for at in map(current.find, self.triggers) if at >= 0), default=-1)
            if first < 0:
                return text
            start = text.rfind(" ", 0, first) + 1
        return _sub_from(self.pattern, self.replace or self._replace, text, start)

    def replace_all(self, text: str) -> str:
        """The rule applied to the whole of `text`, ungated: what `apply` must give."""
        return self.pattern.sub(self.replace or self._replace, text)

    def _replace(self, match: re.Match[str]) -> str:
        group = "secret" if "secret" in self.pattern.groupindex else 0
        return _replace_group(match, group, self.kind)


def _sub_from(pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str], text: str, start: int) -> str:
    """`pattern.sub(replace, text)` for a pattern that matches nothing before `start`: searching the whole of a line
    for an assignment was most of redacting one (bench/README.md)."""
    parts: list[str] = []
    cursor = 0
    for match in pattern.finditer(text, start):
        parts += (text[cursor : match.start()], replace(match))
        cursor = match.end()
    if not parts:
        return text
    parts.append(text[cursor:])
    return "".join(parts)


def _contains_any(text: str, needles: tuple[str, ...]) -> bool:
    # A plain loop: any() over a generator costs a frame per call on the hottest path.
    for needle in needles:  # noqa: SIM110
        if needle in text:
            return True
    return False


def _overlaps_placeholder(text: str, start: int, end: int) -> bool:
    # A pattern can start or end inside an earlier placeholder ("…key]=@" looks like a URL
    # password); rewriting it would break the placeholder and redact(redact(x)) would differ.
    opened = text.rfind("[REDACTED:", max(0, start - 64), end)
    return opened != -1 and (opened >= start or text.find("]", opened) >= start)


def _replace_group(match: re.Match[str], group: int | str, kind: str) -> str:
    value = match.group(group)
    start, end = match.span(group)
    if not value or _overlaps_placeholder(match.string, start, end):
        return match.group(0)
    offset, whole = match.start(), match.group(0)
    return whole[: start - offset] + placeholder(kind) + whole[end - offset :]


# Names whose last segment says "this value is a credential": db_password, X-API-Key,
# AWS_SECRET_ACCESS_KEY, sessionToken. The keyword must end the name, so password_changed_at,
# secret_name and tokens_used stay readable.
_SECRET_WORDS = (
    r"password|passwd|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|secret[_-]?key|private[_-]?key|signing[_-]?key|encryption[_-]?key|master[_-]?key"
    r"|auth[_-]?key|session[_-]?key|client[_-]?secret|credentials?|signature|sig"
    r"|(?<=[_.-])pass"
)
_SECRET_NAME = r"(?:[A-Za-z0-9]+[_.-])*(?:[a-z0-9]+(?=[A-Z]))?(?i:" + _SECRET_WORDS + r")"
_SECRET_KEY = re.compile(_SECRET_NAME)


def _kind_of_name(name: str) -> str:
    lowered = name.lower()
    if "pass" in lowered or "pwd" in lowered:
        return "password"
    if "token" in lowered:
        return "token"
    if "api" in lowered:
        return "api-key"
    if "private" in lowered:
        return "private-key"
    return "secret"


# An unquoted value runs to whitespace or a closing bracket; ',', ';' and '&' end it only when
# the next field follows ("&user=bob", ", user"), since passwords contain them too.
_ASSIGNMENT = re.compile(
    r"(?<![A-Za-z0-9_.-])(?P<name>" + _SECRET_NAME + r")(?![A-Za-z0-9_])"
    r"[\"']?[ \t]*(?::=|=>|[:=])[ \t]*"
    r"(?:\"(?P<dq>[^\"\r\n]*)\"|'(?P<sq>[^'\r\n]*)'|(?P<bare>(?:[^\s,;&\"'<>(){}]|[,;&](?![\w.-]+=|\s|$))+))"
)


def _redact_assignment(match: re.Match[str]) -> str:
    group = next(g for g in ("dq", "sq", "bare") if match.group(g) is not None)
    return _replace_group(match, group, _kind_of_name(match.group("name")))


_RULES: tuple[_Rule, ...] = (
    # Before everything else: a key block spans lines, and an unterminated one is redacted to
    # the end rather than half-leaked.
    _Rule(
        "private-key",
        re.compile(
            r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?"
            r"(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
            re.DOTALL,
        ),
    ),
    # Before e-mail, so user:pass@host keeps its user and host.
    _Rule(
        "password", re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@?#]*:(?P<secret>[^\s/?#]+)(?=@)")
    ),
    _Rule(
        "slack-webhook",
        re.compile(r"https://hooks\.slack\.com/(?P<secret>(?:services|workflows|triggers)/[A-Za-z0-9_/-]+)"),
    ),
    _Rule(
        "authorization",
        re.compile(
            r"(?i)\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?"
            r"(?:(?:bearer|basic|token|digest|negotiate|ntlm|apikey)\s+)?(?P<secret>[^\s\"',;]+)"
        ),
    ),
    _Rule("cookie", re.compile(r"(?i)\b(?:set-)?cookie[\"']?[ \t]*[:=][ \t]*(?P<secret>[^\r\n\"']+)")),
    # Tokens almost always carry a digit; prose like "bearer authentication" does not.
    _Rule("bearer", re.compile(r"(?i)\bbearer\s+(?P<secret>(?=[A-Za-z._~+/-]*[0-9])[A-Za-z0-9._~+/-]{8,}=*)")),
    _Rule("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*")),
    _Rule("aws-key", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b")),
    _Rule("slack-token", re.compile(r"\b(?:xox[abposre]|xapp-\d)-[A-Za-z0-9-]{10,}")),
    _Rule("github-token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")),
    _Rule("gitlab-token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    _Rule("google-api-key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}")),
    _Rule("stripe-key", re.compile(r"\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,}")),
    _Rule("secret", _ASSIGNMENT, _redact_assignment, starts_by_trigger=True),
    # An e-mail after "://" is the user part of a URL, not an address.
    _Rule(
        "email",
        re.compile(r"(?<![\w.%+-])(?<!://)[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])"),
    ),
)

_HOST = re.compile(
    r"(?<![\w.-])(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?\.)+"
    r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"
)


# --- detect-secrets, behind a prefilter --------------------------------------------------------

# A line reaches detect-secrets only if a credential word is followed by an assignment or a
# quote (every keyword-based plugin needs one), it carries a known token prefix, or it has a
# long random-looking run. URLs and '@' are not triggers: our rules already own them.
# Substring tests on lower-cased text first: a case-insensitive alternation costs ~10x more.
_SCAN_WORDS = ("pass", "pwd", "secret", "token", "key", "auth", "credential", "contrase")
_SCAN_ASSIGNMENT = re.compile(r"(?:pass|pwd|secret|token|key|auth|credential|contrase)[^\s:=\"'`]{0,40}\s*(?::|=|!=)")
# KeywordDetector also reads `"value" == password` and `password "value";`.
_SCAN_QUOTED_FORMS = ("==", "!=", ";")
_SCAN_PREFIXES = (
    "private key",
    "putty",
    "xox",
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "glpat",
    "gldt",
    "k_live",
    "t3blbkfj",
    "sq0csp",
    "npm_",
    "pypi-",
    "hooks.slack",
)
_SCAN_PREFIXES_EXACT = ("SG.", "eyJ", "AKIA", "ASIA", "ABIA", "ACCA", "A3T", "AKC")
_MAILCHIMP_SUFFIX = re.compile(r"-us\d")
# A name whose value is already a placeholder is spent: it should not send the line to
# detect-secrets again. Only the gate reads this; the scan still sees the whole line.
# The name is matched possessively: what may follow it is never part of a name, so giving characters back cannot
# help, and trying to cost a third of the search.
_SPENT = re.compile(
    r"(?<![\w.-])[\w.-]++[\"'\]]*\s*(?::=|=>|[:=])\s*[\"']?(?:(?:bearer|basic|token|digest)\s+)?"
    r"\[redacted:[a-z0-9-]+\]|\[redacted:[a-z0-9-]+\]"
)
# KeywordDetector reads "secret_name": "db-creds" as a secret; names like that describe one.
_DESCRIBES_SECRET = re.compile(
    r"(?i)(?:secret|password|key|token)[_.-]?(?:name|ref|id|path|file|arn|version|type|kind"
    r"|namespace|count|length|ttl|expiry|expires|rotation|policy|store|provider|mount)s?"
    r"[\"'\]]*\s*(?::=|=>|[:=])\s*[\"'`]?$"
)
# KeywordDetector is the slowest of the scans (bench/README.md); it only matches a keyword assigned or compared to a
# quoted value, or a quoted value ending a statement.
_KEYWORD_SHAPE = re.compile(
    r"(?:key|pass|pwd|secret|contrase)\w{0,40}[\]'\"]{0,2}\s*(?:[:=]|!=)=?=?>?\s*[\"'`]"
    r"|[\"'`]\s*[!=]==?|[\"'`];"
)
_QUOTES = ('"', "'", "`")
_TOKEN_RUN = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{20,}={0,2}")
_HEX_ID = re.compile(r"[0-9a-fA-F-]+")
# detect-secrets' own is_likely_id_string looks anywhere earlier on the line, so one
# "trace_id" would hide every later secret; we only look right before the candidate.
_ID_BEFORE = re.compile(r"(?:\b|_|-)[iI][dD]s?[\"']?\s*[:=]\s*[\"']?$|(?<=[a-z])Ids?[\"']?\s*[:=]\s*[\"']?$")

# Public IPs are evidence in an incident, not secrets. Hex runs (git SHAs, trace ids,
# fingerprints, digests) are indistinguishable from hex keys without context; the keyword
# rules catch hex keys that come with a name.
_SKIPPED_PLUGINS = {
    IPPublicDetector.__name__,
    "HexHighEntropyString",
    Base64HighEntropyString.__name__,
    KeywordDetector.__name__,
}


def _slug(secret_type: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", secret_type.lower()).strip("-")


class _SecretScanner:
    """detect-secrets' plugins, called directly so no global settings are read or mutated.

    `scan_line` rewrites global settings on every call and its eager search swaps a regex on
    shared plugin instances, which races across threads; calling the plugins' compiled
    patterns and pure functions does not, and is cheaper. Nothing here is mutated after
    construction, so one instance serves every thread.
    """

    def __init__(self) -> None:
        # Read from instances: the base classes declare secret_type and denylist as abstract properties.
        plugins: Iterable[type[BasePlugin]] = get_mapping_from_secret_type_to_class().values()
        detectors = [
            cls() for cls in plugins if issubclass(cls, RegexBasedDetector) and cls.__name__ not in _SKIPPED_PLUGINS
        ]
        self._patterns: list[tuple[str, re.Pattern[str]]] = [
            (_slug(detector.secret_type), pattern) for detector in detectors for pattern in detector.denylist
        ]
        self._keyword = KeywordDetector()
        self._entropy = Base64HighEntropyString()

    def should_scan(self, line: str) -> bool:
        lowered = line.lower()
        if "[redacted:" in lowered:
            lowered = _SPENT.sub(" ", lowered)
        if _contains_any(lowered, _SCAN_WORDS) and (
            _SCAN_ASSIGNMENT.search(lowered)
            or (_contains_any(lowered, _QUOTES) and _contains_any(lowered, _SCAN_QUOTED_FORMS))
        ):
            return True
        if _contains_any(lowered, _SCAN_PREFIXES) or _contains_any(line, _SCAN_PREFIXES_EXACT):
            return True
        if "-us" in lowered and _MAILCHIMP_SUFFIX.search(lowered):
            return True
        return any(_looks_random(run.group()) for run in _TOKEN_RUN.finditer(line))

    def redact_line(self, line: str) -> str:
        return _replace_spans(
            line,
            [
                (start + offset, end + offset, kind)
                for offset, window in _windows(line)
                for start, end, kind in self._spans(window)
            ],
        )

    def _spans(self, line: str) -> list[tuple[int, int, str]]:
        return [*self._pattern_spans(line), *self._keyword_spans(line), *self._entropy_spans(line)]

    def _pattern_spans(self, line: str) -> list[tuple[int, int, str]]:
        spans = []
        for kind, pattern in self._patterns:
            for match in pattern.finditer(line):
                spans.append((*_secret_span(match), kind))
        return spans

    def _keyword_spans(self, line: str) -> list[tuple[int, int, str]]:
        if (
            not _contains_any(line, _QUOTES)
            or not _KEYWORD_SHAPE.search(line.lower())
            or heuristic.is_indirect_reference(line)
        ):
            return []
        spans: list[tuple[int, int, str]] = []
        for value in self._keyword.analyze_string(line):
            if len(value) < 4 or _is_filtered(value):
                continue
            spans.extend(
                (start, start + len(value), "secret")
                for start in _occurrences(line, value)
                if not _DESCRIBES_SECRET.search(line, max(0, start - 80), start)
            )
        return spans

    def _entropy_spans(self, line: str) -> list[tuple[int, int, str]]:
        spans = []
        for run in _TOKEN_RUN.finditer(line):
            value = run.group()
            if (
                _looks_random(value)
                and not _is_filtered(value)
                and not _ID_BEFORE.search(line, max(0, run.start() - 40), run.start())
                and self._entropy.calculate_shannon_entropy(value) > self._entropy.entropy_limit
            ):
                spans.append((run.start(), run.end(), "high-entropy"))
        return spans


# Some plugin patterns have no anchor (eyJ…, xox…) and go quadratic on a long line of
# repeated prefixes; overlapping windows bound that, and the overlap exceeds any token we know.
_WINDOW = 4096
_WINDOW_OVERLAP = 1024


def _windows(line: str) -> list[tuple[int, str]]:
    if len(line) <= _WINDOW:
        return [(0, line)]
    step = _WINDOW - _WINDOW_OVERLAP
    return [(offset, line[offset : offset + _WINDOW]) for offset in range(0, len(line) - _WINDOW_OVERLAP, step)]


def _looks_random(run: str) -> bool:
    # Random base64 of 20+ chars has both cases; k8s names, paths and hex ids do not.
    return not _HEX_ID.fullmatch(run) and not run.islower() and not run.isupper()


def _secret_span(match: re.Match[str]) -> tuple[int, int]:
    # Plugin patterns capture either the secret or just a prefix ("ghp"); take a capture only
    # when it is long enough to be the secret, and trim the delimiters some patterns include.
    groups = [i for i in range(1, (match.re.groups or 0) + 1) if match.group(i)]
    if groups:
        best = max(groups, key=lambda i: len(match.group(i)))
        if len(match.group(best)) >= 8:
            return match.span(best)
    start, end = match.span()
    text = match.string
    while start < end and text[start] in " \t=:\"'":
        start += 1
    while end > start and text[end - 1] in " \t\"'":
        end -= 1
    return start, end


def _is_filtered(value: str) -> bool:
    return (
        PLACEHOLDER.search(value) is not None
        or heuristic.is_templated_secret(value)
        or heuristic.is_prefixed_with_dollar_sign(value)
        or heuristic.is_sequential_string(value)
        or heuristic.is_potential_uuid(value)
        or heuristic.is_not_alphanumeric_string(value)
    )


def _occurrences(line: str, value: str) -> list[int]:
    starts, start = [], line.find(value)
    while start != -1:
        starts.append(start)
        start = line.find(value, start + len(value))
    return starts


def _replace_spans(line: str, spans: list[tuple[int, int, str]]) -> str:
    if not spans:
        return line
    protected = [m.span() for m in PLACEHOLDER.finditer(line)]
    out, cursor = [], 0
    for start, end, kind in sorted(spans):
        if end <= start or any(start < p_end and p_start < end for p_start, p_end in protected):
            continue
        if start < cursor:
            # Overlaps the previous replacement: extend it rather than leak the tail.
            cursor = max(cursor, end)
            continue
        out.append(line[cursor:start])
        out.append(placeholder(kind))
        cursor = end
    out.append(line[cursor:])
    return "".join(out)


# --- The redactor -----------------------------------------------------------------------------


@functools.cache
def _scanner() -> _SecretScanner:
    # Built on first use and shared: it is immutable.
    return _SecretScanner()


# Shorter than any run _TOKEN_RUN takes for a random token.
_PLAIN_MAX = 16

# What `_redact` needs before it changes anything, in folded text: a rule's trigger, a word or prefix that sends a line
# to the scanner (the case-sensitive prefixes too, lower-cased: finding more costs only a needless scan), or a
# placeholder already there. (In the text as it is: a random-looking run, or a dot where internal hosts are redacted.)
# The rules' triggers come from the rules (see triggers.py); the scanner's words and prefixes are the gate of
# `_SecretScanner.should_scan`, which lower-cases where this folds: folding finds every ASCII needle lower-casing does.
_FOLDED_NEEDLES = tuple(
    dict.fromkeys(
        [
            *(trigger for rule in _RULES for trigger in rule.triggers),
            *_SCAN_WORDS,
            *_SCAN_PREFIXES,
            *(prefix.lower() for prefix in _SCAN_PREFIXES_EXACT),
            "-us",
            "[redacted:",
        ]
    )
)


def _automaton(needles: Iterable[str]) -> Any:
    # One Aho-Corasick pass finds every needle: looking for each in turn cost three times as much at 45 needles.
    automaton = ahocorasick.Automaton()
    for needle in needles:
        automaton.add_word(needle, len(needle) - 1)
    automaton.make_automaton()
    return automaton


_FOLDED_AUTOMATON = _automaton(_FOLDED_NEEDLES)
# _TOKEN_RUN's starts in text that begins with a line break: matching the character before a run, instead of looking
# behind at every offset, halves the search. The '=' padding is looked at, not consumed, so the next run may follow it.
_TOKEN_RUN_START = re.compile(r"[^A-Za-z0-9+/_-]([A-Za-z0-9+/_-]{20,})(?=(={0,2}))")


class Redactor:
    """Redacts text and structured metadata. Immutable after construction, so thread-safe.

    Nothing is memoised across calls: a cache keyed by input text would keep raw secrets in memory.
    """

    def __init__(self, internal_host_patterns: Sequence[str] = ()) -> None:
        # Host names are case-insensitive; a bad pattern is a configuration error, raised here.
        self._internal_hosts = tuple(re.compile(p, re.IGNORECASE) for p in internal_host_patterns)
        self._scanner = _scanner()

    def redact(self, text: str) -> str:
        if not isinstance(text, str):
            raise TypeError(f"redact() takes text, not {type(text).__name__}; see redact_mapping")
        if self._is_plain(text):
            return text
        return self._redact_one(text)

    def _is_plain(self, text: str) -> bool:
        # Label names and values ("payment-api", "critical", "pod-7:8080") are most of what is redacted. Text this short
        # holds no random-looking run; without a needle no rule matches and the scanner is not called, and without a
        # dot it is no host name either. ("pwd:hunter2" and "xoxb-1234567890" are short and have needles.)
        return (
            len(text) <= _PLAIN_MAX
            and not (self._internal_hosts and "." in text)
            and next(_FOLDED_AUTOMATON.iter(fold(text)), None) is None
        )

    def _redact_one(self, text: str) -> str:
        try:
            return self._redact(text)
        except Exception:
            # Fail closed: text we could not scan is not stored or posted. Never log the text.
            log.exception("redaction failed; withholding %d characters", len(text))
            return _UNSCANNABLE

    def redact_mapping(self, value: Any) -> Any:
        """Redact every string in nested dicts, lists and tuples (labels, annotations, metadata).

        A string under a credential-named key ("db_password", "api-key") is withheld whole,
        since on its own the value may look like any word.
        """
        return self.redact_all([value])[0]

    def redact_all(self, values: Sequence[Any]) -> list[Any]:
        """`redact_mapping` of each value, for a batch such as an Alertmanager group.

        Alerts of one group repeat their labels and annotations, so each distinct string is redacted once; and one
        pass over all of them together clears most, so only the few that might hold a secret go through `redact`.
        """
        strings: dict[str, None] = {}
        keys: dict[str, None] = {}
        for value in values:
            _collect(value, strings, keys)
        rewrite = self._rewrite(strings, keys)
        return [rewrite.value(value) for value in values]

    def redact_flat(
        self, texts: Sequence[str], mappings: Sequence[dict[str, str]]
    ) -> tuple[list[str], list[dict[str, str]]]:
        """`redact` of each text and `redact_mapping` of each mapping, for mappings of strings to strings such as an
        alert group's labels and annotations: their strings are gathered, and the mappings with nothing to change
        copied, without a Python step for each entry (a third of redacting a delivery)."""
        keys = dict.fromkeys(chain.from_iterable(mappings))
        values = chain.from_iterable(map(dict.values, mappings))
        rewrite = self._rewrite(dict.fromkeys(chain(texts, keys, values)), keys)
        return [rewrite.value(text) for text in texts], [rewrite.flat_mapping(mapping) for mapping in mappings]

    def _rewrite(self, strings: dict[str, None], keys: dict[str, None]) -> _Rewrite:
        changed = {text: self.redact(text) for text in self._suspects(list(strings))}
        credential_kinds = {key: _kind_of_name(key) for key in keys if _SECRET_KEY.fullmatch(key)}
        return _Rewrite(changed, credential_kinds)

    def _suspects(self, strings: list[str]) -> list[str]:
        """The strings `redact` might change; it returns every other one as it is.

        Each needle (see _FOLDED_NEEDLES) is looked for once in all the strings joined by newlines, where none can
        match across two strings.
        """
        text = "\n" + "\n".join(strings)
        hits = [run.start(1) for run in _TOKEN_RUN_START.finditer(text) if _looks_random(run.group(1) + run.group(2))]
        if self._internal_hosts:
            hits.extend(_occurrences(text, "."))
        # Folding keeps every offset, so hits in the folded text are placed by the text's.
        hits.extend(_found(_FOLDED_AUTOMATON, fold(text)))
        return [strings[i] for i in _owners(strings, hits)]

    def _redact(self, text: str) -> str:
        # Triggers only gate; a stale folded copy after a replacement can only cost a
        # needless search, since placeholders never need a later rule. Whatever can change text
        # here must have its needle in _suspects, which clears text for redact_all without this.
        folded = fold(text)
        for rule in _RULES:
            text = rule.apply(text, folded)
        if self._internal_hosts and "." in text:
            text = _HOST.sub(self._redact_host, text)
        return "".join(self._scan_line(line) for line in text.splitlines(keepends=True))

    def _redact_host(self, match: re.Match[str]) -> str:
        host = match.group()
        if any(pattern.search(host) for pattern in self._internal_hosts):
            return placeholder("host")
        return host

    def _scan_line(self, line: str) -> str:
        if not self._scanner.should_scan(line):
            return line
        try:
            return self._scanner.redact_line(line)
        except Exception:
            log.exception("secret scan failed; withholding a line of %d characters", len(line))
            return _UNSCANNABLE + ("\n" if line.endswith("\n") else "")


def _collect(value: Any, strings: dict[str, None], keys: dict[str, None]) -> None:
    """Every string `_Rewrite` looks up, at any depth, into `strings`; the string keys of mappings also into `keys`."""
    if isinstance(value, str):
        strings[value] = None
    elif isinstance(value, (dict, Mapping)):  # dict first: a check against the ABC alone is a Python-level call
        for key, item in value.items():
            # Labels and annotations are all string entries: no call down for them.
            if isinstance(key, str):
                keys[key] = strings[key] = None
            else:
                _collect(key, strings, keys)
            if isinstance(item, str):
                strings[item] = None
            else:
                _collect(item, strings, keys)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _collect(item, strings, keys)


def _found(automaton: Any, text: str) -> list[int]:
    """The offsets where the automaton's needles start in `text`."""
    return [end - last for end, last in automaton.iter(text)]


def _owners(strings: list[str], positions: Iterable[int]) -> set[int]:
    """The indices of the strings, each after a line break, that hold these offsets."""
    starts, offset = [], 1
    for text in strings:
        starts.append(offset)
        offset += len(text) + 1
    return {bisect.bisect_right(starts, at) - 1 for at in positions}


class _Rewrite:
    """Rebuilds values as `redact_mapping` returns them: redacted strings swapped in, and strings under
    credential-named keys withheld whole."""

    def __init__(self, changed: dict[str, str], credential_kinds: dict[str, str]) -> None:
        self._changed = changed
        self._credential_kinds = credential_kinds
        self._touched_keys = changed.keys() | credential_kinds.keys()

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._changed.get(value, value)
        if isinstance(value, (dict, Mapping)):
            return self._mapping(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, tuple):
            return tuple([self.value(item) for item in value])
        return value

    def flat_mapping(self, value: dict[str, str]) -> dict[str, str]:
        """A mapping of strings to strings; most labels and annotations hold nothing to change, and are copied."""
        if self._touched_keys.isdisjoint(value) and self._changed.keys().isdisjoint(value.values()):
            return dict(value)
        return self._mapping(value)

    def _mapping(self, value: Mapping[Any, Any]) -> dict[Any, Any]:
        get, out = self._changed.get, {}
        for key, item in value.items():
            if isinstance(item, str) and isinstance(key, str):
                kind = self._credential_kinds.get(key)
                if kind is not None and item and not _is_placeholder(item):
                    out[get(key, key)] = placeholder(kind)
                else:
                    out[get(key, key)] = get(item, item)
            else:
                out[self.value(key)] = self.value(item)
        return out


# --- Slack rendering of untrusted text ----------------------------------------------------------

# Bidirectional overrides can make quoted text display differently from what it says.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Stops at '|' and '>' so the URL inside Slack's <url|label> is found too.
_URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,31})://([^\s<>|\"'`]*)")
_WWW = re.compile(r"(?i)(?<![\w.:/-])www\.[^\s<>|\"'`]+")
_BARE_DOT = re.compile(r"(?<!\[)\.(?!\])")
_AMPERSAND = re.compile(r"&(?!(?:amp|lt|gt);)")


def _defang_dots(text: str) -> str:
    return _BARE_DOT.sub("[.]", text)


def _defang_url(match: re.Match[str]) -> str:
    scheme, rest = match.group(1), match.group(2)
    lowered = scheme.lower()
    if lowered in ("http", "https"):
        return scheme[0] + "xx" + scheme[3:] + "://" + _defang_dots(rest)
    if lowered in ("hxxp", "hxxps"):
        return scheme + "://" + _defang_dots(rest)
    return scheme + "[:]//" + _defang_dots(rest)


def neutralise(text: str) -> str:
    """Make untrusted text inert in Slack mrkdwn: no mentions, no channel links, no live links.

    Escaping &, < and > (Slack's only reserved characters) turns every <!channel>, <@U…>,
    <#C…>, <!subteam^…> and <url|label> into literal text, including forms we don't know.
    Raw URLs are defanged the way incident responders write indicators (hxxps://evil[.]example):
    it still reads plainly, and it is dead everywhere the text travels (desktop, mobile,
    notifications, copy-paste), whereas wrapping in backticks relies on each client not
    linkifying code, and a URL containing a backtick would close the span.
    Plain "@channel" is left alone: it only notifies when posted with link_names, which we never
    use. Already-escaped entities are not escaped again, so neutralising twice changes nothing.
    """
    text = _BIDI.sub("", text)
    text = _URL.sub(_defang_url, text)
    text = _WWW.sub(lambda m: _defang_dots(m.group()), text)
    text = _AMPERSAND.sub("&amp;", text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def quote_untrusted(text: str, limit: int = 500) -> str:
    """Render untrusted text as a Slack block quote of inert data, at most `limit` characters.

    The caller redacts first. Truncation counts the source characters (the "…" included), so
    escaping can make the result longer: up to five times `limit` when the text is all '&'.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > limit:
        text = text[: max(limit - 1, 0)].rstrip() + "…"
    return "\n".join("> " + line for line in neutralise(text).split("\n"))
