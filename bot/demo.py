"""`steward demo`: a scripted incident against the local Slack stand-in, watched in a browser page that behaves
like a small Slack workspace (`steward demo`) or printed as people would see it (`steward demo --script`).

Both play the same steps, `SCENARIO`. A step is one thing a person (or, later, a system) does; adding one to
the scenario is adding one entry to that list, with a new kind of step only when nothing here fits.
"""
from __future__ import annotations

import json
import logging
import re
import signal
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

import httpx

from bot.local import LocalStack, start_local
from bot.sandbox import COMMANDER, ENGINEER, GENERAL
from bot.sandbox.ui import ScenarioProgress
from bot.server import LoopbackServer

log = logging.getLogger(__name__)

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "config"
PEOPLE = {"U0COMMANDER": "alice (incident commander)", "U0ENGINEER": "bob (engineer)", "U0STEWARD": "Steward"}
PAGE_PORT = 8090  # where `steward demo` serves the page; any free port when this one is taken
STEP_PAUSE = 1.6  # seconds between replayed steps in the browser, so a person can follow


@dataclass
class Scene:
    """What the steps of one playthrough share: the running stack and the incident channel once declared."""

    stack: LocalStack
    incident_channel: str | None = None

    def channel_for(self, where: str) -> str:
        if where == "incident":
            if self.incident_channel is None:
                raise LookupError("this step needs the incident channel, but no incident has been declared yet")
            return self.incident_channel
        return GENERAL if where == "general" else where

    def run(self, step: Step) -> httpx.Response | None:
        """Do the step, wait until Steward has finished what it set off, and note the channel a declare made."""
        before = {c.id for c in self.stack.sandbox.channels}
        response = step.run(self.stack, self.channel_for(step.where))
        self.stack.settle()
        created = [c.id for c in self.stack.sandbox.channels if c.id not in before and not c.is_im]
        if self.incident_channel is None and created:
            self.incident_channel = created[0]
        return response


class Step(Protocol):
    """One step of the scenario: who does it, where ("general", "incident" or a channel id), and what."""

    user: str
    where: str

    @property
    def caption(self) -> str:
        """What the person does, as one line (the page's status bar, the transcript)."""

    def run(self, stack: LocalStack, channel: str) -> httpx.Response | None:
        """Do it through the sandbox, the way Slack would; return Slack's HTTP exchange with the app, if any."""


@dataclass(frozen=True)
class Command:
    """A person types `/incident <text>` in a channel."""

    user: str
    where: str
    text: str

    @property
    def caption(self) -> str:
        return f"/incident {self.text}"

    def run(self, stack: LocalStack, channel: str) -> httpx.Response:
        return stack.sandbox.command(self.text, user=self.user, channel=channel)


SCENARIO: list[Step] = [
    Command(COMMANDER, "general", "declare Checkout errors on payment-api sev:SEV2 service:payment-api"),
    Command(COMMANDER, "incident", "role sre_oncall @bob"),
    Command(ENGINEER, "incident", "note 502s from payments-gw on /v1/charge since 10:02"),
    Command(COMMANDER, "incident", "set status identified"),
    Command(COMMANDER, "incident", "decide turn off checkout.new-routing and watch error rate"),
    Command(COMMANDER, "incident", "timeline"),
]


# --- the browser page: `steward demo` ----------------------------------------------------------------


@dataclass
class Replay:
    """Plays the scenario in a background thread, one playthrough at a time, telling the page where it is."""

    stack: LocalStack
    steps: list[Step]
    progress: ScenarioProgress
    pause: float = STEP_PAUSE
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> bool:
        with self._lock:
            if self._stopping.is_set() or (self._thread is not None and self._thread.is_alive()):
                return False
            self.progress.begin(len(self.steps))
            self._thread = threading.Thread(target=self._play, name="demo-replay", daemon=True)
            self._thread.start()
            return True

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout=30)

    def wait(self, timeout: float | None = None) -> None:
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _play(self) -> None:
        scene = Scene(self.stack)
        problem = None
        try:
            for number, step in enumerate(self.steps, 1):
                channel = scene.channel_for(step.where)
                self.progress.at(number, step.caption, step.user, channel)
                # First let the page switch to who acts and where; then act; then let people read the result.
                if self._stopping.wait(self.pause * 0.4):
                    break
                scene.run(step)
                if self._stopping.wait(self.pause * 0.6):
                    break
        except Exception as error:  # a step failing is shown on the page; the workspace stays usable
            log.exception("the demo scenario stopped")
            problem = str(error) or type(error).__name__
        finally:
            self.progress.end(problem)


@contextmanager
def demo_stack() -> Iterator[LocalStack]:
    """Steward on a throwaway SQLite database with examples/config, wired to the sandbox."""
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="steward-demo-") as scratch:
        stack = start_local(f"sqlite:///{scratch}/steward.db", EXAMPLE_CONFIG)
        try:
            yield stack
        finally:
            stack.stop()


def attach_replay(stack: LocalStack, steps: list[Step] = SCENARIO, pause: float = STEP_PAUSE,
                  autoplay: bool = False) -> Replay:
    """Give the sandbox page its "Replay scenario" button (and, with autoplay, a first play when it opens)."""
    page = stack.sandbox.ui
    replay = Replay(stack, steps, page.progress, pause)
    page.replay = replay.start
    page.autoplay = autoplay
    return replay


def run_web(port: int = PAGE_PORT, out: TextIO | None = None) -> int:
    """Serve the page until Ctrl-C; the scenario plays once when the page is first opened."""
    out = out or sys.stdout
    # Ctrl-C and SIGTERM leave through the same door, even where a parent shell set SIGINT to be ignored.
    previous = {signum: signal.signal(signum, _interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        with demo_stack() as stack:
            replay = attach_replay(stack, autoplay=True)
            page = _serve_page(stack, port)
            try:
                out.write("Steward demo: a local Slack workspace with Steward in it (no Slack account needed).\n\n"
                          f"    Open {page.base_url} in your browser.\n\n"
                          "The scripted incident plays when the page opens; press \"Replay scenario\" to watch it "
                          "again,\nor type /incident commands yourself. Ctrl-C stops the demo.\n")
                out.flush()
                threading.Event().wait()
            except KeyboardInterrupt:
                out.write("\nStopping the demo…\n")
            finally:
                replay.stop()
                page.stop()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    out.write("Stopped.\n")
    return 0


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _serve_page(stack: LocalStack, port: int) -> LoopbackServer:
    """The sandbox's own app on a fixed, bookmarkable port (start_local gives the sandbox any free one)."""
    try:
        return LoopbackServer(stack.sandbox.app, port=port).start()
    except OSError:
        return LoopbackServer(stack.sandbox.app, port=0).start()


# --- the transcript: `steward demo --script` ---------------------------------------------------------


def render_blocks(blocks: Iterable[dict[str, Any]]) -> list[str]:
    """Block Kit as plain text lines, close to how Slack lays it out."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"【 {block['text']['text']} 】")
        elif kind == "section":
            if "text" in block:
                lines.extend(block["text"]["text"].splitlines())
            for field_ in block.get("fields", []):
                name, _, value = field_["text"].partition("\n")
                lines.append(f"{name.strip('*')}: {value}")
        elif kind == "context":
            lines.append("  " + " · ".join(e.get("text", "") for e in block.get("elements", []) if isinstance(e.get("text"), str)))
        elif kind == "divider":
            lines.append("  ────")
        elif kind == "actions":
            lines.append("  " + "  ".join(f"[ {e['text']['text']} ]" for e in block.get("elements", [])))
    return lines


def _who(user: str) -> str:
    return PEOPLE.get(user, user)


def _readable(stack: LocalStack, line: str) -> str:
    """Mentions the way Slack shows them: `<@U0ENGINEER>` as @bob, `<#C1>` as #its-name."""
    line = re.sub(r"<@(U[A-Z0-9]+)(?:\|[^>]*)?>", lambda m: "@" + stack.sandbox.user(m.group(1)).name, line)
    return re.sub(r"<#(C[A-Z0-9]+)(?:\|[^>]*)?>", lambda m: "#" + stack.sandbox.channel(m.group(1)).name, line)


def _print_new_calls(stack: LocalStack, seen: int, out: TextIO) -> int:
    calls = stack.sandbox.calls
    for call in calls[seen:]:
        params = call.params
        if call.status >= 300 or not call.response.get("ok", True):
            continue
        blocks = params.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        body = [_readable(stack, line) for line in render_blocks(blocks) or [params.get("text", "")]]
        if call.method == "conversations.create":
            out.write(f"  ➜ Steward created #{params['name']}\n")
        elif call.method == "pins.add":
            out.write("  📌 Steward pinned the incident card\n")
        elif call.method in ("chat.postMessage", "chat.update"):
            channel = stack.sandbox.channel(params["channel"]).name
            verb = "edited the card" if call.method == "chat.update" else "posted"
            out.write(f"  #{channel} · Steward {verb}:\n")
            out.writelines(f"      {line}\n" for line in body)
        elif call.method in ("chat.postEphemeral", "response_url"):
            out.write("  (only you can see this) Steward:\n")
            out.writelines(f"      {line}\n" for line in body)
    return len(calls)


def run_script(out: TextIO | None = None) -> int:
    out = out or sys.stdout
    with demo_stack() as stack:
        scene = Scene(stack)
        seen = len(stack.sandbox.calls)
        out.write("Steward demo — a scripted incident against the local Slack stand-in\n\n")
        for step in SCENARIO:
            channel_name = stack.sandbox.channel(scene.channel_for(step.where)).name
            out.write(f"{_who(step.user)} in #{channel_name} › {step.caption}\n")
            response = scene.run(step)
            if response is not None and response.text:
                out.write("  (only you can see this) Steward:\n      " + response.text.replace("\n", "\n      ") + "\n")
            seen = _print_new_calls(stack, seen, out)
            out.write("\n")
    return 0
