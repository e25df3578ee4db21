"""The part of Slack's Block Kit validation that catches real mistakes before they reach a real workspace:
block and element types, required fields, length limits and duplicate ids.

Slack answers a bad message with `invalid_blocks` and one line per problem, each ending in a JSON pointer;
`problems()` returns those lines in the same form.
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS = 50
MAX_TEXT = 40_000

_BLOCK_TYPES = {
    "section",
    "divider",
    "image",
    "actions",
    "context",
    "input",
    "file",
    "header",
    "video",
    "rich_text",
    "markdown",
    "table",
}
_ELEMENT_TYPES = {
    "button",
    "checkboxes",
    "datepicker",
    "datetimepicker",
    "email_text_input",
    "image",
    "multi_static_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
    "multi_external_select",
    "number_input",
    "overflow",
    "plain_text_input",
    "radio_buttons",
    "static_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "external_select",
    "timepicker",
    "url_text_input",
    "rich_text_input",
    "workflow_button",
    "file_input",
}


def problems(blocks: Any) -> list[str]:
    """Everything Slack would reject in a message's blocks; empty when the blocks are fine."""
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    found: list[str] = []
    if len(blocks) > MAX_BLOCKS:
        found.append(f"must contain no more than {MAX_BLOCKS} items [json-pointer:/blocks]")
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        pointer = f"/blocks/{index}"
        if not isinstance(block, dict) or "type" not in block:
            found.append(f"missing required field: type [json-pointer:{pointer}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in block_ids:
                found.append(f"duplicate block_id [json-pointer:{pointer}/block_id]")
            block_ids.add(block_id)
            _check_length(found, block_id, 255, f"{pointer}/block_id")
        check = _BLOCK_CHECKS.get(block["type"])
        if check is None and block["type"] not in _BLOCK_TYPES:
            found.append(f"unsupported type: {block['type']} [json-pointer:{pointer}/type]")
        elif check is not None:
            check(block, pointer, found)
    return found


def _check_section(block: dict, pointer: str, found: list[str]) -> None:
    if "text" not in block and "fields" not in block:
        found.append(f"must provide either text or fields [json-pointer:{pointer}]")
    if "text" in block:
        _check_text(found, block["text"], f"{pointer}/text", limit=3000)
    fields = block.get("fields", [])
    if not isinstance(fields, list) or len(fields) > 10:
        found.append(f"must contain no more than 10 items [json-pointer:{pointer}/fields]")
    else:
        for i, item in enumerate(fields):
            _check_text(found, item, f"{pointer}/fields/{i}", limit=2000)
    if "accessory" in block:
        _check_element(found, block["accessory"], f"{pointer}/accessory")


def _check_header(block: dict, pointer: str, found: list[str]) -> None:
    _check_text(found, block.get("text"), f"{pointer}/text", limit=150, plain_only=True)


def _check_context(block: dict, pointer: str, found: list[str]) -> None:
    elements = block.get("elements")
    if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
        found.append(f"must contain between 1 and 10 items [json-pointer:{pointer}/elements]")
        return
    for i, element in enumerate(elements):
        if isinstance(element, dict) and element.get("type") == "image":
            continue
        _check_text(found, element, f"{pointer}/elements/{i}", limit=3000)


def _check_actions(block: dict, pointer: str, found: list[str]) -> None:
    elements = block.get("elements")
    if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
        found.append(f"must contain between 1 and 25 items [json-pointer:{pointer}/elements]")
        return
    action_ids: set[str] = set()
    for i, element in enumerate(elements):
        _check_element(found, element, f"{pointer}/elements/{i}")
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if action_id is not None:
            if action_id in action_ids:
                found.append(f"duplicate action_id [json-pointer:{pointer}/elements/{i}/action_id]")
            action_ids.add(action_id)


_BLOCK_CHECKS = {
    "section": _check_section,
    "header": _check_header,
    "context": _check_context,
    "actions": _check_actions,
}


def _check_element(found: list[str], element: Any, pointer: str) -> None:
    if not isinstance(element, dict) or element.get("type") not in _ELEMENT_TYPES:
        found.append(f"unsupported element type [json-pointer:{pointer}/type]")
        return
    if "action_id" in element:
        _check_length(found, element["action_id"], 255, f"{pointer}/action_id")
    if element["type"] == "button":
        _check_text(found, element.get("text"), f"{pointer}/text", limit=75, plain_only=True)
        if "value" in element:
            _check_length(found, element["value"], 2000, f"{pointer}/value")
        if "url" in element:
            _check_length(found, element["url"], 3000, f"{pointer}/url")
        if element.get("style") not in (None, "primary", "danger"):
            found.append(f"must be one of primary, danger [json-pointer:{pointer}/style]")


def _check_text(found: list[str], text: Any, pointer: str, limit: int, plain_only: bool = False) -> None:
    if not isinstance(text, dict) or text.get("type") not in ("plain_text", "mrkdwn"):
        found.append(f"must be a text object [json-pointer:{pointer}]")
        return
    if plain_only and text["type"] != "plain_text":
        found.append(f"must be plain_text [json-pointer:{pointer}/type]")
    value = text.get("text")
    if not isinstance(value, str) or not value:
        found.append(f"must be more than 0 characters [json-pointer:{pointer}/text]")
    else:
        _check_length(found, value, limit, f"{pointer}/text")


def _check_length(found: list[str], value: Any, limit: int, pointer: str) -> None:
    if not isinstance(value, str):
        found.append(f"must be a string [json-pointer:{pointer}]")
    elif len(value) > limit:
        found.append(f"must be less than {limit + 1} characters [json-pointer:{pointer}]")
