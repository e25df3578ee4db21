"""Only the gateway runs an action, and only the actions registry calls an executor: read from the code itself.
The import rules around them are import-linter contracts in pyproject.toml."""

from __future__ import annotations

import ast

from tests.support.paths import ROOT

EXECUTOR_CALLS = {"turn_off", "roll_back"}


def modules(*folders: str) -> dict[str, ast.Module]:
    found = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            found[str(path.relative_to(ROOT))] = ast.parse(path.read_text())
    return found


def called_attributes(tree: ast.Module) -> set[str]:
    return {
        node.func.attr for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }


def test_only_the_actions_registry_calls_an_executor():
    # Who may import executors is an import-linter contract (pyproject.toml); who calls them is read here.
    callers = {path for path, tree in modules("bot", "handlers").items() if called_attributes(tree) & EXECUTOR_CALLS}
    assert {p for p in callers if not p.startswith("bot/executors/")} == {"bot/approvals/actions.py"}


def action_runs(tree: ast.Module) -> bool:
    """A call of `execute` on an action: `ACTIONS[...].execute(...)` or on a name bound from ACTIONS."""
    bound = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Subscript)
        and getattr(node.value.value, "id", None) == "ACTIONS"
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "execute":
            receiver = node.func.value
            if (
                getattr(receiver, "id", None) in bound
                or getattr(getattr(receiver, "value", None), "id", None) == "ACTIONS"
            ):
                return True
    return False


def test_only_the_gateway_runs_an_action():
    code = modules("bot", "handlers")
    assert {path for path, tree in code.items() if action_runs(tree)} == {"bot/approvals/gateway.py"}
