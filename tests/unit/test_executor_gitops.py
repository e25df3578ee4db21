"""The GitOps rollback executor against real git repositories: a bare remote (the desired-state
repo), a developer's clone that seeds it and pushes concurrently, and Steward's own work clone."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.executors import (
    ROLLBACK_PROVIDERS,
    ExecutorError,
    GitOpsExecutor,
    RollbackExecutor,
    make_rollback_executor,
)
from bot.executors.gitops import set_scalar

SERVICE = "payment-api"
FILE = "apps/payment-api/{environment}/values.yaml"
PROD = "apps/payment-api/production/values.yaml"
STAGING = "apps/payment-api/staging/values.yaml"
MESSAGE = (
    "Rollback approved in inc-20261125-01-checkout-errors by <@U0APPROVER>\n"
    "evidence 3f9a1c2b7d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4\n"
    "# not a comment: kept verbatim"
)
VALUES = """\
# payment-api, production. CI writes image.tag; humans write the rest.
replicaCount: 6
image:
  repository: ghcr.io/acme/payment-api   # the registry
  # the tag the deploy pipeline bumps
  tag: "v1.4.2"   # keep quoted
  pullPolicy: IfNotPresent
sidecar:
  image:
    tag: v0.9.0
resources:
  limits: {cpu: "2", memory: 1Gi}
"""
STAGING_VALUES = VALUES.replace("v1.4.2", "v1.5.0-rc1").replace("production", "staging")
DEV_ENV = {
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.com",
    "GIT_COMMITTER_NAME": "Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.com",
}


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **DEV_ENV, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


class Remote:
    """The bare desired-state repo and a developer clone of it, side by side under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bare = root / "deploy.git"
        self.dev = root / "dev"

    @classmethod
    def create(cls, root: Path) -> Remote:
        remote = cls(root)
        root.mkdir(parents=True, exist_ok=True)
        git(root, "init", "--quiet", "--bare", "-b", "main", str(remote.bare))
        git(root, "clone", "--quiet", str(remote.bare), str(remote.dev))
        # Relative, so a copy of the pair is a working pair.
        git(remote.dev, "remote", "set-url", "origin", "../deploy.git")
        return remote

    def copy_to(self, root: Path) -> Remote:
        shutil.copytree(self.root, root, symlinks=True)
        return Remote(root)

    def commit(self, files: dict[str, str], message: str = "dev change") -> str:
        for path, text in files.items():
            (self.dev / path).parent.mkdir(parents=True, exist_ok=True)
            (self.dev / path).write_text(text)
        git(self.dev, "add", "--all")
        git(self.dev, "commit", "--quiet", "-m", message)
        git(self.dev, "push", "--quiet", "origin", "HEAD:main")
        return self.head()

    def head(self) -> str:
        return git(self.bare, "rev-parse", "main").strip()

    def show(self, path: str, rev: str = "main") -> str:
        return git(self.bare, "show", f"{rev}:{path}")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Remote:
    """Seeded once; each test works on its own copy (git processes are the slow part)."""
    remote = Remote.create(tmp_path_factory.mktemp("seeded") / "remote")
    remote.commit({PROD: VALUES, STAGING: STAGING_VALUES, "README.md": "deploy repo\n"}, "seed")
    return remote


@pytest.fixture
def remote(seeded: Remote, tmp_path: Path) -> Remote:
    return seeded.copy_to(tmp_path / "remote")


@pytest.fixture
def executor(remote: Remote, tmp_path: Path) -> GitOpsExecutor:
    return GitOpsExecutor(repo=str(remote.bare), file=FILE, key="image.tag", workdir=tmp_path / "work" / "deploy")


def on_first_push(executor: GitOpsExecutor, before: Callable[[], Any]) -> None:
    """Run `before` (another writer's push) just before the executor's first push."""
    original = executor._git
    fired = []

    def wrapped(*args: str, **kwargs: Any) -> Any:
        if args[0] == "push" and not fired:
            fired.append(True)
            before()
        return original(*args, **kwargs)

    executor._git = wrapped  # type: ignore[method-assign]


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.split("\n"), after.split("\n")
    assert len(old) == len(new)
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


# -- the rollback -------------------------------------------------------------------------


def test_roll_back_commits_the_one_line_and_pushes(executor: GitOpsExecutor, remote: Remote) -> None:
    seed = remote.head()

    result = executor.roll_back(SERVICE, "production", "v1.4.1", message=MESSAGE)

    head = remote.head()
    assert git(remote.bare, "rev-parse", "main~1").strip() == seed
    assert git(remote.bare, "log", "-1", "--format=%an <%ae>|%cn <%ce>", "main").strip() == (
        "Steward <steward@localhost>|Steward <steward@localhost>"
    )
    body = git(remote.bare, "log", "-1", "--format=%B", "main")
    assert body.startswith("Roll back payment-api in production to v1.4.1\n\n")
    assert MESSAGE in body  # verbatim, the '#' line included
    assert git(remote.bare, "diff", "--name-only", "main~1", "main").split() == [PROD]
    after = remote.show(PROD)
    assert changed_lines(VALUES, after) == [('  tag: "v1.4.2"   # keep quoted', '  tag: "v1.4.1"   # keep quoted')]
    assert remote.show(STAGING) == STAGING_VALUES
    assert result.model_dump() == {
        "service": SERVICE,
        "environment": "production",
        "provider": "gitops",
        "call": executor.describe_call(SERVICE, "production", "v1.4.1"),
        "target_version": "v1.4.1",
        "previous_version": "v1.4.2",
        "state": "done",
        "detail": {
            "repo": str(remote.bare),
            "branch": "main",
            "file": PROD,
            "key": "image.tag",
            "commit": head,
            "changed": True,
            "rebased": False,
        },
    }
    state = executor.read(SERVICE, "production")
    assert (state.version, state.detail["commit"], state.provider) == ("v1.4.1", head, "gitops")


def test_read_is_the_remote_head_not_the_work_tree(executor: GitOpsExecutor, remote: Remote, tmp_path: Path) -> None:
    assert executor.read(SERVICE, "staging").version == "v1.5.0-rc1"
    assert executor.read(SERVICE, "production").version == "v1.4.2"
    remote.commit({PROD: VALUES.replace("v1.4.2", "v1.6.0")}, "deploy v1.6.0")
    work_file = tmp_path / "work" / "deploy" / PROD
    work_file.parent.mkdir(parents=True, exist_ok=True)
    work_file.write_text(VALUES.replace("v1.4.2", "v0.0.1-local"))

    state = executor.read(SERVICE, "production")

    assert state.version == "v1.6.0"
    assert state.detail["commit"] == remote.head()


def test_remote_moved_before_our_push_rebases_once(executor: GitOpsExecutor, remote: Remote) -> None:
    concurrent: list[str] = []
    on_first_push(
        executor,
        lambda: concurrent.append(
            remote.commit({PROD: VALUES.replace("replicaCount: 6", "replicaCount: 8")}, "scale up")
        ),
    )

    result = executor.roll_back(SERVICE, "production", "v1.4.1", message=MESSAGE)

    assert result.detail["rebased"] is True and result.detail["changed"] is True
    assert git(remote.bare, "rev-parse", "main~1").strip() == concurrent[0]
    assert result.detail["commit"] == remote.head()
    assert MESSAGE in git(remote.bare, "log", "-1", "--format=%B", "main")
    after = remote.show(PROD)
    assert "replicaCount: 8\n" in after and '  tag: "v1.4.1"   # keep quoted\n' in after
    assert executor.read(SERVICE, "production").version == "v1.4.1"


def test_concurrent_edit_of_the_same_line_fails_and_pushes_nothing(
    executor: GitOpsExecutor, remote: Remote, tmp_path: Path
) -> None:
    on_first_push(executor, lambda: remote.commit({PROD: VALUES.replace("v1.4.2", "v1.7.0")}, "deploy v1.7.0"))
    theirs: list[str] = []

    with pytest.raises(ExecutorError) as caught:
        executor.roll_back(SERVICE, "production", "v1.4.1", message=MESSAGE)

    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("gitops: main of ") and "does not rebase onto it" in message
    theirs.append(remote.head())
    assert git(remote.bare, "log", "-1", "--format=%s", "main").strip() == "deploy v1.7.0"
    work = tmp_path / "work" / "deploy"
    assert not (work / ".git" / "rebase-merge").exists() and not (work / ".git" / "rebase-apply").exists()
    # The work clone recovers: the next attempt starts from the remote's head.
    executor.roll_back(SERVICE, "production", "v1.4.1", message=MESSAGE)
    assert git(remote.bare, "rev-parse", "main~1").strip() == theirs[0]


def test_concurrent_push_of_the_same_version_is_not_a_second_commit(executor: GitOpsExecutor, remote: Remote) -> None:
    on_first_push(executor, lambda: remote.commit({PROD: VALUES.replace("v1.4.2", "v1.4.1")}, "someone else"))

    result = executor.roll_back(SERVICE, "production", "v1.4.1", message=MESSAGE)

    assert (result.detail["changed"], result.detail["rebased"]) == (False, True)
    assert git(remote.bare, "log", "-1", "--format=%s", "main").strip() == "someone else"
    assert result.detail["commit"] == remote.head()


def test_already_at_target_is_a_no_op(executor: GitOpsExecutor, remote: Remote) -> None:
    seed = remote.head()

    result = executor.roll_back(SERVICE, "production", "v1.4.2", message=MESSAGE)

    assert remote.head() == seed
    assert (result.state, result.previous_version, result.detail["changed"]) == ("done", "v1.4.2", False)
    assert result.detail["commit"] == seed


def test_missing_file_and_missing_key_are_named(executor: GitOpsExecutor, remote: Remote, tmp_path: Path) -> None:
    seed = remote.head()
    with pytest.raises(ExecutorError, match=r"^gitops: apps/payment-api/qa/values.yaml not found on main of "):
        executor.roll_back(SERVICE, "qa", "v1.4.1", message=MESSAGE)
    with pytest.raises(ExecutorError, match=r"apps/payment-api/qa/values.yaml not found"):
        executor.read(SERVICE, "qa")
    digest = GitOpsExecutor(repo=str(remote.bare), file=FILE, key="image.digest", workdir=tmp_path / "work" / "deploy")
    with pytest.raises(ExecutorError, match=rf"^gitops: key image.digest not found in {PROD}$"):
        digest.roll_back(SERVICE, "production", "v1.4.1", message=MESSAGE)
    with pytest.raises(ExecutorError, match=r"key image.digest not found"):
        digest.read(SERVICE, "production")
    mapping = GitOpsExecutor(repo=str(remote.bare), file=FILE, key="image", workdir=tmp_path / "work" / "deploy")
    with pytest.raises(ExecutorError, match=r"key image in .* is a dict, not a version"):
        mapping.roll_back(SERVICE, "production", "v1.4.1", message=MESSAGE)
    assert remote.head() == seed


def test_flow_style_and_a_second_document_are_edited_in_place(executor: GitOpsExecutor, remote: Remote) -> None:
    values = (
        "# rendered by hand\n---\nkind: Defaults\nreplicaCount: 2\n"
        "---\nimage: { tag: v1.4.2 ,  repository: ghcr.io/acme/payment-api }  # flow\n"
    )
    remote.commit({PROD: values}, "flow style, two documents")

    result = executor.roll_back(SERVICE, "production", "v1.4.1", message=MESSAGE)

    assert remote.show(PROD) == values.replace("v1.4.2", "v1.4.1")
    assert (result.previous_version, result.detail["changed"]) == ("v1.4.2", True)
    assert executor.read(SERVICE, "production").version == "v1.4.1"


@pytest.mark.parametrize(
    ("values", "why"),
    [
        ("image: [ghcr.io/acme/payment-api, v1.4.2]\n", f"key image.tag not found in {PROD}$"),
        ("image:\n  tag: [v1.4.2]\n", f"key image.tag in {PROD} is a list, not a version$"),
        ("image:\n  tag: v1.4.2\n---\nimage:\n  tag: v1.4.2\n", f"key image.tag is in 2 documents of {PROD}"),
        ("image:\n  tag: |\n    v1.4.2\n", f"key image.tag in {PROD} is not a plain scalar"),
        ("image:\n  tag: v1.4.2\n  tag: v1.4.3\n", f"key image.tag in {PROD} is written 2 times"),
    ],
)
def test_wrong_shape_or_ambiguous_key_is_refused_and_nothing_pushed(
    executor: GitOpsExecutor, remote: Remote, values: str, why: str
) -> None:
    seed = remote.commit({PROD: values}, "odd values file")

    with pytest.raises(ExecutorError, match=f"^gitops: {why}") as caught:
        executor.roll_back(SERVICE, "production", "v1.4.1", message=MESSAGE)

    assert "\n" not in str(caught.value)
    assert remote.head() == seed


def test_push_refused_by_the_remote_is_an_error_not_a_retry(executor: GitOpsExecutor, remote: Remote) -> None:
    hook = remote.bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'main is protected' >&2\nexit 1\n")
    hook.chmod(0o755)
    seed = remote.head()

    with pytest.raises(ExecutorError) as caught:
        executor.roll_back(SERVICE, "production", "v1.4.1", message=MESSAGE)

    assert str(caught.value).startswith("gitops: push to main of ")
    assert "pre-receive hook declined" in str(caught.value) and "\n" not in str(caught.value)
    assert remote.head() == seed


def test_refuses_unsafe_names_versions_and_messages(executor: GitOpsExecutor, remote: Remote) -> None:
    with pytest.raises(ExecutorError, match=r"environment '../../etc' is not a plain name"):
        executor.roll_back(SERVICE, "../../etc", "v1", message=MESSAGE)
    with pytest.raises(ExecutorError, match="not a plain one-line version"):
        executor.roll_back(SERVICE, "production", "v1\nimage: evil", message=MESSAGE)
    with pytest.raises(ExecutorError, match="empty commit message"):
        executor.roll_back(SERVICE, "production", "v1.4.1", message="  ")
    with pytest.raises(ValueError, match=r"\['team'\]"):
        GitOpsExecutor(repo="r", file="apps/{team}/values.yaml", key="image.tag", workdir="w")


def test_work_dir_of_another_repo_is_refused(remote: Remote, tmp_path: Path) -> None:
    other = Remote.create(tmp_path / "other")
    other.commit({PROD: VALUES}, "seed")
    workdir = tmp_path / "work" / "deploy"
    GitOpsExecutor(repo=str(other.bare), file=FILE, key="image.tag", workdir=workdir).read(SERVICE, "production")

    with pytest.raises(ExecutorError, match=r"is a clone of .*other/deploy.git, not .*remote/deploy.git"):
        GitOpsExecutor(repo=str(remote.bare), file=FILE, key="image.tag", workdir=workdir).read(SERVICE, "production")


def test_describe_call_registry_and_redaction(remote: Remote, tmp_path: Path) -> None:
    executor = make_rollback_executor(
        "gitops",
        repo="https://steward:s3cret-token@git.example.com/acme/deploy.git",
        file=FILE,
        key="image.tag",
        workdir=tmp_path / "w",
        branch="main",
    )
    assert ROLLBACK_PROVIDERS["gitops"] is GitOpsExecutor
    assert isinstance(executor, RollbackExecutor)
    call = executor.describe_call(SERVICE, "production", "v1.4.1")
    assert call == (
        f'gitops: set image.tag: "v1.4.1" in {PROD}, commit as Steward <steward@localhost> and '
        "push to main of https://***@git.example.com/acme/deploy.git"
    )
    with pytest.raises(ValueError, match="unknown rollback provider 'spinnaker'"):
        make_rollback_executor("spinnaker")


# -- the in-place edit ---------------------------------------------------------------------

COMMENTED = """\
# Production values. Do not reorder: CI diffs this file.
zone: eu-west-1   # first, on purpose
image:
    tag:    "v1"      # the deploy pipeline bumps this
    # repository after tag, and indented by four
    repository: ghcr.io/acme/app
replicas: 3 # trailing
"""
ANCHORED = """\
defaults: &defaults
  pullPolicy: IfNotPresent
  tag: v0
image:
  <<: *defaults
  tag: v1
sidecar: *defaults
labels: {app: &name payment, team: *name}
"""
DOCUMENTS = """\
%YAML 1.2
---
# first document: no image here
kind: Service
...
---
image:
  tag: 'v1'
---
kind: Ingress   # third
"""


@pytest.mark.parametrize(
    ("before", "target", "after"),
    [
        ("image:\n  tag: v1   # c\n", "v0.9", "image:\n  tag: v0.9   # c\n"),
        ("image:\n  tag: 'v1'\n", "it's", "image:\n  tag: 'it''s'\n"),
        ("image:\n  tag: 1.9\n", "1.10", 'image:\n  tag: "1.10"\n'),  # plain 1.10 reads as 1.1
        ("image:\r\n  tag: v1\r\nx: 1\r\n", "v0", "image:\r\n  tag: v0\r\nx: 1\r\n"),
        ("list:\n- image:\n    tag: a\nimage:\n  tag: b\n", "c", "list:\n- image:\n    tag: a\nimage:\n  tag: c\n"),
        ("note: |\n  image:\n    tag: x\nimage:\n  tag: y\n", "z", "note: |\n  image:\n    tag: x\nimage:\n  tag: z\n"),
        ("image:\n  tag: v1\n    continued\n", "v2", "image:\n  tag: v2\n"),  # one plain scalar, two lines
        ("image: {tag: 'v1', x: 1}\n", "v2", "image: {tag: 'v2', x: 1}\n"),
        ("image:\n  tag: v1\n", "yes", 'image:\n  tag: "yes"\n'),  # YAML 1.1 reads plain yes as true
        ("image:\n  tag: v1\n", "sha256:ab12", "image:\n  tag: sha256:ab12\n"),
        ("image:\n  tag: v1\n", "a #b", 'image:\n  tag: "a #b"\n'),
        ("image:\n  tag: ~   # none yet\n", "v2", "image:\n  tag: v2   # none yet\n"),
        ("\ufeffimage:\n  tag: v1\n", "v2", "\ufeffimage:\n  tag: v2\n"),
        (COMMENTED, "v2", COMMENTED.replace('"v1"', '"v2"')),
        (ANCHORED, "v2", ANCHORED.replace("  tag: v1\n", "  tag: v2\n")),
        (DOCUMENTS, "v2", DOCUMENTS.replace("'v1'", "'v2'")),
    ],
)
def test_set_scalar_keeps_every_other_byte(before: str, target: str, after: str) -> None:
    assert set_scalar(before, ["image", "tag"], target, key="image.tag", file="f") == after


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("image:\n  tag: &t v1\n", "not a plain scalar"),
        ("image:\n  tag: v1\n  tag: v2\n", "written 2 times"),
        ("base: &b\n  tag: v1\nimage:\n  <<: *b\n", "image.tag in f is inherited through a merge key"),
        ("base: &b\n  tag: v1\nimage: *b\n", "editing image.tag in f would change more than that key"),
        ("base: &t v1\nimage:\n  tag: *t\n", "image.tag in f is not a plain scalar"),
        ("image:\n  tag: !!str v1\n", "image.tag in f is not a plain scalar"),
        ("image:\n  tag: >-\n    v1\n", "image.tag in f is not a plain scalar"),
        ("image:\n  tag: v1\nimage:\n  tag: v1\n", "key image in f is written 2 times"),
        ("image: v1\n", "key image.tag not found in f$"),
        ("image:\n  tag: {v: 1}\n", "key image.tag in f is a dict, not a version$"),
        ("---\nimage: {tag: v1}\n---\nimage: {tag: v1}\n", "key image.tag is in 2 documents of f;"),
        ("image:\n  tag: [v1\n", "f is not valid YAML: "),
        ("image:\n  tag:   # to be set\n", "key image.tag in f has no value written"),
        ("image:\n  tag: !!set {v1}\n", "key image.tag in f is not a scalar$"),
    ],
)
def test_set_scalar_refuses_what_it_cannot_edit_exactly(text: str, why: str) -> None:
    with pytest.raises(ExecutorError, match=f"^gitops: .*{why}") as caught:
        set_scalar(text, ["image", "tag"], "v2", key="image.tag", file="f")
    assert "\n" not in str(caught.value)
