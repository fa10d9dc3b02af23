"""OAuth2 credential providers with ``clientAuthenticationMethod: PRIVATE_KEY_JWT``: the
client assertion signed by a KMS key (RFC 7523), verified by the lab IdP with the public key
its administrator registered. No secret exists anywhere to steal; a captured assertion
works once; refusals at create are clear (ValidationException, or 501 for what is not
emulated) and make nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import requests
from botocore.client import BaseClient
from botocore.exceptions import ClientError

from helpers import aws
from helpers.agentcore.client_assertions import KmsSignedJwt
from helpers.jwt_check import decode_unverified
from helpers.lab import Lab

CLIENT = "nightly-report-key"
PROVIDER = "nightly-report-key"
WORKLOAD = "nightly-report"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(agentcore=True) as lab:
        yield lab


@pytest.fixture(scope="module")
def kms(lab: Lab) -> BaseClient:
    return aws.client("kms", lab.agentcore.moto.url, aws.OPERATOR)


@pytest.fixture(scope="module")
def control(lab: Lab) -> BaseClient:
    return aws.client(
        "bedrock-agentcore-control", lab.agentcore.identity.control_server.url, aws.OPERATOR
    )


def signing_key(kms: BaseClient, spec: str = "RSA_2048") -> str:
    return kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec=spec)["KeyMetadata"]["Arn"]


@pytest.fixture(scope="module")
def key_arn(lab: Lab, kms: BaseClient) -> str:
    arn = signing_key(kms)
    lab.register_key_client(CLIENT, kms.get_public_key(KeyId=arn)["PublicKey"], "activities:read")
    return arn


def config(lab: Lab, key: str, **changes: object) -> dict:
    custom = {
        "oauthDiscovery": {"discoveryUrl": lab.urls.discovery},
        "clientId": CLIENT,
        "clientAuthenticationMethod": "PRIVATE_KEY_JWT",
        "privateKeyJwtConfig": {
            "privateKeySource": {"kmsKeySource": {"kmsKeyArn": key}},
            "signingAlgorithm": "RS256",
        },
        **changes,
    }
    return {"customOauth2ProviderConfig": {k: v for k, v in custom.items() if v is not None}}


@pytest.fixture(scope="module")
def provider(lab: Lab, control: BaseClient, key_arn: str) -> dict:
    created = control.create_oauth2_credential_provider(
        name=PROVIDER, credentialProviderVendor="CustomOauth2",
        oauth2ProviderConfigInput=config(lab, key_arn),
    )  # fmt: skip
    control.create_workload_identity(name=WORKLOAD)
    return created


def m2m_token(lab: Lab, provider: str = PROVIDER) -> dict:
    data = aws.client("bedrock-agentcore", lab.agentcore.identity.data_server.url, aws.OPERATOR)
    wat = data.get_workload_access_token(workloadName=WORKLOAD)["workloadAccessToken"]
    return data.get_resource_oauth2_token(
        workloadIdentityToken=wat,
        resourceCredentialProviderName=provider,
        scopes=["activities:read"],
        oauth2Flow="M2M",
    )


def test_a_machine_token_comes_with_an_assertion_signed_in_kms(lab: Lab, provider: dict) -> None:
    token = m2m_token(lab)["accessToken"]
    claims = decode_unverified(token)[1]
    assert claims["client_id"] == CLIENT and claims["scope"] == "activities:read"
    seen = lab.idp.store.token_log[-1]
    assert seen["client_auth"] == "private_key_jwt"
    assert seen["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert "client_secret" not in seen


def test_the_provider_holds_no_secret(lab: Lab, control: BaseClient, provider: dict) -> None:
    got = control.get_oauth2_credential_provider(name=PROVIDER)
    assert "clientSecretArn" not in got and "clientSecretArn" not in provider
    out = got["oauth2ProviderConfigOutput"]["customOauth2ProviderConfig"]
    assert out["clientAuthenticationMethod"] == "PRIVATE_KEY_JWT"
    assert out["privateKeyJwtConfig"]["signingAlgorithm"] == "RS256"
    assert lab.idp.store.clients[CLIENT].client_secret == ""  # the IdP has none either


def assertion(lab: Lab, kms: BaseClient, key: str, audience: str | None = None) -> str:
    """An assertion as the provider's token requests carry it, signed by ``key``."""
    auth = SimpleNamespace(client_id=CLIENT)
    return KmsSignedJwt(kms, key, "RS256").sign(auth, audience or f"{lab.urls.issuer}/token")


def token_with(lab: Lab, signed: str) -> requests.Response:
    form = {
        "grant_type": "client_credentials",
        "scope": "activities:read",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": signed,
    }
    return requests.post(f"{lab.urls.issuer}/token", data=form, timeout=10)


@pytest.mark.attack
def test_a_captured_assertion_works_once(lab: Lab, kms: BaseClient, key_arn: str) -> None:
    captured = assertion(lab, kms, key_arn)
    assert token_with(lab, captured).status_code == 200  # its one use
    replayed = token_with(lab, captured)
    # RFC 6749 §5.2: invalid_client, 400 when no Authorization header was tried.
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_client"


@pytest.mark.attack
def test_an_assertion_signed_by_another_key_is_refused(
    lab: Lab, kms: BaseClient, key_arn: str
) -> None:
    resp = token_with(lab, assertion(lab, kms, signing_key(kms)))
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_client"


@pytest.mark.attack
def test_an_assertion_for_another_server_is_refused(
    lab: Lab, kms: BaseClient, key_arn: str
) -> None:
    resp = token_with(lab, assertion(lab, kms, key_arn, "https://other.example/token"))
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_client"


@pytest.mark.attack
def test_the_key_client_cannot_use_an_empty_secret(lab: Lab, key_arn: str) -> None:
    form = {"grant_type": "client_credentials", "scope": "activities:read"}
    resp = requests.post(f"{lab.urls.issuer}/token", data=form, auth=(CLIENT, ""), timeout=10)
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"


def test_an_ec_key_signs_es256_assertions(
    lab: Lab, control: BaseClient, kms: BaseClient, provider: dict
) -> None:
    algorithm = "ES256"  # KMS answers ECDSA in DER; the assertion carries r and s (JWS)
    key = signing_key(kms, "ECC_NIST_P256")
    client_id = f"report-{algorithm.lower()}"
    lab.register_key_client(
        client_id, kms.get_public_key(KeyId=key)["PublicKey"], "activities:read"
    )
    custom = config(lab, key, clientId=client_id)
    custom["customOauth2ProviderConfig"]["privateKeyJwtConfig"]["signingAlgorithm"] = algorithm
    name = f"report-{algorithm.lower()}"
    control.create_oauth2_credential_provider(
        name=name, credentialProviderVendor="CustomOauth2", oauth2ProviderConfigInput=custom
    )
    token = m2m_token(lab, name)["accessToken"]
    assert decode_unverified(token)[1]["client_id"] == client_id
    assert lab.idp.store.token_log[-1]["client_auth"] == "private_key_jwt"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"privateKeyJwtConfig": None}, "ValidationException"),
        ({"clientSecret": "also-a-secret"}, "ValidationException"),
        ({"clientAuthenticationMethod": "CLIENT_SECRET_BASIC"}, "ValidationException"),
        ({"clientAuthenticationMethod": "AWS_IAM_ID_TOKEN_JWT"}, "NotImplementedException"),
        ("symmetric", "ValidationException"),
        ("ES256 with an RSA key", "ValidationException"),
        ("PS256", "NotImplementedException"),
        ("no-such-key", "ValidationException"),
    ],
    ids=["no_config", "with_secret", "config_without_method", "iam_token", "symmetric_key",
         "algorithm_the_key_lacks", "ps256", "unknown_key"],
)  # fmt: skip
def test_a_provider_that_could_not_sign_is_refused_at_create(
    lab: Lab, control: BaseClient, kms: BaseClient, key_arn: str, changes: object, code: str
) -> None:
    if changes == "symmetric":
        custom = config(lab, kms.create_key()["KeyMetadata"]["Arn"])
    elif changes == "PS256":
        custom = config(lab, key_arn)
        custom["customOauth2ProviderConfig"]["privateKeyJwtConfig"]["signingAlgorithm"] = "PS256"
    elif changes == "ES256 with an RSA key":
        custom = config(lab, key_arn)
        custom["customOauth2ProviderConfig"]["privateKeyJwtConfig"]["signingAlgorithm"] = "ES256"
    elif changes == "no-such-key":
        custom = config(lab, key_arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000")
    else:
        custom = config(lab, key_arn, **changes)
    before = control.list_oauth2_credential_providers()["credentialProviders"]
    with pytest.raises(ClientError) as refused:
        control.create_oauth2_credential_provider(
            name="refused", credentialProviderVendor="CustomOauth2",
            oauth2ProviderConfigInput=custom,
        )  # fmt: skip
    assert refused.value.response["Error"]["Code"] == code
    assert control.list_oauth2_credential_providers()["credentialProviders"] == before
