"""The Slack sandbox behaves like Slack: the real slack_sdk client talks to its Web API, and a stand-in app
receives its commands, clicks and events signed and encoded as Slack sends them."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.clock import ManualClock
from bot.runtime.server import LoopbackServer
from bot.sandbox import BOT_USER, COMMANDER, ENGINEER, GENERAL, OBSERVER, SlackSandbox

SECRET = "s3cret"
TOKEN = "xoxb-test"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signed_correctly: bool

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    @property
    def payload(self) -> dict:
        return json.loads(self.form["payload"])

    @property
    def json(self) -> dict:
        return json.loads(self.body)


class App:
    """Stands in for Steward's /slack/events: checks the signature, records the request, answers `reply`."""

    def __init__(self) -> None:
        self.verifier = SignatureVerifier(SECRET)
        self.received: list[Received] = []
        self.reply = lambda received: Response(status_code=200)
        self._lock = threading.Lock()
        self.server = LoopbackServer(Starlette(routes=[Route("/slack/events", self.endpoint, methods=["POST"])]))

    async def endpoint(self, request: Request) -> Response:
        body = await request.body()
        received = Received(
            request.url.path, dict(request.headers), body, self.verifier.is_valid_request(body, dict(request.headers))
        )
        with self._lock:
            self.received.append(received)
        return self.reply(received)

    @property
    def url(self) -> str:
        return f"{self.server.base_url}slack/events"

    def events(self, type_: str) -> list[dict]:
        with self._lock:
            envelopes = [r.json for r in self.received if r.headers["content-type"] == "application/json"]
        return [e["event"] for e in envelopes if e.get("type") == "event_callback" and e["event"]["type"] == type_]


@pytest.fixture(scope="module")
def app():
    receiver = App()
    receiver.server.start()
    yield receiver
    receiver.server.stop()


@pytest.fixture
def sandbox(app):
    app.received.clear()
    app.reply = lambda received: Response(status_code=200)
    with SlackSandbox(signing_secret=SECRET, events_url=app.url, bot_token=TOKEN) as sb:
        yield sb


@pytest.fixture
def slack(sandbox):
    return WebClient(token=TOKEN, base_url=sandbox.api_url)


def error_of(call) -> tuple[int, dict]:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response.status_code, raised.value.response.data


# --- Web API -----------------------------------------------------------------------------------------


def test_the_bot_token_is_the_steward_bot_and_nothing_else_is(sandbox, slack):
    me = slack.auth_test()
    assert (me["user_id"], me["bot_id"], me["team_id"]) == (BOT_USER, "B0STEWARD", "T0STEWARD")
    assert sandbox.api_url.endswith("/api/")
    assert error_of(WebClient(token="xoxb-wrong", base_url=sandbox.api_url).auth_test)[1]["error"] == "invalid_auth"
    assert error_of(WebClient(base_url=sandbox.api_url).auth_test)[1]["error"] == "not_authed"
    assert error_of(lambda: slack.api_call("chat.fly"))[1]["error"] == "unknown_method"


def test_posting_records_the_message_and_the_call(sandbox, slack):
    posted = slack.chat_postMessage(channel=GENERAL, text="Checkout errors", unfurl_links=False)
    reply = slack.chat_postMessage(channel=GENERAL, text="in thread", thread_ts=posted["ts"])

    assert [m.text for m in sandbox.messages(GENERAL)] == ["Checkout errors", "in thread"]
    assert [m.text for m in sandbox.thread(GENERAL, posted["ts"])] == ["Checkout errors", "in thread"]
    assert float(reply["ts"]) > float(posted["ts"])
    assert sandbox.calls_to("chat.postMessage")[0].params["text"] == "Checkout errors"
    assert posted["message"]["bot_id"] == "B0STEWARD"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_messages_need_a_visible_channel_and_some_text(sandbox, slack):
    secret_room = sandbox.create_channel("secret-room", by=COMMANDER, is_private=True)
    assert error_of(lambda: slack.chat_postMessage(channel="C404", text="x"))[1]["error"] == "channel_not_found"
    assert error_of(lambda: slack.chat_postMessage(channel=secret_room, text="x"))[1]["error"] == "channel_not_found"
    assert error_of(lambda: slack.chat_postMessage(channel=GENERAL, text=""))[1]["error"] == "no_text"
    bad = [{"type": "header", "text": {"type": "mrkdwn", "text": "x" * 200}}]
    _, body = error_of(lambda: slack.chat_postMessage(channel=GENERAL, text="x", blocks=bad))
    assert body["error"] == "invalid_blocks" and any("/blocks/0/text" in e for e in body["errors"])


def test_chat_update_edits_the_message_in_place(sandbox, slack):
    card = [{"type": "section", "text": {"type": "mrkdwn", "text": "*SEV3* investigating"}}]
    posted = slack.chat_postMessage(channel=GENERAL, text="card", blocks=card)
    slack.chat_update(channel=GENERAL, ts=posted["ts"], text="card (SEV1)")

    [message] = sandbox.messages(GENERAL)
    assert (message.ts, message.text, message.edited) == (posted["ts"], "card (SEV1)", True)
    assert message.blocks[0]["text"]["text"] == "*SEV3* investigating"  # blocks left out are kept
    assert (
        error_of(lambda: slack.chat_update(channel=GENERAL, ts="1.000100", text="x"))[1]["error"] == "message_not_found"
    )


def test_pins_and_deletes_follow_membership(sandbox, slack):
    channel = slack.conversations_create(name="inc-pins")["channel"]["id"]
    posted = slack.chat_postMessage(channel=channel, text="card")
    slack.pins_add(channel=channel, timestamp=posted["ts"])
    assert sandbox.channel(channel).pins == [posted["ts"]]
    assert error_of(lambda: slack.pins_add(channel=channel, timestamp=posted["ts"]))[1]["error"] == "already_pinned"
    general_post = slack.chat_postMessage(channel=GENERAL, text="hello")
    assert (
        error_of(lambda: slack.pins_add(channel=GENERAL, timestamp=general_post["ts"]))[1]["error"] == "not_in_channel"
    )
    slack.chat_delete(channel=channel, ts=posted["ts"])
    assert sandbox.messages(channel) == [] and sandbox.channel(channel).pins == []


def test_topics_direct_messages_and_modals(sandbox, slack):
    channel = slack.conversations_create(name="inc-topic")["channel"]["id"]
    slack.conversations_setTopic(channel=channel, topic="SEV2 · checkout")
    assert sandbox.channel(channel).topic == "SEV2 · checkout"

    dm = slack.chat_postMessage(channel=ENGINEER, text="You were paged")["channel"]
    assert dm == sandbox.dm_channel(ENGINEER) and sandbox.messages(dm)[0].text == "You were paged"

    view = {"type": "modal", "title": {"type": "plain_text", "text": "Declare"}, "blocks": []}
    assert slack.views_open(trigger_id="1.2.abc", view=view)["view"]["id"].startswith("V")
    assert sandbox.calls_to("views.open")[0].params["view"] == view


@pytest.mark.parametrize(
    "name, error",
    [
        ("Inc-Checkout", "invalid_name_specials"),
        ("inc checkout", "invalid_name_specials"),
        ("inc.checkout", "invalid_name_specials"),
        ("x" * 81, "invalid_name_maxlength"),
        ("general", "name_taken"),
        ("", "invalid_name_required"),
    ],
)
def test_channel_names_follow_slack_rules(slack, name, error):
    assert error_of(lambda: slack.conversations_create(name=name))[1]["error"] == error


def test_creating_a_channel_makes_the_creator_a_member_and_announces_it(sandbox, slack, app):
    created = slack.conversations_create(name="inc-20261125-01-checkout")["channel"]
    human_made = sandbox.create_channel("war-room", by=ENGINEER)
    sandbox.create_channel("quiet-room", by=ENGINEER, is_private=True)
    sandbox.wait_idle()

    assert created["id"].startswith("C") and created["is_member"]
    assert sandbox.channel(created["id"]).members == {BOT_USER}
    announced = app.events("channel_created")
    assert [(e["channel"]["id"], e["channel"]["creator"]) for e in announced] == [
        (created["id"], BOT_USER),
        (human_made, ENGINEER),
    ]  # private channels are not announced
    assert all(r.signed_correctly for r in app.received)


def test_inviting_and_joining(sandbox, slack, app):
    channel = slack.conversations_create(name="inc-invite")["channel"]["id"]
    slack.conversations_invite(channel=channel, users=f"{COMMANDER},{ENGINEER}")
    assert sandbox.channel(channel).members == {BOT_USER, COMMANDER, ENGINEER}
    assert (
        error_of(lambda: slack.conversations_invite(channel=channel, users=COMMANDER))[1]["error"]
        == "already_in_channel"
    )
    assert (
        error_of(lambda: slack.conversations_invite(channel=channel, users=BOT_USER))[1]["error"] == "cant_invite_self"
    )
    assert (
        error_of(lambda: slack.conversations_invite(channel=GENERAL, users=COMMANDER))[1]["error"] == "not_in_channel"
    )

    assert "warning" not in slack.conversations_join(channel=GENERAL)
    assert slack.conversations_join(channel=GENERAL)["warning"] == "already_in_channel"
    assert slack.conversations_members(channel=channel)["members"] == sorted([BOT_USER, COMMANDER, ENGINEER])
    assert slack.conversations_info(channel=channel)["channel"]["name"] == "inc-invite"
    assert slack.users_info(user=ENGINEER)["user"]["profile"]["display_name"] == "bob"


def test_a_human_adding_the_bot_tells_the_app(sandbox, app):
    room = sandbox.create_channel("ops-room", by=OBSERVER, is_private=True)
    sandbox.invite_bot(room, by=OBSERVER)
    sandbox.wait_idle()
    [joined] = app.events("member_joined_channel")
    assert (joined["user"], joined["channel"], joined["inviter"], joined["channel_type"]) == (
        BOT_USER,
        room,
        OBSERVER,
        "G",
    )


def test_injected_failures_answer_like_slack_once_each(sandbox, slack):
    sandbox.fail_next("chat.postMessage", "ratelimited", retry_after=7)
    sandbox.fail_next("conversations.create", "name_taken", times=2)
    sandbox.fail_next("auth.test", "http_500")

    status, body = error_of(lambda: slack.chat_postMessage(channel=GENERAL, text="x"))
    assert status == 429 and body == {"ok": False, "error": "ratelimited"}
    raw = httpx.post(
        sandbox.api_url + "chat.postMessage",
        headers={"Authorization": f"Bearer {TOKEN}"},
        data={"channel": GENERAL, "text": "direct"},
    )
    assert raw.status_code == 200 and raw.json()["ok"]  # consumed: the next call succeeds
    sandbox.fail_next("chat.postMessage", "ratelimited", retry_after=7)
    limited = httpx.post(
        sandbox.api_url + "chat.postMessage",
        headers={"Authorization": f"Bearer {TOKEN}"},
        data={"channel": GENERAL, "text": "again"},
    )
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"

    assert error_of(lambda: slack.conversations_create(name="a"))[1]["error"] == "name_taken"
    assert error_of(lambda: slack.conversations_create(name="a"))[1]["error"] == "name_taken"
    assert slack.conversations_create(name="a")["ok"]
    assert error_of(slack.auth_test)[0] == 500
    assert [c.status for c in sandbox.calls] == [429, 200, 429, 200, 200, 200, 500]


def test_timestamps_follow_the_workspace_clock_and_never_repeat(app):
    clock = ManualClock(datetime(2025, 11, 25, 10, 0, tzinfo=UTC))
    with SlackSandbox(signing_secret=SECRET, bot_token=TOKEN, clock=clock) as sb:
        slack = WebClient(token=TOKEN, base_url=sb.api_url)
        first = slack.chat_postMessage(channel=GENERAL, text="a")["ts"]
        second = slack.chat_postMessage(channel=GENERAL, text="b")["ts"]
        clock.advance(minutes=1)
        third = slack.chat_postMessage(channel=GENERAL, text="c")["ts"]
    assert (first, second, third) == ("1764064800.000100", "1764064800.000200", "1764064860.000100")


# --- Slack sending to the app ------------------------------------------------------------------------


def test_a_slash_command_arrives_as_slack_sends_it(sandbox, app):
    response = sandbox.command("role sre_oncall @bob in #general & <now> https://x.test/a#b", user=COMMANDER)
    assert response.status_code == 200

    [received] = app.received
    assert received.signed_correctly
    assert received.headers["content-type"] == "application/x-www-form-urlencoded"
    form = received.form
    assert form["text"] == (
        "role sre_oncall <@U0ENGINEER|bob> in <#C0GENERAL|general> &amp; &lt;now&gt; <https://x.test/a#b>"
    )
    assert (form["command"], form["user_id"], form["user_name"], form["channel_id"], form["channel_name"]) == (
        "/incident",
        COMMANDER,
        "alice",
        GENERAL,
        "general",
    )
    assert form["team_id"] == "T0STEWARD" and form["is_enterprise_install"] == "false"
    assert form["token"] and form["trigger_id"] and form["api_app_id"]
    assert form["response_url"].startswith(sandbox.base_url + "response/")


def test_a_command_in_a_private_channel_names_it_privategroup(sandbox, app):
    room = sandbox.create_channel("secret-room", by=COMMANDER, is_private=True)
    sandbox.command("help", channel=room)
    assert app.received[-1].form["channel_name"] == "privategroup"


def test_the_command_answer_and_response_url_replies_reach_the_user(sandbox, app):
    app.reply = lambda received: JSONResponse({"text": "Working on it…"})
    sandbox.command("timeline", user=ENGINEER)
    assert sandbox.last_ephemeral(ENGINEER).text == "Working on it…"

    response_url = app.received[-1].form["response_url"]
    hook = WebhookClient(response_url)
    assert hook.send(text="Here is the timeline", replace_original=True).body == "ok"
    assert [m.text for m in sandbox.ephemerals(ENGINEER)] == ["Here is the timeline"]
    hook.send(text="Declared INC-1", response_type="in_channel")
    assert sandbox.messages(GENERAL)[-1].text == "Declared INC-1"
    assert [c.method for c in sandbox.calls] == ["response_url", "response_url"]


def test_a_response_url_works_five_times_for_thirty_minutes(app):
    clock = ManualClock()
    with SlackSandbox(signing_secret=SECRET, events_url=app.url, bot_token=TOKEN, clock=clock) as sb:
        sb.command("help")
        hook = WebhookClient(app.received[-1].form["response_url"])
        assert [hook.send(text=f"{n}").status_code for n in range(6)] == [200] * 5 + [404]
        sb.command("help")
        late = WebhookClient(app.received[-1].form["response_url"])
        clock.advance(minutes=31)
        assert (late.send(text="late").status_code, late.send(text="late").body) == (404, "expired_url")


def test_clicking_a_button_sends_block_actions_with_the_message(sandbox, slack, app):
    blocks = [
        {
            "type": "actions",
            "block_id": "approval",
            "elements": [
                {
                    "type": "button",
                    "action_id": "approval_approve",
                    "value": "apr-1",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "style": "primary",
                }
            ],
        }
    ]
    posted = slack.chat_postMessage(channel=GENERAL, text="Roll back checkout?", blocks=blocks)
    [message] = sandbox.messages(GENERAL)
    sandbox.click_button(message, "approval_approve", user=ENGINEER)

    received = app.received[-1]
    assert received.signed_correctly and received.headers["content-type"] == "application/x-www-form-urlencoded"
    payload = received.payload
    assert payload["type"] == "block_actions"
    assert payload["user"] == {"id": ENGINEER, "username": "bob", "name": "bob", "team_id": "T0STEWARD"}
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": GENERAL,
        "is_ephemeral": False,
    }
    assert payload["message"]["ts"] == posted["ts"] and payload["message"]["blocks"] == blocks
    [action] = payload["actions"]
    assert (action["action_id"], action["block_id"], action["value"], action["type"]) == (
        "approval_approve",
        "approval",
        "apr-1",
        "button",
    )

    WebhookClient(payload["response_url"]).send(text="Approved by bob", replace_original=True)
    [edited] = sandbox.messages(GENERAL)
    assert (edited.ts, edited.text, edited.blocks, edited.edited) == (posted["ts"], "Approved by bob", [], True)


def test_response_url_replaces_or_deletes_an_ephemeral(sandbox, slack, app):
    buttons = [
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "status_publish",
                    "value": "draft-1",
                    "text": {"type": "plain_text", "text": "Publish"},
                },
                {
                    "type": "button",
                    "action_id": "status_discard",
                    "value": "draft-1",
                    "text": {"type": "plain_text", "text": "Discard"},
                },
            ],
        }
    ]
    slack.chat_postEphemeral(channel=GENERAL, user=COMMANDER, text="Draft", blocks=buttons)
    draft = sandbox.last_ephemeral(COMMANDER)

    sandbox.click("status_publish", "draft-1", user=COMMANDER, channel=GENERAL)
    payload = app.received[-1].payload
    assert "message" not in payload and payload["container"]["is_ephemeral"] is True
    assert payload["actions"][0]["block_id"] == draft.blocks[0]["block_id"]
    WebhookClient(payload["response_url"]).send(text="Published", replace_original=True)
    assert [(m.ts, m.text) for m in sandbox.ephemerals(COMMANDER)] == [(draft.ts, "Published")]

    sandbox.click_button(draft, "status_discard", user=COMMANDER)
    WebhookClient(app.received[-1].payload["response_url"]).send(delete_original=True)
    assert sandbox.ephemerals(COMMANDER) == []
    assert (
        error_of(lambda: slack.chat_postEphemeral(channel=GENERAL, user=BOT_USER, text="x"))[1]["error"]
        == "user_not_in_channel"
    )


def test_events_arrive_as_json_envelopes_and_retries_say_so(sandbox, app):
    sandbox.event(
        {"type": "app_mention", "user": COMMANDER, "text": "<@U0STEWARD> help", "channel": GENERAL},
        event_id="Ev0001",
        retry_num=1,
    )
    received = app.received[-1]
    assert received.signed_correctly and received.headers["content-type"] == "application/json"
    assert (received.headers["x-slack-retry-num"], received.headers["x-slack-retry-reason"]) == ("1", "http_timeout")
    envelope = received.json
    assert (envelope["type"], envelope["event_id"], envelope["team_id"]) == ("event_callback", "Ev0001", "T0STEWARD")
    assert envelope["event"]["event_ts"] and envelope["authorizations"][0]["user_id"] == BOT_USER

    sandbox.event({"type": "app_mention", "channel": GENERAL})
    assert app.received[-1].json["event_id"].startswith("Ev") and "x-slack-retry-num" not in app.received[-1].headers


def test_bad_requests_can_be_sent_on_purpose(sandbox, app):
    sandbox.command("help", timestamp=int(time.time()) - 600)
    sandbox.click("triage_declare", "x", user=COMMANDER, channel=GENERAL, message_ts="1.000100", signature="v0=bad")
    sandbox.event({"type": "app_mention"}, sign=False)
    assert [r.signed_correctly for r in app.received] == [False, False, False]
    assert "x-slack-signature" not in app.received[-1].headers


def test_a_slow_app_is_given_up_on_after_the_ack_timeout(app):
    given_up = threading.Event()

    def slow(received):
        given_up.wait(timeout=30)  # the app answers only once the sandbox has stopped waiting for it
        return Response(status_code=200)

    app.reply = slow
    try:
        with SlackSandbox(signing_secret=SECRET, events_url=app.url, bot_token=TOKEN, ack_timeout=0.1) as sb:
            with pytest.raises(httpx.ReadTimeout):
                sb.command("help")
            assert sb.deliveries[-1].status is None
    finally:
        given_up.set()
        app.reply = lambda received: Response(status_code=200)


def test_a_bolt_app_runs_against_the_sandbox(sandbox):
    """The real libraries end to end: Bolt verifies the signature, acks, and answers through response_url."""
    from slack_bolt import App as BoltApp
    from slack_bolt.adapter.starlette import SlackRequestHandler

    bolt = BoltApp(
        token=TOKEN,
        signing_secret=SECRET,
        client=WebClient(token=TOKEN, base_url=sandbox.api_url),
        process_before_response=True,
    )

    @bolt.command("/incident")
    def incident(ack, command, respond, client):
        ack()
        client.chat_postMessage(channel=command["channel_id"], text=f"declared by <@{command['user_id']}>")
        respond(f"you said: {command['text']}")

    handler = SlackRequestHandler(bolt)

    async def endpoint(request: Request) -> Response:
        return await handler.handle(request)

    server = LoopbackServer(Starlette(routes=[Route("/slack/events", endpoint, methods=["POST"])]))
    server.start()
    try:
        sandbox.events_url = f"{server.base_url}slack/events"
        assert sandbox.command("declare Checkout errors @carol").status_code == 200
        assert sandbox.command("declare", timestamp=int(time.time()) - 600).status_code == 401
    finally:
        server.stop()
    assert sandbox.messages(GENERAL)[-1].text == "declared by <@U0COMMANDER>"
    assert sandbox.last_ephemeral(COMMANDER).text == "you said: declare Checkout errors <@U0OBSERVER|carol>"
