"""No executor is reachable from handlers/ except through bot/approvals/gateway.py: read from the code itself."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXECUTOR_CALLS = {"turn_off", "roll_back"}


def modules(*folders: str) -> dict[str, ast.Module]:
    found = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            found[str(path.relative_to(ROOT))] = ast.parse(path.read_text())
    return found


def imported(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def called_attributes(tree: ast.Module) -> set[str]:
    return {node.func.attr for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)}


def test_handlers_import_neither_executors_nor_mitigations():
    for path, tree in modules("handlers").items():
        reached = {name for name in imported(tree) if name.startswith(("bot.executors", "bot.approvals.actions", "bot.approvals.gateway"))}
        assert reached == set(), f"{path} imports {reached}"


def test_only_mitigations_import_executors_and_only_it_calls_them():
    code = modules("bot")
    importers = {path for path, tree in code.items() if any(n.startswith("bot.executors") for n in imported(tree))}
    assert {p for p in importers if not p.startswith("bot/executors/")} == {"bot/approvals/actions.py", "bot/approvals/gateway.py"}
    callers = {path for path, tree in code.items() if called_attributes(tree) & EXECUTOR_CALLS}
    assert {p for p in callers if not p.startswith("bot/executors/")} == {"bot/approvals/actions.py"}


def action_runs(tree: ast.Module) -> bool:
    """A call of `execute` on an action: `ACTIONS[...].execute(...)` or on a name bound from ACTIONS."""
    bound = {target.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
             and isinstance(node.value, ast.Subscript) and getattr(node.value.value, "id", None) == "ACTIONS"
             for target in node.targets if isinstance(target, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "execute":
            receiver = node.func.value
            if getattr(receiver, "id", None) in bound or getattr(getattr(receiver, "value", None), "id", None) == "ACTIONS":
                return True
    return False


def test_only_the_gateway_runs_an_action():
    code = modules("bot", "handlers")
    assert {path for path, tree in code.items() if action_runs(tree)} == {"bot/approvals/gateway.py"}
    users = {path for path, tree in code.items() if any(n == "bot.approvals.gateway" or n.startswith("bot.approvals.gateway.") for n in imported(tree))}
    assert users <= {"bot/approvals/flow.py"}
