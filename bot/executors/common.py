"""What every executor shares, flag or rollback: the error every failed call becomes, the scope
every read-back and result names, and the lock file that serialises the file-backed ones."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

_EXCERPT_CHARS = 200
_LOCK_POLL_SECONDS = 0.005


class ExecutorError(Exception):
    """A failed call; the message says why in one line, fit for the channel and the audit log."""


class Scope(BaseModel):
    """Where a read-back looked or a change acted: every state and result an executor returns
    names the environment and the provider (and its flag or service)."""

    environment: str
    provider: str


def one_line(text: str, limit: int = _EXCERPT_CHARS) -> str:
    """Collapse whitespace so a response body can sit inside a one-line error."""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def http_call(
    client: httpx.Client,
    provider: str,
    method: str,
    url: str,
    *,
    headers: dict[str, str],
    timeout: float,
    body: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    """One HTTP call with an optional JSON body, whatever status comes back; transport failures
    (a timeout, a refused or reset connection) become an ExecutorError naming the call.
    `timeout` is the client's, for the message."""
    content = json.dumps(body).encode() if body is not None else None
    what = f"{provider}: {method} {url}"
    try:
        return client.request(method, url, headers=headers, content=content, params=params)
    except httpx.TimeoutException as exc:
        raise ExecutorError(f"{what} timed out after {timeout:g}s ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise ExecutorError(f"{what} failed: {type(exc).__name__}: {one_line(str(exc))}") from exc


@contextmanager
def file_lock(provider: str, lock_path: Path, timeout: float, *, create_dir: bool = False) -> Iterator[None]:
    """Exclusive flock on `lock_path`, held for the `with` block; a wedged holder fails the call
    after `timeout` instead of hanging it. flock (not fcntl.lockf) so that two threads of one
    process exclude each other too. The lock file is never deleted: a writer that opened a new
    one after a delete would lock a different inode. `create_dir`: make its folder first."""
    try:
        if create_dir:
            lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ExecutorError(f"{provider}: cannot open lock file {lock_path}: {exc}") from exc
    try:
        _acquire(provider, fd, lock_path, timeout)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _acquire(provider: str, fd: int, lock_path: Path, timeout: float) -> None:
    # Non-blocking attempts under a deadline.
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise ExecutorError(f"{provider}: cannot lock {lock_path}: {exc}") from exc
        if time.monotonic() >= deadline:
            raise ExecutorError(f"{provider}: {lock_path} still locked after {timeout:g}s")
        time.sleep(_LOCK_POLL_SECONDS)
