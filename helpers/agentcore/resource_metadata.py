"""How an MCP runtime tells a client where to log in: RFC 9728 and its challenge.

The runtime's MCP endpoint is InvokeAgentRuntime's URI, the layout AWS documents for MCP
servers on Runtime (``/runtimes/<url-encoded ARN>/invocations``). Its Protected Resource
Metadata sits where RFC 9728 §3.1 puts it for a URL with a path: the well-known prefix
inserted before that path. That second address is the lab's reading of the RFC; AWS does
not document one. The metadata names the authorization servers of the runtime's JWT
authorizer and the scopes it advertises (``allowedScopes`` renamed by
``advertisedScopeMapping``); a 401 points at it in ``WWW-Authenticate`` (RFC 9728 §5.1).
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

PREFIX = "/.well-known/oauth-protected-resource"
_INVOCATIONS = re.compile(r"^/runtimes/([^/]+)/invocations/?$")


def resource_url(base: str, arn: str) -> str:
    """The runtime's MCP endpoint without its query: the ``resource`` clients name."""
    return base + _invocations(arn)


def metadata_url(base: str, arn: str) -> str:
    return base + PREFIX + _invocations(arn)


def _invocations(arn: str) -> str:
    return f"/runtimes/{quote(arn, safe='')}/invocations"


def arn_in(raw_path: str) -> str | None:
    """The runtime ARN of a metadata request's path as sent, None if it names none."""
    if not raw_path.startswith(PREFIX + "/"):
        return None
    found = _INVOCATIONS.match(raw_path[len(PREFIX) :])
    return unquote(found.group(1)) if found else None


def document(resource: str, issuers: list[str], scopes: tuple[str, ...], name: str) -> dict:
    """The metadata of one runtime (RFC 9728 §2)."""
    metadata = {
        "resource": resource,
        "authorization_servers": issuers,
        "bearer_methods_supported": ["header"],  # MCP sends tokens in the header only
        "resource_name": name,
    }
    if scopes:
        metadata["scopes_supported"] = list(scopes)
    return metadata
