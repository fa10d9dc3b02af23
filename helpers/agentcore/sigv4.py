"""Verify AWS Signature Version 4 on incoming requests, with botocore's own signer.

The server recomputes the signature the way the client computed it — same canonical
request, same string to sign, same key derivation — by feeding the received request to
``botocore.auth.SigV4Auth``. Only the lab's principals (access key → secret) can sign.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.wrappers import Request

from .errors import AwsError

MAX_SKEW_S = 300  # AWS refuses signatures more than 5 minutes off
_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<headers>[^,]+), ?"
    r"Signature=(?P<sig>[0-9a-f]+)"
)


@dataclass(frozen=True)
class Principal:
    """A lab IAM identity: what it signs with and which actions its policy allows."""

    arn: str
    access_key: str
    secret_key: str
    allowed_actions: frozenset[str] = field(default_factory=frozenset)
    # Workload identities this principal may act as (None: any), like an IAM policy's
    # Resource element on the workload-identity ARNs, where "*" matches any characters.
    workloads: frozenset[str] | None = None

    def may(self, action: str) -> bool:
        return "bedrock-agentcore:*" in self.allowed_actions or action in self.allowed_actions

    def may_use_workload(self, name: str) -> bool:
        return self.workloads is None or any(fnmatchcase(name, w) for w in self.workloads)


def authenticate(
    request: Request, principals: dict[str, Principal], service: str, region: str
) -> Principal:
    """The principal that signed ``request``, or the error AWS would answer with."""
    header = request.headers.get("Authorization", "")
    match = _AUTH.fullmatch(header.strip())
    if not header:
        raise AwsError(
            "MissingAuthenticationTokenException", "Missing Authentication Token", status=403
        )
    if match is None:
        raise AwsError(
            "IncompleteSignatureException", "Authorization header is not SigV4.", status=403
        )
    principal = principals.get(match["key"])
    if principal is None:
        raise AwsError(
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
            status=403,
        )
    if match["region"] != region or match["service"] != service:
        raise AwsError(
            "InvalidSignatureException",
            f"Credential should be scoped to {region}/{service}.",
            status=403,
        )
    _check_skew(request.headers.get("X-Amz-Date", ""))
    _check_payload_hash(request)
    expected = _signature(request, principal, match["headers"].split(";"), service, region)
    if not hmac.compare_digest(expected, match["sig"]):
        raise AwsError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
            status=403,
        )
    return principal


def _check_skew(amz_date: str) -> None:
    try:
        signed_at = datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise AwsError(
            "IncompleteSignatureException", "Missing or malformed X-Amz-Date.", status=403
        ) from None
    if abs(time.time() - signed_at) > MAX_SKEW_S:  # wall time: the client signs with it
        raise AwsError("InvalidSignatureException", "Signature expired.", status=403)


def _check_payload_hash(request: Request) -> None:
    """A declared payload hash must be the body's: botocore's signer trusts the header over
    the body, so a signed hash with a swapped body would otherwise verify."""
    declared = request.headers.get("X-Amz-Content-SHA256")
    if declared is None:
        return
    actual = hashlib.sha256(request.get_data(cache=True)).hexdigest()
    if declared.lower() != actual:  # UNSIGNED-PAYLOAD too: only S3 accepts it
        raise AwsError(
            "InvalidSignatureException",
            "The provided x-amz-content-sha256 header does not match what was computed.",
            status=403,
        )


def _signature(
    request: Request, principal: Principal, signed: list[str], service: str, region: str
) -> str:
    """Rebuild the request as the client signed it and let botocore compute the signature."""
    raw_path = request.environ.get("RAW_URI") or request.full_path
    url = f"http://{request.host}{raw_path}"
    headers = {name: request.headers.get(name, "") for name in signed}
    aws_request = AWSRequest(
        method=request.method, url=url, headers=headers, data=request.get_data(cache=True)
    )
    aws_request.context["timestamp"] = request.headers["X-Amz-Date"]
    signer = SigV4Auth(Credentials(principal.access_key, principal.secret_key), service, region)
    canonical = signer.canonical_request(aws_request)
    return signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
