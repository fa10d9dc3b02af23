"""Modules the course's processes do without: installed, costly, and never of use here.

jsonschema's ``format-nongpl`` extra installs rfc3987-syntax. Whenever jsonschema loads its
format checkers (jupyter_events in every Jupyter server, the MCP client checking a tool's
result against its output schema), rfc3987-syntax builds some 35 grammars for the ``iri``
formats: 2.3 s of CPU and about 15 MiB in each process that does, for formats that no
schema of the course, of Jupyter or of MCP uses. Without the module, jsonschema leaves only
those formats unchecked.
"""

from __future__ import annotations

import sys

SKIPPED = ("rfc3987_syntax",)


def skip() -> None:
    """From now on importing a module of :data:`SKIPPED` raises ImportError, which
    jsonschema reads as "not installed". A process that loaded one already keeps it."""
    for name in SKIPPED:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]
