"""Every problem text the code can send to people, found by reading the source (ast).

A text is the detail of a raised problem class, a per-field reason (`InvalidParam(reason=...)`,
`PydanticCustomError(code, text)`), or the message of an exception whose text becomes a
problem's detail (`raise Conflict(str(exc))`). f-strings and concatenations become samples:
each value inside is replaced by a stand-in, so the sample shows the template's literal parts.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("shared", "services")

#: Exceptions whose message a handler turns into a problem's detail or a field's reason.
MESSAGE_EXCEPTIONS = frozenset({
    "InvalidTransition", "TransitionNotPermitted", "InvalidOutcome", "IllegalStep",
    "MalformedFile", "GeometryFileError", "InvalidAllocationInput", "InfeasibleAllocation",
    "FileTooLarge", "MapTooLarge", "InvalidAreaCode", "Refusal", "HTTPException",
    "InvalidAddress", "BadFeatures",
})
#: Files whose ValueErrors are validators' (pydantic shows them as "Value error, ...").
VALIDATOR_FILES = ("schemas", "wire.py", "addresses.py")


@dataclass(frozen=True)
class Text:
    sample: str
    where: str


@functools.cache
def _problem_classes() -> frozenset[str]:
    """Names of ProblemError and its subclasses, however deep, in the source."""
    bases: dict[str, set[str]] = {}
    for path in _files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {b.id for b in node.bases if isinstance(b, ast.Name)}
    found = {"ProblemError"}
    while True:
        more = {n for n, b in bases.items() if b & found} - found
        if not more:
            return frozenset(found)
        found |= more


def _files(tops: tuple[str, ...] = SOURCES) -> Iterator[Path]:
    for top in tops:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "tests" not in path.parts and "migrations" not in path.parts:
                yield path


def _samples(node: ast.expr) -> list[str] | None:
    """What the expression renders to, with stand-ins for values; None: not a literal text."""
    if isinstance(node, ast.Constant):
        return [node.value] if isinstance(node.value, str) else None
    if isinstance(node, ast.JoinedStr):
        out = [""]
        for i, value in enumerate(node.values):
            if isinstance(value, ast.Constant):
                out = [o + str(value.value) for o in out]
            else:
                out = [o + f"v{i}" for o in out]
        return out
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _samples(node.left), _samples(node.right)
        if left is None and right is None:
            return None
        return [a + b for a in (left or ["v"]) for b in (right or ["v"])]
    if isinstance(node, ast.IfExp):
        body, orelse = _samples(node.body), _samples(node.orelse)
        if body is None and orelse is None:
            return None
        return (body or []) + (orelse or [])
    return None


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def texts(top: str | None = None) -> list[Text]:
    """The texts of the code under `top` (shared, services/signals, ...), or of all."""
    problems = _problem_classes() - {"ProblemError"}
    found: list[Text] = []
    for path in _files((top,) if top else SOURCES):
        rel = str(path.relative_to(ROOT))
        validators = any(part in rel for part in VALIDATOR_FILES)
        tree = ast.parse(path.read_text())
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            scope: ast.AST = node
            while scope in parents and not isinstance(scope, (ast.FunctionDef,
                                                               ast.AsyncFunctionDef)):
                scope = parents[scope]
            owner = parents.get(scope)
            owner_name = owner.name if isinstance(owner, ast.ClassDef) else None
            for arg in _message_args(node, problems, validators, owner_name):
                for expr in _resolved(arg, scope):
                    for sample in _samples(expr) or []:
                        found.append(Text(sample, f"{rel}:{node.lineno}"))
    return found


def _message_args(node: ast.AST, problems: frozenset[str], validators: bool,
                  owner: str | None) -> list[ast.expr]:
    """The arguments of a call that are texts for people."""
    if not isinstance(node, ast.Call):
        return []
    name = _name(node.func)
    if name == "__init__" and (owner in problems or owner in MESSAGE_EXCEPTIONS):
        return list(node.args[:1])  # super().__init__(message) of such a class
    if name in problems or name in MESSAGE_EXCEPTIONS:
        second = name in ("Refusal", "HTTPException", "InvalidAreaCode", "InvalidAddress")
        args = list(node.args[1:2] if second else node.args[:1])
        return args + [k.value for k in node.keywords if k.arg in ("detail", "message")]
    if name == "InvalidParam":
        return [k.value for k in node.keywords if k.arg == "reason"]
    if name == "PydanticCustomError":
        return list(node.args[1:2])
    if name == "ValueError" and validators:
        return list(node.args[:1])
    return []


def _resolved(arg: ast.expr, scope: ast.AST) -> list[ast.expr]:
    """A local name is read as what the function assigns to it (`why = f"..."`)."""
    if not isinstance(arg, ast.Name):
        return [arg]
    return [n.value for n in ast.walk(scope) if isinstance(n, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == arg.id for t in n.targets)]


def titles() -> list[Text]:
    """The title of every problem class and every title the shared handlers write."""
    found: list[Text] = []
    for path in _files():
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if (isinstance(item, ast.Assign) and any(
                            isinstance(t, ast.Name) and t.id == "title" for t in item.targets)
                            and isinstance(item.value, ast.Constant)):
                        found.append(Text(str(item.value.value), f"{rel}:{item.lineno}"))
            if isinstance(node, ast.Dict) and rel in ("shared/api.py", "shared/ratelimit.py"):
                for key, value in zip(node.keys, node.values, strict=True):
                    if (isinstance(value, ast.Constant) and isinstance(value.value, str)
                            and (isinstance(key, ast.Constant) and
                                 (isinstance(key.value, int) or key.value == "title"))):
                        found.append(Text(value.value, f"{rel}:{node.lineno}"))
            if (isinstance(node, ast.Call) and _name(node.func) == "problem_response"
                    and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)):
                found.append(Text(str(node.args[1].value), f"{rel}:{node.lineno}"))
    return found
