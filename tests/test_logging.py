"""What an operator reads in Steward's log: with LOG_FORMAT=json one JSON object per line, and every line written
for a Slack request or its job naming the request, the job and the incident, so one grep follows a command from the
door to Slack."""
from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from bot.cli import main
from bot.config import LogSettings, read_settings
from bot.runtime.logs import configure_logging
from tests.workspace import Workspace


@pytest.fixture
def log_output(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
               workspace: Workspace) -> Iterator[io.StringIO]:
    """The process log, set up the way `steward` sets it up from LOG_FORMAT (the test's parameter), with uvicorn's
    access lines on as `steward serve` has them (once the workspace's servers have started, which turn them off)."""
    monkeypatch.setenv("LOG_FORMAT", request.param)
    output = io.StringIO()
    root, access = logging.getLogger(), logging.getLogger("uvicorn.access")
    levels = root.level, access.level
    handler = configure_logging(read_settings(LogSettings).log_format, output)
    access.setLevel(logging.INFO)
    yield output
    root.removeHandler(handler)
    root.setLevel(levels[0])
    access.setLevel(levels[1])


def note_while_slack_refuses_the_post(workspace: Workspace) -> str:
    """An `/incident note` in an incident channel whose post to the channel Slack refuses (the port logs that
    failure from the job). Returns the incident id."""
    channel = workspace.declare("Checkout errors")
    workspace.slack.fail_next("chat.postMessage", "is_archived")
    workspace.command("note p99 back under 300ms after the rollback", channel=channel)
    return workspace.incident_id(channel)


@pytest.mark.parametrize("log_output", ["json"], indirect=True)
def test_a_slash_commands_json_lines_share_its_request_id_from_the_door_to_the_job(log_output, workspace):
    incident = note_while_slack_refuses_the_post(workspace)

    lines = [json.loads(line) for line in log_output.getvalue().splitlines()]  # each line one JSON object
    door = [line for line in lines if line["logger"] == "uvicorn.access" and "POST /slack/events" in line["message"]]
    failure = [line for line in lines if line["message"] == "Slack call Post failed after retries: is_archived"]
    assert len(failure) == 1
    assert failure[0]["level"] == "ERROR"
    assert failure[0]["incident_id"] == incident
    assert isinstance(failure[0]["job_id"], int)
    # Each request through the door (the declare, the events it caused, the note) has a request id of its own; the
    # note's, the last, is the job's.
    assert len(door) >= 2 and len({line["request_id"] for line in door}) == len(door)
    assert failure[0]["request_id"] == door[-1]["request_id"]
    assert "job_id" not in door[-1] and "incident_id" not in door[-1]


@pytest.mark.parametrize("log_output", ["text"], indirect=True)
def test_text_lines_name_the_request_job_and_incident_after_the_logger(log_output, workspace):
    incident = note_while_slack_refuses_the_post(workspace)

    failure = [line for line in log_output.getvalue().splitlines() if "Slack call Post failed" in line]
    assert len(failure) == 1
    assert re.search(rf" ERROR bot\.slack\.port \[request=[0-9a-f]{{16}} job=\d+ incident={incident}\]: "
                     r"Slack call Post failed after retries: is_archived$", failure[0]), failure[0]


def test_a_log_format_steward_does_not_know_is_refused_naming_the_setting(monkeypatch, capsys):
    monkeypatch.setenv("LOG_FORMAT", "yaml")
    assert main(["config", "schema"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "steward: LOG_FORMAT: Input should be 'text' or 'json'\n"
