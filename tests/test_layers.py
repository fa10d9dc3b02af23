"""The package's layers run one way (DESIGN §5), checked on the source itself.

    base  ←  services  ←  the lab and each service's lab_part  ←  teaching aids

A module may import from its own layer or the layers below it; a service (idp,
agentcore, cast, secrets) imports no other service: what one needs of another reaches it
as configuration, wired by the lab. Every import statement counts, wherever it stands in
the module, because a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "helpers"
BASE = {
    "aws",
    "aws_mode",
    "bearer",
    "browser",
    "horizon",
    "clock",
    "display",
    "jwks",
    "jwt_check",
    "lab_only",
    "masking",
    "processes",
    "rfc8693",
    "serving",
    "skipped_imports",
    "stopped",
    "web",
}
SERVICES = {"idp", "agentcore", "cast", "secrets"}
LAB = {"lab", "stride", "jupyterlab_server", "__main__", "__init__"}
TEACHING = {"widgets", "diagrams", "exercises", "mcp_login", "mcp_attacks"}
RANKS = {"base": 0, "service": 1, "lab": 2, "teaching": 3}
# What a notebook that only draws or inspects must not pay for, nor depend on.
HEAVY = ("boto3", "botocore", "moto", "hvac", "uvicorn", "starlette", "werkzeug", "flask")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> tuple[str, str | None]:
    """(layer, service) of a module of the package; the service only for services."""
    parts = module.split(".")[1:] or ["__init__"]
    top = parts[0]
    if top in BASE:
        return "base", None
    if top in SERVICES:
        return ("lab", None) if parts[-1] == "lab_part" else ("service", top)
    if top in LAB:
        return "lab", None
    if top in TEACHING:
        return "teaching", None
    raise AssertionError(f"{module}: put it in a layer (tests/test_layers.py)")


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(module: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that ``module`` imports, relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # "from .x import y" imports the submodule x.y, or a name defined in x.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != "helpers" and target != module:
                found.add(target)
    return found


def climbing_or_crossing() -> list[str]:
    known = modules()
    problems = []
    for module, path in known.items():
        here, service = layer(module)
        for target in sorted(imported(module, path, set(known))):
            there, other = layer(target)
            if RANKS[there] > RANKS[here]:
                problems.append(f"{module} ({here}) imports {target} ({there}): climbs")
            elif here == there == "service" and service != other:
                problems.append(f"{module} imports {target}: crosses from {service} to {other}")
    return problems


def test_every_module_has_a_layer() -> None:
    for module in modules():
        layer(module)


def test_imports_never_climb_nor_cross_between_services() -> None:
    assert climbing_or_crossing() == []


def test_the_walker_sees_a_crossing_and_a_climb(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The check itself, on a made-up package: it must not pass by seeing nothing."""
    fake = tmp_path / "helpers"
    for name, source in {
        "__init__.py": "",
        "clock.py": "from .lab import Lab\n",  # base climbs to the lab
        "lab.py": "",
        "idp/__init__.py": "",
        "idp/app.py": "def f():\n    from ..cast import agent\n",  # service crosses
        "cast/__init__.py": "",
        "cast/agent.py": "",
    }.items():
        (fake / name).parent.mkdir(parents=True, exist_ok=True)
        (fake / name).write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert climbing_or_crossing() == [
        "helpers.clock (base) imports helpers.lab (lab): climbs",
        "helpers.idp.app imports helpers.cast.agent: crosses from idp to cast",
    ]


def teaching_modules() -> list[str]:
    return [m for m in modules() if m.startswith(("helpers.widgets", "helpers.diagrams"))]


@pytest.mark.parametrize("module", teaching_modules())
def test_a_widget_or_diagram_loads_no_aws_vault_or_server_library(module: str) -> None:
    probe = f"import sys, {module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == []
