"""Rolling a service back the GitOps way: commit the target version into the service's values
file in the desired-state repo and push, so Argo CD / Flux deploy it from Git like any change.
Owns the work clone, the in-place YAML edit and the push (with one rebase when the remote moved)."""

from __future__ import annotations

import json
import os
import re
import string
import subprocess
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.nodes import Node, ScalarNode
from ruamel.yaml.resolver import VersionedResolver

from bot.executors.common import ExecutorError, file_lock, one_line
from bot.executors.rollback import DeploymentState, RollbackResult, check_version, redact_url

AUTHOR_NAME = "Steward"
AUTHOR_EMAIL = "steward@localhost"
PROVIDER = "gitops"
_TEMPLATE_FIELDS = {"service", "environment"}
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_CREDENTIALS = re.compile(r"://[^/@\s]+@")
# Porcelain push lines for a ref the remote refused because it moved on since our fetch.
_REMOTE_MOVED = re.compile(r"^!\t\S+\t\[rejected\] \((fetch first|non-fast-forward|stale info)\)", re.M)
_PUSH_REFUSED = re.compile(r"^!\t\S+\t(.*)$", re.M)


class GitOpsExecutor:
    """One desired-state repo; the values file and key come from services.yml's `rollback:`.

    `workdir` is this executor's own clone (created on first use, reset to the remote's head on
    every call, so leftovers of a failed attempt never reach a commit). Executors sharing a repo
    may share a workdir: a lock file next to it serialises them.
    """

    provider = PROVIDER

    def __init__(
        self,
        *,
        repo: str,
        file: str,
        key: str,
        workdir: str | Path,
        branch: str | None = None,
        timeout: float = 60.0,
        lock_timeout: float = 120.0,
    ) -> None:
        """`file`: path in the repo, may use {service} and {environment}. `key`: dotted path to
        the version in that YAML file. `branch`: default = the remote's HEAD branch."""
        _check_template(file)
        self._key_path = key.split(".")
        if not all(self._key_path):
            raise ValueError(f"gitops: key {key!r} is not a dotted path like image.tag")
        self._repo = repo
        self._file_template = file
        self._key = key
        self._workdir = Path(workdir)
        self._branch = branch
        self._timeout = timeout
        self._lock_timeout = lock_timeout

    # -- the interface -------------------------------------------------------------------

    def read(self, service: str, environment: str) -> DeploymentState:
        """The version at the remote's head, not the work tree: that is what gets deployed."""
        path = self.file_for(service, environment)
        with self._locked():
            branch = self._fetch()
            head = self._rev(f"origin/{branch}")
            docs = self._load(f"origin/{branch}", path, branch)
            value = _find(docs, self._key_path, self._key, path).value
        return DeploymentState(
            service=service,
            environment=environment,
            provider=self.provider,
            version=value,
            detail=self._detail(branch, path, commit=head),
        )

    def describe_call(self, service: str, environment: str, target_version: str) -> str:
        check_version(self.provider, target_version)
        path = self.file_for(service, environment)
        branch = self._branch or "the default branch"
        return (
            f"gitops: set {self._key}: {json.dumps(target_version)} in {path}, commit as "
            f"{AUTHOR_NAME} <{AUTHOR_EMAIL}> and push to {branch} of {redact_url(self._repo)}"
        )

    def roll_back(self, service: str, environment: str, target_version: str, *, message: str) -> RollbackResult:
        check_version(self.provider, target_version)
        if not message.strip():
            raise ExecutorError("gitops: empty commit message")
        path = self.file_for(service, environment)
        call = self.describe_call(service, environment, target_version)
        with self._locked():
            branch = self._fetch()
            self._checkout(branch)
            base = self._rev(f"origin/{branch}")
            text = self._worktree_text(path, branch)
            previous = _find(_parse(text, path), self._key_path, self._key, path).value
            if previous == target_version:
                # Already desired: no empty commit, nothing pushed.
                outcome = _Pushed(commit=base, changed=False, rebased=False)
            else:
                new_text = set_scalar(text, self._key_path, target_version, key=self._key, file=path)
                subject = f"Roll back {service} in {environment} to {target_version}"
                self._commit(path, new_text, f"{subject}\n\n{message.rstrip()}\n")
                outcome = self._push(branch, path, target_version)
        return RollbackResult(
            service=service,
            environment=environment,
            provider=self.provider,
            call=call,
            target_version=target_version,
            previous_version=previous,
            state="done",
            detail=self._detail(branch, path, commit=outcome.commit)
            | {"changed": outcome.changed, "rebased": outcome.rebased},
        )

    # -- helpers -------------------------------------------------------------------------

    def file_for(self, service: str, environment: str) -> str:
        """The values file for that service and environment, refused if it could leave the repo."""
        for name, value in (("service", service), ("environment", environment)):
            if not _SEGMENT.fullmatch(value):
                raise ExecutorError(f"gitops: {name} {one_line(repr(value))} is not a plain name")
        path = self._file_template.format(service=service, environment=environment)
        parts = PurePosixPath(path).parts
        if not parts or PurePosixPath(path).is_absolute() or ".." in parts:
            raise ExecutorError(f"gitops: file {path!r} is not a path inside the repo")
        return path

    def _detail(self, branch: str, path: str, *, commit: str) -> dict[str, Any]:
        return {
            "repo": redact_url(self._repo),
            "branch": branch,
            "file": path,
            "key": self._key,
            "commit": commit,
        }

    def _fetch(self) -> str:
        """Clone on first use, then fetch the branch; returns the branch name."""
        if not (self._workdir / ".git").exists():
            if self._workdir.exists() and any(self._workdir.iterdir()):
                raise ExecutorError(f"gitops: work dir {self._workdir} exists and is not a git clone")
            self._workdir.parent.mkdir(parents=True, exist_ok=True)
            self._git(
                "clone",
                "--no-checkout",
                "--",
                self._repo,
                str(self._workdir),
                cwd=self._workdir.parent,
            )
        else:
            origin = self._git("remote", "get-url", "origin").stdout.strip()
            if origin != self._repo:
                # Never push an approved change to a repo other than the configured one.
                raise ExecutorError(
                    f"gitops: work dir {self._workdir} is a clone of {redact_url(origin)}, not {redact_url(self._repo)}"
                )
        branch = self._branch or self._default_branch()
        fetched = self._git(
            "fetch",
            "--prune",
            "--no-tags",
            "origin",
            f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
            check=False,
        )
        if fetched.returncode != 0:
            raise ExecutorError(
                f"gitops: cannot fetch branch {branch} of {redact_url(self._repo)}: {_git_reason(fetched)}"
            )
        return branch

    def _default_branch(self) -> str:
        listed = self._git("ls-remote", "--symref", "origin", "HEAD").stdout
        match = re.search(r"^ref: refs/heads/(\S+)\tHEAD$", listed, re.M)
        if not match:
            raise ExecutorError(
                f"gitops: cannot tell the default branch of {redact_url(self._repo)}; configure `branch`"
            )
        return match.group(1)

    def _checkout(self, branch: str) -> None:
        self._git("checkout", "--force", "-B", branch, f"origin/{branch}")
        self._git("clean", "-ffdx")

    def _rev(self, ref: str) -> str:
        return self._git("rev-parse", "--verify", f"{ref}^{{commit}}").stdout.strip()

    def _load(self, rev: str, path: str, branch: str) -> list[Any]:
        text = self._show(rev, path)
        if text is None:
            raise ExecutorError(f"gitops: {path} not found on {branch} of {redact_url(self._repo)}")
        return _parse(text, path)

    def _show(self, rev: str, path: str) -> str | None:
        shown = self._run("show", f"{rev}:{path}")
        if shown.returncode != 0:
            return None
        return _decode(shown.stdout, path)

    def _worktree_text(self, path: str, branch: str) -> str:
        try:
            data = (self._workdir / path).read_bytes()
        except FileNotFoundError:
            raise ExecutorError(f"gitops: {path} not found on {branch} of {redact_url(self._repo)}") from None
        except OSError as exc:
            raise ExecutorError(f"gitops: cannot read {path}: {exc}") from exc
        return _decode(data, path)

    def _commit(self, path: str, text: str, message: str) -> None:
        try:
            (self._workdir / path).write_bytes(text.encode("utf-8"))
        except OSError as exc:
            raise ExecutorError(f"gitops: cannot write {path}: {exc}") from exc
        self._git("add", "--", path)
        # verbatim: the caller's message (incident, approver, evidence hash) is audit record.
        self._git("commit", "--quiet", "--cleanup=verbatim", "-F", "-", input=message)

    def _push(self, branch: str, path: str, target: str) -> _Pushed:
        self._verify_head(branch, path, target)
        refused = self._try_push(branch)
        if refused is None:
            return _Pushed(commit=self._rev("HEAD"), changed=True, rebased=False)
        # The remote moved between our fetch and our push: replay our one commit on it, once.
        self._fetch()
        rebased = self._git("rebase", f"origin/{branch}", check=False)
        if rebased.returncode != 0:
            self._git("rebase", "--abort", check=False)
            raise ExecutorError(
                f"gitops: {branch} of {redact_url(self._repo)} moved and our change to {path} "
                f"does not rebase onto it: {_git_reason(rebased)}"
            )
        if self._rev("HEAD") == self._rev(f"origin/{branch}"):
            # Our commit became empty: whoever pushed first set the same version.
            return _Pushed(commit=self._rev("HEAD"), changed=False, rebased=True)
        self._verify_head(branch, path, target)
        refused = self._try_push(branch)
        if refused is not None:
            raise ExecutorError(
                f"gitops: push to {branch} of {redact_url(self._repo)} refused again after one rebase: {refused}"
            )
        return _Pushed(commit=self._rev("HEAD"), changed=True, rebased=True)

    def _try_push(self, branch: str) -> str | None:
        """None when pushed; the reason when the remote moved; ExecutorError for anything else
        (a hook or branch protection refusing us is not ours to work around)."""
        pushed = self._git("push", "--porcelain", "origin", f"HEAD:refs/heads/{branch}", check=False)
        if pushed.returncode == 0:
            return None
        moved = _REMOTE_MOVED.search(pushed.stdout)
        if moved:
            return moved.group(1)
        refused = _PUSH_REFUSED.search(pushed.stdout)
        reason = one_line(refused.group(1)) if refused else _git_reason(pushed)
        raise ExecutorError(f"gitops: push to {branch} of {redact_url(self._repo)} refused: {reason}")

    def _verify_head(self, branch: str, path: str, target: str) -> None:
        """What we push is one commit on the remote's head that changes only the key."""
        upstream = f"origin/{branch}"
        ahead = self._git("rev-list", "--count", f"{upstream}..HEAD").stdout.strip()
        changed = self._git("diff", "--name-only", upstream, "HEAD", "--").stdout.split("\n")
        if ahead != "1" or [name for name in changed if name] != [path]:
            raise ExecutorError(f"gitops: refusing to push: expected one commit changing only {path} on {upstream}")
        before = self._load(upstream, path, branch)
        after = self._load("HEAD", path, branch)
        found = _find(before, self._key_path, self._key, path)
        if after != _assigned(before, found.document, self._key_path, target):
            raise ExecutorError(f"gitops: refusing to push: the commit changes more of {path} than {self._key}")

    def _locked(self) -> AbstractContextManager[None]:
        """flock on a sibling lock file: one git operation per work clone at a time, across
        threads and processes; a wedged holder fails the call after lock_timeout."""
        lock_path = self._workdir.with_name(f".{self._workdir.name}.lock")
        return file_lock(self.provider, lock_path, self._lock_timeout, create_dir=True)

    def _git(
        self, *args: str, cwd: Path | None = None, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """git's output as text; a failure is an ExecutorError unless `check` is off."""
        ran = self._run(*args, cwd=cwd, input=input)
        done = subprocess.CompletedProcess(
            ran.args,
            ran.returncode,
            ran.stdout.decode("utf-8", "replace"),
            ran.stderr.decode("utf-8", "replace"),
        )
        if check and done.returncode != 0:
            raise ExecutorError(f"gitops: git {args[0]} failed: {_git_reason(done)}")
        return done

    def _run(self, *args: str, cwd: Path | None = None, input: str | None = None) -> subprocess.CompletedProcess[bytes]:
        """git's output as bytes (a file's content is decoded by its reader, not here)."""
        try:
            return subprocess.run(
                ["git", *args],
                cwd=cwd or self._workdir,
                input=input.encode("utf-8") if input is not None else None,
                capture_output=True,
                check=False,  # the caller reads the status
                timeout=self._timeout,
                env=_git_env(),
            )
        except subprocess.TimeoutExpired:
            raise ExecutorError(f"gitops: git {args[0]} timed out after {self._timeout:g}s") from None
        except OSError as exc:
            raise ExecutorError(f"gitops: cannot run git: {exc}") from exc


@dataclass(frozen=True)
class _Pushed:
    commit: str
    changed: bool
    rebased: bool


def _git_env() -> dict[str, str]:
    """The user's environment, with Steward as author and nothing that could wait for a human."""
    config = {
        "commit.gpgsign": "false",  # Steward has no signing key; a prompt would hang the call
        "core.autocrlf": "false",  # bytes in the repo are the bytes we edited
        "rebase.autoStash": "false",
    }
    env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_EDITOR": "true",
        "GIT_AUTHOR_NAME": AUTHOR_NAME,
        "GIT_AUTHOR_EMAIL": AUTHOR_EMAIL,
        "GIT_COMMITTER_NAME": AUTHOR_NAME,
        "GIT_COMMITTER_EMAIL": AUTHOR_EMAIL,
        "LC_ALL": "C",
        "GIT_CONFIG_COUNT": str(len(config)),
    }
    for n, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{n}"] = key
        env[f"GIT_CONFIG_VALUE_{n}"] = value
    return env


def _git_reason(done: subprocess.CompletedProcess[str]) -> str:
    text = done.stderr or done.stdout
    return _CREDENTIALS.sub("://***@", one_line(text)) or f"exit status {done.returncode}"


def _check_template(template: str) -> None:
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"gitops: file template {template!r}: {exc}") from None
    unknown = fields - _TEMPLATE_FIELDS
    if unknown:
        raise ValueError(
            f"gitops: file template {template!r} uses {sorted(unknown)}; only {{service}} and {{environment}} are known"
        )


# -- YAML ---------------------------------------------------------------------------------

_STR = "tag:yaml.org,2002:str"
# Never an indicator inside a plain scalar, in block or flow context; a final ":" would start a map.
_PLAIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+/@:-]*(?<!:)")
# Deploy tools read values files as YAML 1.1 (yes, 1:20) or 1.2: a plain version must be a string
# to both.
_RESOLVERS = (VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))


def _yaml() -> YAML:
    # Pure Python, so the data and the marks come from one parser. Duplicate keys load (the last
    # wins, as with PyYAML for Steward's own config); only the editor refuses to pick one.
    loader = YAML(typ="safe", pure=True)
    loader.allow_duplicate_keys = True
    return loader


@dataclass(frozen=True)
class _Found:
    document: int  # which document of the file holds the key
    value: str | None


def _decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ExecutorError(f"gitops: {path} is not UTF-8 text") from None


def _parse(text: str, path: str) -> list[Any]:
    """Every document of the file, as plain data."""
    try:
        return list(_yaml().load_all(text))
    except YAMLError as exc:
        raise ExecutorError(f"gitops: {path} is not valid YAML: {one_line(str(exc))}") from None


def _find(docs: list[Any], key_path: list[str], key: str, path: str) -> _Found:
    """The one document that has `key_path`, and the version there."""
    found: list[tuple[int, Any]] = []
    for number, doc in enumerate(docs):
        node = doc
        for part in key_path:
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            found.append((number, node))
    if not found:
        raise ExecutorError(f"gitops: key {key} not found in {path}")
    if len(found) > 1:
        raise ExecutorError(f"gitops: key {key} is in {len(found)} documents of {path}; refusing to pick one")
    number, value = found[0]
    if isinstance(value, (dict, list)):
        raise ExecutorError(f"gitops: key {key} in {path} is a {type(value).__name__}, not a version")
    return _Found(number, None if value is None else str(value))


def _assigned(docs: list[Any], document: int, key_path: list[str], value: str) -> list[Any]:
    """`docs` with only that key set. Copies along the path, not deep copies: a deep copy keeps an
    alias's sharing, so an edit through an alias would look like a one-key change."""
    new = list(docs)
    node = new[document] = dict(docs[document])
    for part in key_path[:-1]:
        node[part] = dict(node[part])
        node = node[part]
    node[key_path[-1]] = value
    return new


def set_scalar(text: str, key_path: list[str], value: str, *, key: str, file: str) -> str:
    """`text` with the scalar at `key_path` replaced by `value` and every other byte kept
    (comments, order, anchors, quoting, other documents, line endings): the parser's marks say
    where the old value starts and ends, and the new one goes there in the old one's quoting.
    Refused, naming the file and key, when the key is missing, not a scalar, ambiguous (two
    documents, written twice), shared (an anchor, alias or merge), or when the edited text
    would read back as more than that one change."""
    docs = _parse(text, file)
    found = _find(docs, key_path, key, file)
    # compose_all yields one node per document, in the order load_all yields their data.
    node = _value_node(list(_yaml().compose_all(text))[found.document], key_path, file)
    start, end = node.start_mark.index, node.end_mark.index
    if node.style is None and node.value == "":
        # Nothing written, so no marks to replace between.
        raise ExecutorError(f"gitops: key {key} in {file} has no value written; refusing to edit it")
    if node.style not in (None, "'", '"') or text.startswith(("&", "*", "!"), start):
        raise ExecutorError(
            f"gitops: key {key} in {file} is not a plain scalar (anchor, alias, tag or block "
            "style); refusing to edit it"
        )
    new_text = text[:start] + _render(value, node.style) + text[end:]
    if _parse(new_text, file) != _assigned(docs, found.document, key_path, value):
        raise ExecutorError(f"gitops: editing {key} in {file} would change more than that key; refusing to edit it")
    return new_text


def _value_node(root: Node, key_path: list[str], file: str) -> ScalarNode:
    """The node written for `key_path` in `root`, whose data has that path to a scalar."""
    node = root
    for depth, part in enumerate(key_path, 1):
        where = ".".join(key_path[:depth])
        pairs: list[tuple[Node, Node]] = node.value
        own = [value for name, value in pairs if name.tag == _STR and name.value == part]
        if not own:
            raise ExecutorError(
                f"gitops: key {where} in {file} is inherited through a merge key (<<), not "
                "written as a `key: value` line; refusing to edit it"
            )
        if len(own) > 1:
            raise ExecutorError(f"gitops: key {where} in {file} is written {len(own)} times; refusing to edit it")
        node = own[0]
    if not isinstance(node, ScalarNode):
        raise ExecutorError(f"gitops: key {'.'.join(key_path)} in {file} is not a scalar")
    return node


def _render(value: str, style: str | None) -> str:
    """`value` in the quoting the old value had; double quotes where plain would not read back."""
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style is None and _plain_reads_back(value):
        return value
    # JSON strings are valid YAML double-quoted scalars.
    return json.dumps(value, ensure_ascii=False)


def _plain_reads_back(value: str) -> bool:
    """Plain only when every reader reads it back as this very string ("1.10" would be 1.1)."""
    return bool(_PLAIN.fullmatch(value)) and all(
        resolver.resolve(ScalarNode, value, (True, False)) == _STR for resolver in _RESOLVERS
    )
