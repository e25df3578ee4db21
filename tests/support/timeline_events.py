"""Timeline events as plain objects for pure tests of assembly and drafting (the shape of a stored event row)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from typing import Any

_ids = count(1)


@dataclass
class Ev:
    kind: str
    at: datetime
    summary: str = ""
    service: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    evidence_ref: str | None = None
    actor: str | None = None
    source: str = "test"
    trust: str = "trusted_platform"
    content_hash: str = "h"
    id: int = field(default_factory=lambda: next(_ids))
