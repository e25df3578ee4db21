"""What an operator reads in Steward's log: with LOG_FORMAT=json one JSON object per line, and every line written
for a Slack request or its job naming the request, the job and the incident, so one grep follows a command from the
door to Slack."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from bot.cli import main
from bot.config import LogFormat, LogSettings, read_settings
from bot.runtime.jobs import job
from bot.runtime.logs import configure_logging, request_context
from bot.runtime.worker import Worker
from tests.support.workspace import COMMANDER, Workspace


@contextmanager
def steward_log(log_format: LogFormat) -> Iterator[io.StringIO]:
    """The process log as `steward` sets it up, written here instead of stderr."""
    output, root = io.StringIO(), logging.getLogger()
    level = root.level
    handler = configure_logging(log_format, output)
    try:
        yield output
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def log_output(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, workspace: Workspace
) -> Iterator[io.StringIO]:
    """The log in the LOG_FORMAT of the test's parameter, read as `steward` reads it, with uvicorn's access lines on
    as `steward serve` has them (once the workspace's servers have started, which turn them off)."""
    monkeypatch.setenv("LOG_FORMAT", request.param)
    access = logging.getLogger("uvicorn.access")
    level = access.level
    with steward_log(read_settings(LogSettings).log_format) as output:
        access.setLevel(logging.INFO)
        yield output
    access.setLevel(level)


@job
def warn(rt: object, text: str) -> None:
    logging.getLogger("tests.job").warning(text)


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
    assert re.search(
        rf" ERROR bot\.slack\.port \[request=[0-9a-f]{{16}} job=\d+ incident={incident}\]: "
        r"Slack call Post failed after retries: is_archived$",
        failure[0],
    ), failure[0]


def test_a_log_format_steward_does_not_know_is_refused_naming_the_setting(monkeypatch, capsys):
    monkeypatch.setenv("LOG_FORMAT", "yaml")
    assert main(["config", "schema"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "steward: LOG_FORMAT: Input should be 'text' or 'json'\n"


def test_a_stored_job_logs_under_its_requests_id_when_another_worker_runs_it(db, clock):
    acked = Worker(db, clock)
    with request_context("0123456789abcdef"):
        acked.submit("C1", warn, "disk almost full")
    acked.shutdown()  # stored, not run: the next worker (after a restart, say) runs it

    with steward_log("json") as output:
        runner = Worker(db, clock)
        runner.run_here(SimpleNamespace())
        try:
            assert runner.wait_idle()
        finally:
            runner.shutdown()

    lines = [json.loads(line) for line in output.getvalue().splitlines()]
    warning = [line for line in lines if line["message"] == "disk almost full"]
    assert len(warning) == 1
    assert warning[0]["request_id"] == "0123456789abcdef"
    assert isinstance(warning[0]["job_id"], int)
    assert "incident_id" not in warning[0]


@pytest.mark.parametrize("log_output", ["json"], indirect=True)
def test_a_clicks_lines_carry_the_incident_the_button_belongs_to(log_output, workspace):
    channel = workspace.declare("Checkout errors")
    incident = workspace.incident_id(channel)
    workspace.command("status", channel=channel)
    draft = workspace.slack.last_ephemeral(COMMANDER)
    workspace.slack.fail_next("chat.postMessage", "is_archived")  # the published update's post

    assert workspace.slack.click_button(draft, "status_publish", user=COMMANDER).status_code == 200
    workspace.settle()

    lines = [json.loads(line) for line in log_output.getvalue().splitlines()]
    [failure] = [
        line for line in lines if line["message"].startswith("Slack call") and "is_archived" in line["message"]
    ]
    assert failure["incident_id"] == incident
    assert isinstance(failure["job_id"], int)
