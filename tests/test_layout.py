"""The layout holds: the library knows no service, and the registry matches the services."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from shared.contracts.topics import TOPICS
from tools import registry

ROOT = Path(__file__).resolve().parent.parent
#: The library's modules. The contracts are the agreement between the services: naming
#: their topics and who sends and reads them is what they are for.
LIBRARY = [p for p in (ROOT / "shared").rglob("*.py")
           if not {"tests", "contracts"} & set(p.relative_to(ROOT).parts)]


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and node.body and isinstance(node.body[0], ast.Expr)
                and isinstance(node.body[0].value, ast.Constant)):
            found.add(id(node.body[0].value))
    return found


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_library_imports_no_service_nor_tool(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        modules = ([a.name for a in node.names] if isinstance(node, ast.Import)
                   else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        for module in modules:
            assert module.split(".")[0] not in {"services", "tools"}, (path, module)


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_library_module_names_a_service_in_its_code(path: Path) -> None:
    """Docstrings and comments may give an example; values may not (a default, a topic)."""
    tree = ast.parse(path.read_text())
    docstrings = _docstrings(tree)
    service = re.compile(rf"\b({'|'.join(registry.NAMES)})\b")
    named = [(node.lineno, node.value) for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str)
             and id(node) not in docstrings and service.search(node.value)]
    assert not named, (path, named)


@pytest.mark.parametrize("service", registry.SERVICES, ids=lambda s: s.name)
def test_every_registered_service_is_whole(service: registry.Service) -> None:
    settings = service.settings()
    assert settings.service_name == service.name
    assert settings.port == service.port
    assert (service.migrations / "env.py").is_file()
    assert callable(registry._load(service.app_factory))
    assert callable(registry._load(service.asgi_factory))
    assert service.demo_loader is None or callable(service.demo())


def test_every_topic_is_sent_and_read_by_registered_services() -> None:
    for topic in TOPICS:
        assert {topic.sender, *topic.receivers} <= set(registry.NAMES), topic
    assert len({s.port for s in registry.SERVICES}) == len(registry.SERVICES)
    assert sorted(t for s in registry.SERVICES for t in s.topics) == sorted(
        t.name for t in TOPICS)
