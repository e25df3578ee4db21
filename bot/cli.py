"""The `steward` command line: serve, demo, database, config, audit and policy."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import get_args

from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from bot.audit import service as audit
from bot.config import Config, DatabaseSettings, LogSettings, config_schema, load_config, load_settings, read_settings
from bot.errors import ConfigError
from bot.policy.service import CRITICALITIES, Action, PolicyInput, evaluate
from bot.runtime.logs import configure_logging
from bot.store.db import Database

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = run
        return run

    return register


@command("serve")
def _serve(args: argparse.Namespace) -> int:
    from bot.app import build, freeze_startup_heap
    from bot.runtime.server import serve_forever
    from handlers.door import DOOR, connect_socket_mode

    settings = load_settings()
    config = load_config(settings.steward_config)
    db = Database(settings.database_url)
    if not args.no_migrate:
        db.upgrade()
    steward = build(settings, config, DOOR)
    freeze_startup_heap()
    if args.socket_mode:
        if not settings.slack_app_token:
            raise ConfigError("SLACK_APP_TOKEN is required with --socket-mode")
        connect_socket_mode(steward.runtime, settings.slack_app_token)
    serve_forever(steward.asgi, settings.host, settings.port)
    return 0


@command("demo")
def _demo(args: argparse.Namespace) -> int:
    from bot.sandbox.demo import run_script, run_web
    from handlers.door import DOOR

    return run_script(DOOR) if args.script else run_web(DOOR)


@command("db")
def _db(args: argparse.Namespace) -> int:
    settings = DatabaseSettings()
    Database(settings.database_url).upgrade()
    print(f"database at {settings.database_url} is up to date")
    return 0


@command("config")
def _config(args: argparse.Namespace) -> int:
    if args.action == "schema":
        print(json.dumps(config_schema(), indent=2))
        return 0
    directory = _config_directory(args)
    load_config(directory)
    print(f"{directory}: ok")
    return 0


def _config_directory(args: argparse.Namespace) -> Path:
    directory = args.dir or os.environ.get("STEWARD_CONFIG")
    if not directory:
        raise ConfigError("STEWARD_CONFIG is required (or pass --dir)")
    return Path(directory)


@command("audit")
def _audit(args: argparse.Namespace) -> int:
    try:
        db = _existing_database(DatabaseSettings().database_url)
        try:
            with db.session() as session:
                return _AUDIT_COMMANDS[args.audit_command](session, args)
        finally:
            db.engine.dispose()
    except OperationalError as error:
        raise ConfigError(f"DATABASE_URL: cannot read the audit log: {str(error.orig).splitlines()[0]}") from None


def _audit_verify(session: Session, args: argparse.Namespace) -> int:
    result = audit.verify(session)
    if result.ok:
        print(f"audit chain intact: {result.checked} events")
        return 0
    print(f"audit chain broken at seq {result.first_broken}: {result.reason}")
    return 1


def _audit_export(session: Session, args: argparse.Namespace) -> int:
    if args.output is None:
        count = audit.export_jsonl(session, args.incident, sys.stdout)
    else:
        with open(args.output, "w", encoding="utf-8", newline="\n") as out:
            count = audit.export_jsonl(session, args.incident, out)
    # On stderr, so stdout stays pure JSON lines.
    print(
        f"exported {count} audit events of {args.incident}" + (f" to {args.output}" if args.output else ""),
        file=sys.stderr,
    )
    return 0


_AUDIT_COMMANDS: dict[str, Callable[[Session, argparse.Namespace], int]] = {
    "verify": _audit_verify,
    "export": _audit_export,
}


def _existing_database(url: str) -> Database:
    """A handle on a database that must already exist: reading the audit log never creates one."""
    location = make_url(url)
    if (
        location.get_backend_name() == "sqlite"
        and location.database not in (None, "", ":memory:")
        and not Path(location.database).exists()
    ):
        raise ConfigError(f"DATABASE_URL: no database at {location.database}")
    db = Database(url)
    if not inspect(db.engine).has_table("auditevent"):
        db.engine.dispose()
        raise ConfigError("DATABASE_URL: the database has no audit log yet; run `steward db upgrade` first")
    return db


@command("policy")
def _policy(args: argparse.Namespace) -> int:
    config = load_config(_config_directory(args))
    print(evaluate(config.policies, _policy_input(args.action, args.facts, config)).as_json())
    return 0


# Who counts as an agent when `actor:` is given: Slack bot ids start with "B", and "steward" is Steward itself.
AGENT_ACTOR = "steward"
_FACT_KEYS = ("env", "service", "actor", "incident_mode", "criticality")


def _fact_word(word: str) -> tuple[str, str]:
    key, _, value = word.partition(":")
    if key not in _FACT_KEYS or not value:
        raise argparse.ArgumentTypeError(f"expected key:value with a key of {', '.join(_FACT_KEYS)}, got {word!r}")
    if key == "incident_mode" and value not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"incident_mode is true or false, got {value!r}")
    if key == "criticality" and value not in CRITICALITIES:
        raise argparse.ArgumentTypeError(f"criticality is one of {', '.join(CRITICALITIES)}, got {value!r}")
    return key, value


def _policy_input(action: str, words: list[tuple[str, str]], config: Config) -> PolicyInput:
    facts = dict(words)
    if len(facts) != len(words):
        raise ConfigError("policy check: each key:value may be given once")
    if "env" not in facts:
        raise ConfigError("policy check: env:<environment> is required")
    actor = facts.get("actor")
    return PolicyInput(
        action=action,
        environment=facts["env"],
        service=facts.get("service"),
        criticality=_criticality(facts, config),
        incident_mode=None if "incident_mode" not in facts else facts["incident_mode"] == "true",
        actor=actor,
        actor_is_agent=None if actor is None else (actor.startswith("B") or actor == AGENT_ACTOR),
    )


def _criticality(facts: dict[str, str], config: Config) -> str | None:
    """From services.yml when a service is named, so the check sees what a real request would."""
    given = facts.get("criticality")
    if "service" not in facts:
        return given
    service = config.services.services.get(facts["service"])
    if service is None:
        known = ", ".join(config.services.services) or "none"
        raise ConfigError(f"services.yml: no service {facts['service']!r} (known: {known})")
    if given is not None and given != service.criticality:
        raise ConfigError(f"services.yml gives {facts['service']} criticality {service.criticality}, not {given}")
    return service.criticality


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="steward", description="Slack incident assistant")
    sub = root.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP server (Slack events, webhooks, health, metrics)")
    serve.add_argument(
        "--socket-mode", action="store_true", help="receive Slack traffic over Socket Mode (SLACK_APP_TOKEN)"
    )
    serve.add_argument("--no-migrate", action="store_true", help="do not upgrade the database schema at start")
    demo = sub.add_parser("demo", help="run the demo incident against the local Slack stand-in")
    demo.add_argument("--script", action="store_true", help="print the scripted incident as text")
    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"])
    config = sub.add_parser("config", help="check the config directory or print its JSON Schema")
    config.add_argument("action", choices=["check", "schema"])
    config.add_argument("--dir", help="config directory (default: STEWARD_CONFIG)")
    audit_log = sub.add_parser(
        "audit", help="verify the audit chain or export an incident's audit events (DATABASE_URL)"
    )
    audit_commands = audit_log.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser("verify", help="walk the hash chain; exit 1 naming the first broken link")
    export = audit_commands.add_parser("export", help="write an incident's audit events as JSON lines")
    export.add_argument("--incident", required=True, help="incident id, e.g. INC-20261125-01")
    export.add_argument("--output", help="file to write (default: stdout)")
    policy = sub.add_parser("policy", help="ask policies.yml what it decides for an action")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_commands.add_parser(
        "check",
        help="print the decision, rule id and reasons as JSON",
        epilog="actor:<id> is an agent when it starts with B (a Slack bot id) or is 'steward'. "
        "A fact left out is unknown, never assumed fine.",
    )
    check.add_argument("action", choices=get_args(Action))
    check.add_argument(
        "facts",
        nargs="*",
        type=_fact_word,
        metavar="key:value",
        help="env:<env> (required), service:<s>, actor:<user>, incident_mode:true|false, criticality:<c>",
    )
    check.add_argument("--dir", help="config directory (default: STEWARD_CONFIG)")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        configure_logging(read_settings(LogSettings).log_format)
        return COMMANDS[args.command](args)
    except ConfigError as error:
        print(f"steward: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
