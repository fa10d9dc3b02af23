"""What a notebook made before its exercises, for solutions run on their own.

A worked solution runs in a lab where the notebook may not have run: it makes what it
needs if it is missing, and removes on the way out only what it made itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..lab import Lab


@contextmanager
def oauth2_provider_ready(lab: Lab, name: str, client_id: str) -> Iterator[None]:
    """The ``fitness-agent`` workload identity and the OAuth2 credential provider ``name``
    (client ``client_id`` at the lab's IdP) exist for the duration of the block."""
    import boto3
    from botocore.exceptions import ClientError

    control = boto3.client("bedrock-agentcore-control")
    provider = {
        "oauthDiscovery": {"discoveryUrl": lab.urls.discovery},
        "clientId": client_id,
        "clientSecret": lab.client_secret(client_id),
    }
    needed = [  # (get, create, delete)
        (
            lambda: control.get_workload_identity(name="fitness-agent"),
            lambda: control.create_workload_identity(name="fitness-agent"),
            lambda: control.delete_workload_identity(name="fitness-agent"),
        ),
        (
            lambda: control.get_oauth2_credential_provider(name=name),
            lambda: control.create_oauth2_credential_provider(
                name=name,
                credentialProviderVendor="CustomOauth2",
                oauth2ProviderConfigInput={"customOauth2ProviderConfig": provider},
            ),
            lambda: control.delete_oauth2_credential_provider(name=name),
        ),
    ]
    made_here = []
    try:
        for get, create, delete in needed:
            try:
                get()
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                    raise
                create()
                made_here.append(delete)
        yield
    finally:
        for delete in reversed(made_here):
            delete()
