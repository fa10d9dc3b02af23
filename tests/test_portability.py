"""The course runs on Linux and macOS (and Windows through WSL2): no code of the package or
of a notebook's cells reaches for what only Linux has."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
# Paths only Linux has, and modules or calls that exist on Linux alone.
LINUX_ONLY = re.compile(r"""["'f](/proc/|/sys/)|\b(epoll|inotify|sched_setaffinity|prctl)\b""")


def code_of_package() -> dict[str, str]:
    """Each module's code without its docstrings (prose may mention /proc; code may not)."""
    sources = {}
    for path in sorted((ROOT / "helpers").rglob("*.py")):
        tree = ast.parse(path.read_text())
        documented = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
        for node in ast.walk(tree):
            if isinstance(node, documented) and ast.get_docstring(node) is not None:
                node.body[0] = ast.Pass()
        sources[str(path.relative_to(ROOT))] = ast.unparse(tree)
    return sources


def code_of_notebooks() -> dict[str, str]:
    return {
        str(path.relative_to(ROOT)): "\n".join(
            "".join(cell["source"])
            for cell in json.loads(path.read_text())["cells"]
            if cell["cell_type"] == "code"
        )
        for path in sorted((ROOT / "notebooks").glob("*.ipynb"))
    }


@pytest.mark.parametrize(
    ("name", "code"), sorted({**code_of_package(), **code_of_notebooks()}.items())
)
def test_no_linux_only_calls(name: str, code: str) -> None:
    assert LINUX_ONLY.findall(code) == []


def test_the_check_sees_a_proc_read() -> None:
    assert LINUX_ONLY.search('Path(f"/proc/{pid}/environ").read_bytes()')
    assert LINUX_ONLY.search("open('/proc/self/status')")
    assert not LINUX_ONLY.search("psutil.Process(pid).environ()")
