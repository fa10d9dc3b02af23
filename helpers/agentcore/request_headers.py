"""Which of a caller's request headers a runtime passes on to its code.

``requestHeaderConfiguration.requestHeaderAllowlist`` names them. The rules are those of
AgentCore Runtime's developer guide ("Pass custom headers"): any valid header name but
the restricted ones and those AWS reserves (``x-amz-*``; ``x-amzn-*`` but for the
``X-Amzn-Bedrock-AgentCore-Runtime-Custom-`` prefix); ``Authorization`` only for a runtime
with a JWT authorizer; at most 20, compared without case; values up to 4 KB.
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import AwsError, validation_error

CUSTOM_PREFIX = "x-amzn-bedrock-agentcore-runtime-custom-"
MAX_VALUE_BYTES = 4096
# Headers that describe the connection or the message rather than the caller's context.
RESTRICTED = frozenset(
    {
        "proxy-authorization",
        "www-authenticate",
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "content-type",
        "content-length",
        "content-encoding",
        "content-language",
        "content-location",
        "content-range",
        "cache-control",
        "etag",
        "expires",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "last-modified",
        "pragma",
        "vary",
        "connection",
        "keep-alive",
        "proxy-connection",
        "upgrade",
        "host",
        "referer",
        "user-agent",
        "from",
        "range",
        "accept-ranges",
        "transfer-encoding",
        "te",
        "trailer",
    }
)


def allowlist_of(config: dict, *, jwt_authorizer: bool) -> frozenset[str]:
    """The lower-cased header names a runtime's configuration lets through, or a
    ValidationException naming the first header it may not."""
    names = config.get("requestHeaderConfiguration", {}).get("requestHeaderAllowlist", [])
    lowered = [name.lower() for name in names]
    if len(set(lowered)) != len(lowered):
        raise _refused("The allow-list names a header twice (names compare without case).")
    for name in lowered:
        if name == "authorization" and not jwt_authorizer:
            raise _refused("Only a runtime with a JWT authorizer can pass on Authorization.")
        if name in RESTRICTED:
            raise _refused(f"{name} is a restricted header.")
        if name.startswith("x-amz-") or (
            name.startswith("x-amzn-") and not name.startswith(CUSTOM_PREFIX)
        ):
            raise _refused(f"{name}: x-amz- and x-amzn- headers are reserved for AWS.")
    return frozenset(lowered)


def passed_on(allowlist: frozenset[str], headers: Mapping[str, str]) -> dict[str, str]:
    """The caller's headers the allow-list names (Authorization aside: the front door
    handles the verified token itself)."""
    passed = {
        name: value
        for name, value in headers.items()
        if name.lower() in allowlist and name.lower() != "authorization"
    }
    for name, value in passed.items():
        if len(value.encode()) > MAX_VALUE_BYTES:
            raise AwsError("ValidationException", f"Header {name} is over 4 KB.")
    return passed


def _refused(message: str) -> AwsError:
    return validation_error(message, [("requestHeaderAllowlist", message)])
