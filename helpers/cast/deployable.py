"""The cast's deployable code: what a learner uploads to S3 for ``CreateAgentRuntime``.

``code_zip("coach")``, ``code_zip("mcp")`` and ``code_zip("weather")`` zip the entry point of each
(``runtime_code/<kind>/main.py``). In the lab the runtime's Python already has the
course's packages, so the zip carries only the entry point; a zip for AWS must carry
its dependencies as well.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

CODE = Path(__file__).parent / "runtime_code"
ENTRY_POINT = "main.py"


def code_zip(kind: str) -> bytes:
    """The code of ``kind`` ("coach", "mcp" or "weather") as a deployment zip."""
    folder = CODE / kind
    if not (folder / ENTRY_POINT).is_file():
        raise ValueError(f"no deployable code named {kind!r}: try 'coach', 'mcp' or 'weather'")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*.py")):
            # A fixed date: the same code makes the same zip, byte for byte.
            info = zipfile.ZipInfo(str(path.relative_to(folder)), date_time=(2026, 1, 1, 0, 0, 0))
            archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
