"""Block Kit's published limits (docs.slack.dev/reference/block-kit), as the fake Slack checks them.

Slack refuses a message or view that breaks one with `invalid_blocks` (`invalid_arguments` for a
view) and a json-pointer per problem; the fake answers the same way, so a button label or a
select option that grows past its limit fails in tests, not in a real workspace.
"""

from __future__ import annotations

from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
# Longest text per block type (the block's own `text`).
BLOCK_TEXT = {"section": 3000, "header": 150}
# Most elements per block type.
BLOCK_ELEMENTS = {"actions": 25, "context": 10}
SECTION_FIELDS, SECTION_FIELD_TEXT = 10, 2000
BLOCK_ID = 255
# Per interactive element type: the longest `text` (its label), and field -> longest value.
ELEMENT_TEXT = {"button": 75}
ELEMENT_FIELDS = {"action_id": 255, "value": 2000, "url": 3000}
SELECT_OPTIONS, OPTION_TEXT, OPTION_VALUE = 100, 75, 150
INPUT_LABEL, INPUT_HINT, PLACEHOLDER = 2000, 2000, 150
# Modal views: title, submit and close labels, and what an app may carry in them.
VIEW_LABELS = {"title": 24, "submit": 24, "close": 24}
VIEW_FIELDS = {"private_metadata": 3000, "callback_id": 255, "external_id": 255}


def too_long(limit: int, where: str) -> str:
    return f"[ERROR] must be less than {limit + 1} characters [json-pointer:{where}]"


def too_many(limit: int, where: str) -> str:
    return f"[ERROR] no more than {limit} items allowed [json-pointer:{where}]"


def _text_of(value: Any) -> str:
    return str(value.get("text", "")) if isinstance(value, dict) else ""


def element_problems(element: Any, where: str) -> list[str]:
    if not isinstance(element, dict):
        return []
    problems = []
    limit = ELEMENT_TEXT.get(str(element.get("type")))
    if limit is not None and len(_text_of(element.get("text"))) > limit:
        problems.append(too_long(limit, f"{where}/text/text"))
    for name, longest in ELEMENT_FIELDS.items():
        if len(str(element.get(name, ""))) > longest:
            problems.append(too_long(longest, f"{where}/{name}"))
    if len(_text_of(element.get("placeholder"))) > PLACEHOLDER:
        problems.append(too_long(PLACEHOLDER, f"{where}/placeholder/text"))
    options = element.get("options")
    if isinstance(options, list):
        if len(options) > SELECT_OPTIONS:
            problems.append(too_many(SELECT_OPTIONS, f"{where}/options"))
        for index, option in enumerate(options):
            if not isinstance(option, dict):
                continue
            if len(_text_of(option.get("text"))) > OPTION_TEXT:
                problems.append(too_long(OPTION_TEXT, f"{where}/options/{index}/text/text"))
            if len(str(option.get("value", ""))) > OPTION_VALUE:
                problems.append(too_long(OPTION_VALUE, f"{where}/options/{index}/value"))
    return problems


def block_problems(block: dict[str, Any], where: str) -> list[str]:
    kind = str(block["type"])
    problems = []
    limit = BLOCK_TEXT.get(kind)
    if limit and len(_text_of(block.get("text"))) > limit:
        problems.append(too_long(limit, f"{where}/text/text"))
    if len(str(block.get("block_id", ""))) > BLOCK_ID:
        problems.append(too_long(BLOCK_ID, f"{where}/block_id"))
    fields = block.get("fields")
    if isinstance(fields, list):
        if len(fields) > SECTION_FIELDS:
            problems.append(too_many(SECTION_FIELDS, f"{where}/fields"))
        problems += [
            too_long(SECTION_FIELD_TEXT, f"{where}/fields/{n}/text")
            for n, field in enumerate(fields)
            if len(_text_of(field)) > SECTION_FIELD_TEXT
        ]
    elements = block.get("elements")
    most = BLOCK_ELEMENTS.get(kind)
    if most is not None and isinstance(elements, list):
        if len(elements) > most:
            problems.append(too_many(most, f"{where}/elements"))
        for index, element in enumerate(elements):
            problems += element_problems(element, f"{where}/elements/{index}")
    if "accessory" in block:
        problems += element_problems(block["accessory"], f"{where}/accessory")
    if kind == "input":
        if len(_text_of(block.get("label"))) > INPUT_LABEL:
            problems.append(too_long(INPUT_LABEL, f"{where}/label/text"))
        if len(_text_of(block.get("hint"))) > INPUT_HINT:
            problems.append(too_long(INPUT_HINT, f"{where}/hint/text"))
        problems += element_problems(block.get("element"), f"{where}/element")
    return problems


def blocks_problems(
    blocks: Any, pointer: str = "/blocks", most: int = MAX_MESSAGE_BLOCKS
) -> list[str]:
    """Every limit `blocks` breaks, as Slack words them; [] when Slack would take them."""
    if not isinstance(blocks, list):
        return [f"[ERROR] must be an array [json-pointer:{pointer}]"]
    problems = [too_many(most, pointer)] if len(blocks) > most else []
    for index, block in enumerate(blocks):
        where = f"{pointer}/{index}"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            problems.append(f"[ERROR] missing required field: type [json-pointer:{where}]")
            continue
        problems += block_problems(block, where)
    return problems


def view_problems(view: dict[str, Any]) -> list[str]:
    """A modal's own limits and its blocks'."""
    problems = []
    for name, limit in VIEW_LABELS.items():
        if len(_text_of(view.get(name))) > limit:
            problems.append(too_long(limit, f"/view/{name}/text"))
    for name, limit in VIEW_FIELDS.items():
        if len(str(view.get(name, ""))) > limit:
            problems.append(too_long(limit, f"/view/{name}"))
    return problems + blocks_problems(view.get("blocks", []), "/view/blocks", MAX_VIEW_BLOCKS)
