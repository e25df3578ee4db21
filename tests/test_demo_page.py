"""The demo workspace in a real browser: Debian's Chromium (/usr/bin/chromium, installed by
scripts/install-chromium.sh) drives the sandbox's page the way a newcomer would, and the test checks what they
see at each step. Screenshots land in tests/artifacts/ (not committed).

Marked `browser`. Without /usr/bin/chromium these tests fail (CI installs it) unless STEWARD_SKIP_BROWSER=1.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.demo import SCENARIO, Command, attach_replay
from bot.local import LocalStack, start_local
from bot.sandbox import BOT_USER, COMMANDER, ENGINEER, GENERAL

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update"]
DECLARE = "/incident declare Checkout errors on payment-api sev:SEV2 service:payment-api"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if os.environ.get("STEWARD_SKIP_BROWSER") == "1":
        pytest.skip("STEWARD_SKIP_BROWSER=1 (never set in CI)")
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-chromium.sh (CI installs it), "
                    "or set STEWARD_SKIP_BROWSER=1 to skip the browser tests", pytrace=False)
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[test]'", pytrace=False)
    expect.set_options(timeout=10_000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def demo(sqlite_url: str, config_dir: Path) -> Iterator[LocalStack]:
    stack = start_local(sqlite_url, config_dir)
    try:
        yield stack
    finally:
        stack.stop()


class SandboxPage:
    """The page as a person uses it: who they are, which channel is open, what they type and see."""

    def __init__(self, browser: object, stack: LocalStack, width: int = 1280, height: int = 800) -> None:
        from playwright.sync_api import expect

        self.expect = expect
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(stack.sandbox.base_url)
        expect(self.page.locator("#channel-title")).to_have_text("# general")

    def close(self) -> None:
        self.context.close()
        assert not self.errors, f"the page threw: {self.errors}"

    def view_as(self, user: str) -> None:
        self.page.select_option("#user-switcher", user)
        self.expect(self.page.locator("#user-switcher")).to_have_value(user)

    def type(self, text: str) -> None:
        box = self.page.locator("#composer")
        box.fill(text)
        box.press("Enter")
        self.expect(box).to_have_value("")  # cleared once the app has answered

    def channel(self, prefix: str):
        return self.page.locator(f'#sidebar [data-name^="{prefix}"]')

    def open_channel(self, prefix: str) -> None:
        self.channel(prefix).click()
        self.expect(self.page.locator("#channel-title")).to_contain_text(prefix)

    @property
    def messages(self):
        return self.page.locator("#messages > .message")

    @property
    def ephemerals(self):
        return self.page.locator('#messages .message[data-ephemeral="true"]')

    @property
    def card(self):
        return self.page.locator("#messages > .message.pinned")

    def scrolled_to_bottom(self) -> bool:
        return self.page.locator("#messages").evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight < 2")

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"demo-page-{name}.png"))


def test_a_newcomer_runs_an_incident_in_the_browser(browser, demo):
    page = SandboxPage(browser, demo)
    expect = page.expect

    # alice declares in #general: the reply is hers alone, and the new channel shows up in the sidebar.
    page.type(DECLARE)
    declared = page.ephemerals.filter(has_text="Declared INC-")
    expect(declared).to_contain_text("Only visible to you")
    expect(declared).to_contain_text("You are the incident commander.")
    incident = page.channel("inc-")
    expect(incident).to_have_count(1)
    expect(incident).to_have_class(re.compile(r"\bunread\b"))

    page.open_channel("inc-")
    card = page.card
    expect(card).to_contain_text("Pinned by Steward")
    expect(card.locator(".b-header")).to_have_text(re.compile(r"INC-\d{8}-\d{2} · Checkout errors on payment-api"))
    expect(card).to_contain_text("SEV2")
    expect(card).to_contain_text("Investigating")
    expect(card.locator(".mention.self")).to_have_text("@alice")  # her own mention, highlighted as Slack does
    card_ts = card.get_attribute("data-ts")
    page.screenshot("1-incident-card")

    page.type("/incident role sre_oncall @bob")
    expect(page.messages.filter(has_text="made @bob sre oncall")).to_have_count(1)
    expect(card).to_contain_text("Sre oncall: @bob")
    expect(card.locator(".edited")).to_have_text("(edited)")

    # bob, in the same channel, adds a note; his attempt at the commander's job is refused to him alone.
    page.view_as(ENGINEER)
    expect(page.page.locator("#channel-title")).to_contain_text("inc-")
    page.type("/incident note 502s from payments-gw on /v1/charge since 10:02")
    expect(page.messages.filter(has_text="Note from @bob: 502s from payments-gw")).to_have_count(1)
    page.type("/incident set severity SEV1")
    expect(page.ephemerals.filter(has_text="Only the incident commander")).to_have_count(1)

    # alice changes severity: the same pinned card is edited in place; bob's refusal is not hers to see.
    page.view_as(COMMANDER)
    expect(page.ephemerals.filter(has_text="Only the incident commander")).to_have_count(0)
    page.type("/incident set severity SEV1")
    expect(card).to_contain_text("SEV1")
    expect(page.card).to_have_count(1)
    assert page.card.get_attribute("data-ts") == card_ts
    expect(card.locator(".edited")).to_have_text("(edited)")

    page.type("/incident timeline")
    timeline = page.ephemerals.filter(has_text="Timeline · INC-")
    expect(timeline).to_contain_text("Only visible to you")
    expect(timeline).to_contain_text("502s from payments-gw on /v1/charge since 10:02")
    expect(timeline).to_contain_text("SEV2 → SEV1")
    assert page.scrolled_to_bottom(), "the newest message should be in view"
    page.screenshot("2-timeline-as-alice")

    page.view_as(ENGINEER)
    expect(page.page.get_by_text("Note from")).to_be_visible()
    expect(page.page.get_by_text("Timeline · INC-")).to_have_count(0)
    page.screenshot("3-same-channel-as-bob")
    page.close()


def test_the_message_pane_is_usable_in_a_narrow_window(browser, demo):
    page = SandboxPage(browser, demo, width=600, height=800)
    expect = page.expect
    expect(page.page.locator("#sidebar")).not_to_be_in_viewport()

    page.type(DECLARE)
    page.page.locator("#toggle-channels").click()
    expect(page.page.locator("#sidebar")).to_be_in_viewport()
    page.open_channel("inc-")
    expect(page.page.locator("#sidebar")).not_to_be_in_viewport()  # picking a channel closes the drawer

    pane = page.page.locator("#messages").bounding_box()
    assert pane["width"] >= 560, f"the message pane is {pane['width']}px wide in a 600px window"
    expect(page.card).to_contain_text("SEV2")
    page.type("/incident help")
    help_ = page.ephemerals.filter(has_text="Steward — incident commands")
    expect(help_).to_be_in_viewport()
    expect(page.page.locator("#composer")).to_be_in_viewport()
    no_sideways_scroll = page.page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert no_sideways_scroll, "the page scrolls sideways at 600px"
    page.screenshot("4-narrow-window")
    page.close()


def test_block_kit_renders_as_slack_shows_it_and_buttons_reach_the_app_signed(browser, demo):
    """Steward posts no buttons yet, so the sandbox posts a message as Steward would: the page must show the
    formatting, the thread, the styles and the confirm dialog, and a click must arrive as block_actions."""
    workspace = demo.sandbox.workspace
    confirm = {"title": {"type": "plain_text", "text": "Turn the flag off?"},
               "text": {"type": "mrkdwn", "text": "This changes *production*."},
               "confirm": {"type": "plain_text", "text": "Turn it off"},
               "deny": {"type": "plain_text", "text": "Not yet"}, "style": "danger"}
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Rendering check"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": (
            "*bold* _italic_ ~gone~ `code` <https://example.com/runbook|the runbook> for <@U0ENGINEER> "
            "in <#C0GENERAL> &amp; snake_case_stays")}},
        {"type": "divider"},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "context line"}]},
        {"type": "actions", "elements": [
            {"type": "button", "action_id": "sandbox_check_ok", "text": {"type": "plain_text", "text": "Looks right"},
             "style": "primary", "value": "ok"},
            {"type": "button", "action_id": "sandbox_check_off", "text": {"type": "plain_text", "text": "Turn off"},
             "style": "danger", "value": "off", "confirm": confirm},
        ]},
    ]
    parent = workspace.post(GENERAL, BOT_USER, "Rendering check", blocks)
    workspace.post(GENERAL, BOT_USER, "a reply in the thread", thread_ts=parent.ts)

    page = SandboxPage(browser, demo)
    expect = page.expect
    message = page.page.locator(f'#messages .message[data-ts="{parent.ts}"]')
    text = message.locator(".b-section .b-text").first
    expect(text.locator("b")).to_have_text("bold")
    expect(text.locator("i")).to_have_text("italic")
    expect(text.locator("s")).to_have_text("gone")
    expect(text.locator("code")).to_have_text("code")
    expect(text.locator("a")).to_have_attribute("href", "https://example.com/runbook")
    expect(text.locator(".mention").first).to_have_text("@bob")
    expect(text.locator(".channel-mention")).to_have_text("#general")
    expect(text).to_contain_text("& snake_case_stays")
    expect(message.locator("hr.b-divider")).to_have_count(1)
    expect(message.locator(".b-button.primary")).to_have_text("Looks right")

    expect(page.page.get_by_text("a reply in the thread")).to_have_count(0)
    message.get_by_role("button", name="1 reply").click()
    expect(page.page.get_by_text("a reply in the thread")).to_be_visible()

    clicks = lambda: [d for d in demo.sandbox.deliveries if d.kind == "block_actions"]  # noqa: E731
    message.locator(".b-button.danger").click()
    dialog = page.page.locator("#confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Turn the flag off?")
    expect(dialog.locator("b")).to_have_text("production")
    page.screenshot("5-confirm-dialog")
    dialog.get_by_role("button", name="Not yet").click()
    expect(dialog).to_be_hidden()
    assert clicks() == [], "cancelling the confirm dialog must not send the click"

    message.locator(".b-button.danger").click()
    dialog.get_by_role("button", name="Turn it off").click()
    demo.sandbox.wait_until(clicks)
    payload = clicks()[0].body
    assert payload["user"]["id"] == COMMANDER
    assert payload["actions"][0]["action_id"] == "sandbox_check_off"
    assert payload["container"]["message_ts"] == parent.ts
    assert payload["response_url"].startswith(demo.sandbox.base_url)
    page.close()


def test_replay_plays_the_scripted_incident_and_the_page_follows_it(browser, demo):
    attach_replay(demo, pause=0.3)
    page = SandboxPage(browser, demo)
    expect = page.expect
    page.page.get_by_role("button", name="Replay scenario").click()
    expect(page.page.locator("#scenario-status")).to_contain_text("Replaying")
    expect(page.page.locator("#scenario-status")).to_contain_text("Scenario replayed", timeout=30_000)
    expect(page.page.locator("#channel-title")).to_contain_text("inc-")
    expect(page.card).to_be_visible()
    commands = [d for d in demo.sandbox.deliveries if d.kind == "command"]
    played = [d.body["text"].split()[0] for d in commands]
    assert played == [step.text.split()[0] for step in SCENARIO if isinstance(step, Command)]
    page.screenshot("6-after-replay")
    page.close()
