"""The `steward` command line: serve, demo, database, config (and, as they land, audit and policy)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from bot.config import DatabaseSettings, config_schema, load_config, load_settings
from bot.errors import ConfigError
from bot.store.db import Database

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    def register(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = run
        return run

    return register


@command("serve")
def _serve(args: argparse.Namespace) -> int:
    from bot.app import build
    from bot.server import serve_forever

    settings = load_settings()
    config = load_config(settings.steward_config)
    db = Database(settings.database_url)
    if not args.no_migrate:
        db.upgrade()
    steward = build(settings, config)
    if args.socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        if not settings.slack_app_token:
            raise ConfigError("SLACK_APP_TOKEN is required with --socket-mode")
        SocketModeHandler(steward.bolt, settings.slack_app_token).connect()
    serve_forever(steward.asgi, settings.host, settings.port)
    return 0


@command("demo")
def _demo(args: argparse.Namespace) -> int:
    from bot.demo import run_script, run_web

    return run_script() if args.script else run_web()


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
    directory = args.dir or os.environ.get("STEWARD_CONFIG")
    if not directory:
        raise ConfigError("STEWARD_CONFIG is required (or pass --dir)")
    load_config(Path(directory))
    print(f"{directory}: ok")
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="steward", description="Slack incident assistant")
    sub = root.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP server (Slack events, webhooks, health, metrics)")
    serve.add_argument("--socket-mode", action="store_true", help="receive Slack traffic over Socket Mode (SLACK_APP_TOKEN)")
    serve.add_argument("--no-migrate", action="store_true", help="do not upgrade the database schema at start")
    demo = sub.add_parser("demo", help="run the demo incident against the local Slack stand-in")
    demo.add_argument("--script", action="store_true", help="print the scripted incident as text")
    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"])
    config = sub.add_parser("config", help="check the config directory or print its JSON Schema")
    config.add_argument("action", choices=["check", "schema"])
    config.add_argument("--dir", help="config directory (default: STEWARD_CONFIG)")
    return root


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except ConfigError as error:
        print(f"steward: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
