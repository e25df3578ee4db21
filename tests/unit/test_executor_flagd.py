"""The flagd file executor: what "off" writes, what it leaves alone, the undo file, locking, and
the proof with the real OpenFeature flagd provider reading the same file."""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.executors import FLAG_PROVIDERS, ExecutorError, FlagExecutor, make_flag_executor
from bot.executors.flagd import FlagdExecutor
from tests.support.monitoring import wait_for
from tests.support.paths import FIXTURES

FIXTURE = FIXTURES / "flagd_flags.json"
KILL = "new-payment-flow"


@pytest.fixture
def flags_file(tmp_path: Path) -> Path:
    path = tmp_path / "flags.json"
    shutil.copy(FIXTURE, path)
    return path


@pytest.fixture
def executor(flags_file: Path) -> FlagdExecutor:
    return FlagdExecutor(flags_file, clock=ManualClock())


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def test_registered_and_satisfies_the_interface(flags_file: Path) -> None:
    assert FLAG_PROVIDERS["flagd"] is FlagdExecutor
    executor = make_flag_executor("flagd", files=flags_file)
    assert isinstance(executor, FlagExecutor)
    with pytest.raises(ValueError, match="unknown flag provider 'optimizely'"):
        make_flag_executor("optimizely")


def test_read_reports_a_targeted_flag_as_not_off(executor: FlagdExecutor, flags_file: Path) -> None:
    state = executor.read(KILL, "production")
    assert (state.flag, state.environment, state.provider) == (KILL, "production", "flagd")
    assert state.is_off is False  # defaultVariant is "off" but targeting still serves "on"
    assert state.detail == {
        "file": str(flags_file),
        "definition": load(FIXTURE)["flags"][KILL],
        "off_variant": "off",
    }


def test_read_reports_a_disabled_flag_as_not_off(executor: FlagdExecutor) -> None:
    # DISABLED hands every client its code default, which may be "on".
    assert executor.read("legacy-tax-engine", "production").is_off is False


def test_describe_call_names_file_pointer_and_changes(executor: FlagdExecutor, flags_file: Path) -> None:
    assert executor.describe_call(KILL, "production") == (
        f"flagd: set {flags_file}#/flags/new-payment-flow defaultVariant=off, remove targeting"
    )
    assert executor.describe_call("legacy-tax-engine", "production") == (
        f"flagd: set {flags_file}#/flags/legacy-tax-engine state=ENABLED defaultVariant=off"
    )


def test_turn_off_sets_off_variant_drops_targeting_keeps_enabled(executor: FlagdExecutor, flags_file: Path) -> None:
    before = load(flags_file)
    result = executor.turn_off(KILL, "production", comment="INC-1234")

    after = load(flags_file)
    assert after["flags"][KILL] == {
        "state": "ENABLED",
        "variants": {"on": True, "off": False},
        "defaultVariant": "off",
        "metadata": {"owner": "payments-team", "incidentKillSwitch": True},
    }
    # Everything else is carried through untouched, key order included.
    assert list(after) == list(before)
    assert {k: v for k, v in after.items() if k != "flags"} == {k: v for k, v in before.items() if k != "flags"}
    assert {k: v for k, v in after["flags"].items() if k != KILL} == {
        k: v for k, v in before["flags"].items() if k != KILL
    }

    assert result.changed is True
    assert result.previous.is_off is False and result.new.is_off is True
    assert result.new.detail["definition"] == after["flags"][KILL]
    assert result.call.endswith("defaultVariant=off, remove targeting")
    assert result.undo["definition"] == before["flags"][KILL]
    assert result.undo["pointer"] == "/flags/new-payment-flow"


def test_undo_file_holds_the_previous_definition(executor: FlagdExecutor, flags_file: Path) -> None:
    before = load(flags_file)["flags"][KILL]
    result = executor.turn_off(KILL, "production", comment="INC-1234")

    saved = Path(result.undo["saved_to"])
    assert saved.parent == flags_file.with_name("flags.json.undo")
    assert saved.name == "new-payment-flow-20261125T100000Z.json"
    record = load(saved)
    assert record["definition"] == before
    assert record["comment"] == "INC-1234"
    assert record["saved_at"] == "2026-11-25T10:00:00Z"

    # Restoring it is a plain write of the definition back.
    doc = load(flags_file)
    doc["flags"][KILL] = record["definition"]
    flags_file.write_text(json.dumps(doc))
    assert executor.read(KILL, "production").is_off is False


def test_undo_files_never_overwrite_each_other(executor: FlagdExecutor, flags_file: Path) -> None:
    first = executor.turn_off(KILL, "production")
    shutil.copy(FIXTURE, flags_file)  # someone turned it back on, same second
    second = executor.turn_off(KILL, "production")
    assert first.undo["saved_to"] != second.undo["saved_to"]
    assert len(list(flags_file.with_name("flags.json.undo").iterdir())) == 2


def test_turn_off_enables_a_disabled_flag_with_the_off_variant(executor: FlagdExecutor, flags_file: Path) -> None:
    result = executor.turn_off("legacy-tax-engine", "production")
    assert load(flags_file)["flags"]["legacy-tax-engine"]["state"] == "ENABLED"
    assert result.changed is True and result.new.is_off is True


def test_turn_off_twice_changes_nothing_the_second_time(executor: FlagdExecutor, flags_file: Path) -> None:
    executor.turn_off(KILL, "production")
    content = flags_file.read_bytes()
    again = executor.turn_off(KILL, "production")
    assert again.changed is False and again.previous.is_off and again.new.is_off
    assert again.undo["saved_to"] is None
    assert "already off" in again.call
    assert flags_file.read_bytes() == content


def test_flag_without_off_variant_is_refused_and_file_untouched(executor: FlagdExecutor, flags_file: Path) -> None:
    content = flags_file.read_bytes()
    with pytest.raises(ExecutorError, match=r"^flagd: flag checkout-banner-color has no off variant$"):
        executor.turn_off("checkout-banner-color", "production")
    with pytest.raises(ExecutorError, match="has no off variant"):
        executor.describe_call("checkout-banner-color", "production")
    assert flags_file.read_bytes() == content
    assert not flags_file.with_name("flags.json.undo").exists()
    assert executor.read("checkout-banner-color", "production").detail["off_variant"] is None


def test_unknown_flag_and_missing_file(executor: FlagdExecutor, tmp_path: Path) -> None:
    with pytest.raises(ExecutorError, match=r"^flagd: flag nope not found in .*flags.json$"):
        executor.turn_off("nope", "production")
    missing = FlagdExecutor(tmp_path / "absent.json")
    with pytest.raises(ExecutorError, match=r"^flagd: flags file .*absent.json not found$"):
        missing.read(KILL, "production")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ExecutorError, match="is not valid JSON"):
        FlagdExecutor(broken).turn_off(KILL, "production")


def _flagd_doc(flags: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://flagd.dev/schema/v0/flags.json",
        "$evaluators": {"staff": {"ends_with": [{"var": "email"}, "@acme.example"]}},
        "flags": flags,
        "metadata": {"flagSetId": "t"},
    }


def test_off_variant_from_metadata_then_constructor(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    flag = {
        "state": "ENABLED",
        "variants": {"full": "v2", "legacy": "v1"},
        "defaultVariant": "full",
        "metadata": {"off_variant": "legacy"},
    }
    path.write_text(json.dumps(_flagd_doc({"router": flag, "other": dict(flag)})))

    assert FlagdExecutor(path).turn_off("router", "prod").new.detail["definition"]["defaultVariant"] == "legacy"
    # The constructor mapping wins over the file's metadata.
    overridden = FlagdExecutor(path, off_variants={"other": "full"})
    assert overridden.read("other", "prod").is_off is True
    with pytest.raises(ExecutorError, match="off variant 'gone' configured"):
        FlagdExecutor(path, off_variants={"other": "gone"}).turn_off("other", "prod")


def test_files_per_environment(tmp_path: Path) -> None:
    prod, staging = tmp_path / "prod.json", tmp_path / "staging.json"
    shutil.copy(FIXTURE, prod)
    shutil.copy(FIXTURE, staging)
    executor = FlagdExecutor({"production": prod, "staging": staging})
    executor.turn_off(KILL, "staging")
    assert executor.read(KILL, "staging").is_off is True
    assert executor.read(KILL, "production").is_off is False
    with pytest.raises(ExecutorError, match="no flags file configured for environment 'qa'"):
        executor.read(KILL, "qa")


def test_write_is_atomic_keeps_mode_and_leaves_no_temp_files(executor: FlagdExecutor, flags_file: Path) -> None:
    os.chmod(flags_file, 0o640)
    inode = flags_file.stat().st_ino
    executor.turn_off(KILL, "production")
    assert flags_file.stat().st_ino != inode  # replaced, not rewritten in place
    assert stat.S_IMODE(flags_file.stat().st_mode) == 0o640
    leftovers = {p.name for p in flags_file.parent.iterdir()}
    assert leftovers == {"flags.json", "flags.json.lock", "flags.json.undo"}


def test_new_file_mtime_is_strictly_newer(executor: FlagdExecutor, flags_file: Path) -> None:
    # mtime-polling watchers miss a rewrite that lands within the same timestamp tick.
    future = time.time_ns() + 3_600 * 10**9
    os.utime(flags_file, ns=(future, future))
    executor.turn_off(KILL, "production")
    assert flags_file.stat().st_mtime > future / 1e9


def test_concurrent_turn_offs_lose_no_edit(tmp_path: Path) -> None:
    path = tmp_path / "flags.json"
    names = [f"flag-{i}" for i in range(24)]
    flags = {n: {"state": "ENABLED", "variants": {"on": True, "off": False}, "defaultVariant": "on"} for n in names}
    path.write_text(json.dumps(_flagd_doc(flags)))
    start = threading.Barrier(len(names))
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            start.wait()
            FlagdExecutor(path).turn_off(name, "production")  # an instance each, like replicas
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    doc = load(path)
    assert all(doc["flags"][n]["defaultVariant"] == "off" for n in names)
    assert doc["$evaluators"] == _flagd_doc({})["$evaluators"]
    assert len(list((tmp_path / "flags.json.undo").iterdir())) == len(names)


def test_a_held_lock_fails_the_call_after_the_timeout(flags_file: Path) -> None:
    import fcntl

    with open(flags_file.with_name("flags.json.lock"), "w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(ExecutorError, match=r"still locked after 0.05s"):
            FlagdExecutor(flags_file, lock_timeout=0.05).turn_off(KILL, "production")
    assert load(flags_file) == load(FIXTURE)


# -- proof with the real OpenFeature flagd provider ---------------------------------------

openfeature = pytest.importorskip("openfeature")


@pytest.fixture
def of_client(flags_file: Path) -> Iterator[Any]:
    """An OpenFeature client whose flagd provider resolves in-process from the same file."""
    from openfeature import api
    from openfeature.contrib.provider.flagd import FlagdProvider
    from openfeature.contrib.provider.flagd.config import ResolverType
    from openfeature.provider.no_op_provider import NoOpProvider

    # The file resolver re-checks the file's mtime every deadline_ms.
    provider = FlagdProvider(
        resolver_type=ResolverType.FILE,
        offline_flag_source_path=str(flags_file),
        deadline_ms=20,
    )
    domain = f"steward-test-{uuid.uuid4()}"
    api.set_provider_and_wait(provider, domain=domain)
    try:
        yield api.get_client(domain)
    finally:
        api.set_provider(NoOpProvider(), domain=domain)
        provider.shutdown()


def _staff_context() -> Any:
    from openfeature.evaluation_context import EvaluationContext

    # Matches the targeting rule's first branch (email ends with @acme.example) -> "on".
    return EvaluationContext(targeting_key="user-1", attributes={"email": "ana@acme.example"})


def test_proof_turn_off_makes_every_client_evaluate_off(of_client: Any, executor: FlagdExecutor) -> None:
    ctx = _staff_context()
    before = of_client.get_boolean_details(KILL, True, ctx)
    assert (before.value, before.variant, before.reason) == (True, "on", "TARGETING_MATCH")

    executor.turn_off(KILL, "production")

    # The provider reloads the file on its own thread.
    after = wait_for(
        lambda: (d := of_client.get_boolean_details(KILL, True, ctx)).variant == "off" and d,
        timeout=5.0,
        interval=0.01,
    )
    # Same code default True, yet the client now gets the off variant.
    assert (after.value, after.reason, after.error_code) == (False, "STATIC", None)
    assert of_client.get_boolean_value(KILL, True) is False  # no context at all: off too


def test_proof_disabled_state_would_hand_clients_their_code_default(of_client: Any, flags_file: Path) -> None:
    ctx = _staff_context()
    assert of_client.get_boolean_value(KILL, True, ctx) is True

    doc = load(flags_file)
    doc["flags"][KILL]["state"] = "DISABLED"  # the tempting but wrong kill switch
    tmp = flags_file.with_name("tmp.json")
    tmp.write_text(json.dumps(doc))
    old = flags_file.stat().st_mtime_ns
    os.utime(tmp, ns=(old + 10**9, old + 10**9))
    os.replace(tmp, flags_file)

    disabled = wait_for(
        lambda: (d := of_client.get_boolean_details(KILL, True, ctx)).reason == "DISABLED" and d,
        timeout=5.0,
        interval=0.01,
    )
    assert disabled.value is True  # the code default: the feature stays on
    assert of_client.get_boolean_value(KILL, False, ctx) is False  # ...and is whatever the code says
