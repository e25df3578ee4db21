"""Turning a flag off in a flagd flag-definition file (the file provider that flagd and the
in-process OpenFeature providers watch): locked read-modify-write, atomic replace, and an undo file."""

from __future__ import annotations

import copy
import json
import os
import re
import stat
import tempfile
from collections.abc import Mapping
from contextlib import AbstractContextManager, suppress
from pathlib import Path
from typing import Any

from bot.clock import Clock, SystemClock
from bot.executors.common import ExecutorError, file_lock
from bot.executors.flags import FlagChangeResult, FlagState

ENABLED = "ENABLED"
_MTIME_BUMP_NS = 1_000_000


class FlagdExecutor:
    """Flags live in one flagd JSON file, or one per environment.

    Off means: `defaultVariant` = the off variant, `targeting` removed, `state` ENABLED. Not
    `state: DISABLED`: flagd then behaves as if the flag did not exist and every client falls
    back to the default written in its code, which for a flag being killed is often "on".
    """

    provider = "flagd"

    def __init__(
        self,
        files: str | Path | Mapping[str, str | Path],
        *,
        off_variants: Mapping[str, str] | None = None,
        undo_dir: str | Path | None = None,
        lock_timeout: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        """`files`: one path for every environment, or {environment: path}.
        `off_variants`: {flag: variant}, wins over the flag's `metadata.off_variant`.
        `undo_dir`: where previous definitions are kept; default `<flags file>.undo/`."""
        if isinstance(files, (str, Path)):
            self._single: Path | None = Path(files)
            self._by_env: dict[str, Path] = {}
        else:
            self._single = None
            self._by_env = {env: Path(p) for env, p in files.items()}
        self._off_variants = dict(off_variants or {})
        self._undo_dir = Path(undo_dir) if undo_dir is not None else None
        self._lock_timeout = lock_timeout
        self._clock = clock or SystemClock()

    # -- the interface -------------------------------------------------------------------

    def read(self, flag: str, environment: str) -> FlagState:
        path = self.file_for(environment)
        definition = _flag_definition(_load(path), flag, path)
        return self._state(flag, environment, path, definition)

    def describe_call(self, flag: str, environment: str) -> str:
        """Reads the file to name the off variant, so an unturnable flag fails here already."""
        path = self.file_for(environment)
        definition = _flag_definition(_load(path), flag, path)
        off = self._require_off_variant(flag, definition)
        return _describe(path, flag, definition, off)

    def turn_off(self, flag: str, environment: str, *, comment: str | None = None) -> FlagChangeResult:
        path = self.file_for(environment)
        with _locked(path, self._lock_timeout):
            doc = _load(path)
            before = _flag_definition(doc, flag, path)
            off = self._require_off_variant(flag, before)
            previous = self._state(flag, environment, path, before)
            call = _describe(path, flag, before, off)
            saved_to: Path | None = None
            if not previous.is_off:
                saved_to = self._save_undo(path, flag, environment, before, comment)
                doc["flags"][flag] = _off_definition(before, off)
                _atomic_write_json(path, doc)
        return FlagChangeResult.of(
            previous,
            self.read(flag, environment),
            call=call,
            undo={
                "file": str(path),
                "pointer": _pointer(flag),
                "definition": before,
                "saved_to": str(saved_to) if saved_to else None,
            },
        )

    # -- helpers -------------------------------------------------------------------------

    def file_for(self, environment: str) -> Path:
        if self._single is not None:
            return self._single
        try:
            return self._by_env[environment]
        except KeyError:
            raise ExecutorError(f"flagd: no flags file configured for environment {environment!r}") from None

    def off_variant(self, flag: str, definition: Mapping[str, Any]) -> str | None:
        """Configured off variant (constructor, then `metadata.off_variant`), else the variant
        whose value is `false`; None when there is neither."""
        variants = definition.get("variants") or {}
        configured = self._off_variants.get(flag) or _metadata_off_variant(definition)
        if configured is not None:
            if configured not in variants:
                raise ExecutorError(
                    f"flagd: flag {flag} has off variant {configured!r} configured, "
                    f"but its variants are {sorted(variants)}"
                )
            return configured
        # `is False`, not `== False`: a number flag's 0 variant is not an off switch.
        return next((name for name, value in variants.items() if value is False), None)

    def _require_off_variant(self, flag: str, definition: Mapping[str, Any]) -> str:
        off = self.off_variant(flag, definition)
        if off is None:
            raise ExecutorError(f"flagd: flag {flag} has no off variant")
        return off

    def _state(self, flag: str, environment: str, path: Path, definition: dict[str, Any]) -> FlagState:
        off = self.off_variant(flag, definition)
        return FlagState(
            flag=flag,
            environment=environment,
            provider=self.provider,
            is_off=off is not None and _is_off(definition, off),
            detail={"file": str(path), "definition": definition, "off_variant": off},
        )

    def _save_undo(
        self,
        path: Path,
        flag: str,
        environment: str,
        definition: dict[str, Any],
        comment: str | None,
    ) -> Path:
        """Durable before the flags file changes, so a crash mid-way never loses the way back."""
        undo_dir = self._undo_dir or path.with_name(path.name + ".undo")
        now = self._clock.now()
        record = {
            "flag": flag,
            "environment": environment,
            "file": str(path),
            "pointer": _pointer(flag),
            "saved_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "comment": comment,
            "definition": definition,
        }
        try:
            undo_dir.mkdir(parents=True, exist_ok=True)
            return _write_new_file(undo_dir, f"{_safe_name(flag)}-{now:%Y%m%dT%H%M%SZ}", record)
        except OSError as exc:
            raise ExecutorError(f"flagd: cannot write undo file in {undo_dir}: {exc}") from exc


# -- file handling ------------------------------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ExecutorError(f"flagd: flags file {path} not found") from None
    except OSError as exc:
        raise ExecutorError(f"flagd: cannot read flags file {path}: {exc}") from exc
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise ExecutorError(f"flagd: flags file {path} is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("flags"), dict):
        raise ExecutorError(f'flagd: flags file {path} has no "flags" object')
    return doc


def _flag_definition(doc: dict[str, Any], flag: str, path: Path) -> dict[str, Any]:
    definition = doc["flags"].get(flag)
    if not isinstance(definition, dict):
        raise ExecutorError(f"flagd: flag {flag} not found in {path}")
    return definition


def _locked(path: Path, timeout: float) -> AbstractContextManager[None]:
    """Exclusive lock on a sibling `<file>.lock`, held across read-modify-write.

    Not on the flags file itself: os.replace swaps in a new inode, so a second writer that
    opened the file after the swap would lock a different inode and both would proceed.
    """
    return file_lock("flagd", path.with_name(path.name + ".lock"), timeout)


def _atomic_write_json(path: Path, doc: dict[str, Any]) -> None:
    """Temp file in the same directory, fsync, os.replace, fsync the directory: readers see the
    old file or the new one, never half of one. Other flags and top-level keys ($schema,
    $evaluators, metadata) are carried through as loaded; only the formatting may change."""
    target = Path(os.path.realpath(path))  # a symlinked flags file stays a symlink
    try:
        old = target.stat()
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ExecutorError(f"flagd: cannot write flags file {path}: {exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp makes 0600; flagd or the app may run as another user and must still read it.
        os.chmod(tmp, stat.S_IMODE(old.st_mode))
        _ensure_newer_mtime(tmp, old)
        os.replace(tmp, target)
    except OSError as exc:
        with suppress(OSError):
            os.unlink(tmp)
        raise ExecutorError(f"flagd: cannot write flags file {path}: {exc}") from exc
    _fsync_dir(target.parent)


def _ensure_newer_mtime(tmp: str, old: os.stat_result) -> None:
    # Watchers that poll the mtime (the Python flagd provider's file resolver reloads only when
    # it is strictly greater) would never see a rewrite landing in the same coarse timestamp
    # tick as the previous write. A millisecond survives the float seconds they compare.
    current = os.stat(tmp)
    if current.st_mtime_ns <= old.st_mtime_ns:
        bumped = old.st_mtime_ns + _MTIME_BUMP_NS
        os.utime(tmp, ns=(current.st_atime_ns, bumped))


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; some filesystems refuse to fsync a directory.
    with suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _write_new_file(directory: Path, stem: str, record: dict[str, Any]) -> Path:
    """Create-exclusive, so two turn-offs in the same second never overwrite each other."""
    data = (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode()
    for n in range(1, 1000):
        candidate = directory / (f"{stem}.json" if n == 1 else f"{stem}-{n}.json")
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _fsync_dir(directory)
        return candidate
    raise OSError(f"no free undo file name for {stem}")


# -- flag definitions ---------------------------------------------------------------------


def _metadata_off_variant(definition: Mapping[str, Any]) -> str | None:
    metadata = definition.get("metadata") or {}
    value = metadata.get("off_variant") if isinstance(metadata, dict) else None
    return value if isinstance(value, str) and value else None


def _variant_name(value: Any) -> Any:
    # flagd accepts a boolean defaultVariant and maps it to the "true"/"false" variant.
    return str(value).lower() if isinstance(value, bool) else value


def _is_off(definition: Mapping[str, Any], off: str) -> bool:
    return (
        definition.get("state") == ENABLED
        and _variant_name(definition.get("defaultVariant")) == off
        and not definition.get("targeting")  # flagd treats {} and null as no targeting
    )


def _off_definition(definition: dict[str, Any], off: str) -> dict[str, Any]:
    new = copy.deepcopy(definition)
    new["state"] = ENABLED
    new["defaultVariant"] = off
    new.pop("targeting", None)
    return new


def _describe(path: Path, flag: str, definition: Mapping[str, Any], off: str) -> str:
    where = f"flagd: set {path}#{_pointer(flag)}"
    if _is_off(definition, off):
        return f"{where} defaultVariant={off} (already off; no change)"
    changes = [] if definition.get("state") == ENABLED else ["state=ENABLED"]
    changes.append(f"defaultVariant={off}")
    text = f"{where} {' '.join(changes)}"
    return f"{text}, remove targeting" if "targeting" in definition else text


def _pointer(flag: str) -> str:
    """RFC 6901 JSON pointer to the flag's definition."""
    return "/flags/" + flag.replace("~", "~0").replace("/", "~1")


def _safe_name(flag: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", flag) or "flag"
