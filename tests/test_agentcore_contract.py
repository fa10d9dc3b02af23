"""Contract tests of the AgentCore Identity emulator, as boto3 and the wire see it.

Every Identity operation of ``bedrock-agentcore-control`` and ``bedrock-agentcore`` is
called through the real boto3 client: the modeled HTTP status on success, and the modeled
error (code, status, ``reason``, ``fieldList``) on each failure the service defines.
Checks that botocore makes on the client side (a missing required member, a too-short
string) are bypassed with ``parameter_validation=False`` or with a raw request signed by
botocore's own SigV4 signer, so the emulator's server-side checks are what is tested.

One lab serves the whole module. Tests that move the lab clock only ever use tokens they
mint themselves; names are unique per test, so tests do not depend on each other's order.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime

import botocore.session
import pytest
import requests
from botocore.awsrequest import AWSPreparedRequest
from botocore.client import BaseClient
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from conftest import Forger, call_api, login_tokens, sign
from cryptography.hazmat.primitives.asymmetric import rsa

from helpers import aws
from helpers.lab import Lab

attack = pytest.mark.attack

CONTROL, DATA = "bedrock-agentcore-control", "bedrock-agentcore"
IDENTITY_URIS = ("/identities", "/tags")  # what "an Identity operation" means below
TIMEOUT = 10
AGENT, MCP = "fitness-agent", "fitness-mcp"  # the workloads the runtime principals may use
OUTBOUND = "agentcore-outbound"  # the lab IdP client AgentCore fetches M2M tokens with
PROVIDER_QUOTA = 50
MANAGED_SECRET_PREFIX = "bedrock-agentcore-identity!default"

# Identity operations of the models that the lab deliberately does not emulate. They must
# answer 501 NotImplementedException, never a fake success.
_CONSENT = "Consent portals host a vendor consent page on AWS; the lab's IdP has its own."
_PAYMENT = "Payment credentials talk to payment networks; nothing of the kind runs offline."
NOT_EMULATED: dict[str, str] = {
    "CreateConsentPortal": _CONSENT,
    "GetConsentPortal": _CONSENT,
    "UpdateConsentPortal": _CONSENT,
    "DeleteConsentPortal": _CONSENT,
    "ListConsentPortals": _CONSENT,
    "CreatePaymentCredentialProvider": _PAYMENT,
    "GetPaymentCredentialProvider": _PAYMENT,
    "UpdatePaymentCredentialProvider": _PAYMENT,
    "DeletePaymentCredentialProvider": _PAYMENT,
    "ListPaymentCredentialProviders": _PAYMENT,
    "GetResourcePaymentToken": _PAYMENT,
}


# -- the lab and its clients ------------------------------------------------------------
@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    """One lab with AgentCore for the module (it overrides the session lab of conftest)."""
    lab = Lab(agentcore=True)
    yield lab
    lab.stop()


def _client(service: str, url: str, creds: aws.LabCredentials, **config: object) -> BaseClient:
    """No retries: every error the server answers reaches the test. (botocore reads
    ``max_attempts`` as retries *after* the first attempt; ``total_max_attempts`` counts all.)"""
    retries = {"total_max_attempts": 1}
    return aws.client(service, url, creds, config=Config(retries=retries, **config))


@pytest.fixture(scope="module")
def control_url(lab: Lab) -> str:
    return lab.agentcore.identity.control_server.url


@pytest.fixture(scope="module")
def data_url(lab: Lab) -> str:
    return lab.agentcore.identity.data_server.url


@pytest.fixture(scope="module")
def control(control_url: str) -> BaseClient:
    return _client(CONTROL, control_url, aws.OPERATOR)


@pytest.fixture(scope="module")
def unchecked(control_url: str) -> BaseClient:
    """The control client without botocore's own input checks: the server must catch it."""
    return _client(CONTROL, control_url, aws.OPERATOR, parameter_validation=False)


@pytest.fixture(scope="module")
def data(data_url: str) -> BaseClient:
    return _client(DATA, data_url, aws.OPERATOR)


@pytest.fixture(scope="module")
def data_unchecked(data_url: str) -> BaseClient:
    return _client(DATA, data_url, aws.OPERATOR, parameter_validation=False)


@pytest.fixture(scope="module")
def agent(data_url: str) -> BaseClient:
    """The fitness agent's runtime role: data-plane calls for workload fitness-agent only."""
    return _client(DATA, data_url, aws.AGENT_RUNTIME)


@pytest.fixture(scope="module")
def mcp(data_url: str) -> BaseClient:
    return _client(DATA, data_url, aws.MCP_RUNTIME)


@pytest.fixture(scope="module")
def secretsmanager(lab: Lab) -> BaseClient:
    return aws.client("secretsmanager", lab.agentcore.moto.url, aws.OPERATOR)


@pytest.fixture(scope="module")
def kms(lab: Lab) -> BaseClient:
    return aws.client("kms", lab.agentcore.moto.url, aws.OPERATOR)


@pytest.fixture(scope="module")
def workloads(control: BaseClient) -> None:
    for name in (AGENT, MCP):
        control.create_workload_identity(name=name)


@pytest.fixture(scope="module")
def lab_idp(lab: Lab, control: BaseClient) -> str:
    """An OAuth2 credential provider for the lab IdP, found through its discovery URL."""
    name = fresh("lab-idp")
    control.create_oauth2_credential_provider(**custom_oauth2(lab, name))
    return name


@pytest.fixture(scope="module")
def api_key_provider(control: BaseClient) -> str:
    """A MANAGED API key provider for the data-plane tests."""
    name = fresh("weather")
    control.create_api_key_credential_provider(name=name, apiKey="sk-weather")
    return name


# -- small moves ------------------------------------------------------------------------
def fresh(prefix: str) -> str:
    """A name no other test uses (the lab is shared by the whole module)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def status(resp: dict) -> int:
    return resp["ResponseMetadata"]["HTTPStatusCode"]


def refused(call: Callable[..., dict], code: str, http_status: int, **params: object) -> dict:
    """Call, expect the modeled error ``code`` with ``http_status``; the error response."""
    with pytest.raises(ClientError) as info:
        call(**params)
    resp = info.value.response
    assert resp["Error"]["Code"] == code, resp["Error"]
    assert status(resp) == http_status
    return resp


def names_field(error: dict, field: str) -> bool:
    """Whether ``fieldList`` names ``field`` (as itself or as the tail of a dotted path)."""
    names = [f["name"] for f in error.get("fieldList", [])]
    return any(n == field or n.endswith("." + field) for n in names)


def invalid(call: Callable[..., dict], field: str, **params: object) -> dict:
    """Expect a ValidationException whose ``fieldList`` names ``field``."""
    resp = refused(call, "ValidationException", 400, **params)
    assert resp["reason"] == "FieldValidationFailed"
    assert names_field(resp, field), resp.get("fieldList")
    return resp


def send(request: AWSPreparedRequest, body: bytes | None = None) -> requests.Response:
    """Send a signed request; ``body`` replaces the signed body (a man in the middle)."""
    return requests.request(
        request.method,
        request.url,
        headers=dict(request.headers),
        data=request.body if body is None else body,
        timeout=TIMEOUT,
    )


def raw(url: str, path: str, body: object = None, **kwargs: object) -> requests.Response:
    return send(sign(url, path, body, **kwargs))


def raw_error(resp: requests.Response, code: str, http_status: int) -> dict:
    """The rest-json error on the wire: status, ``x-amzn-ErrorType``, JSON body."""
    assert resp.status_code == http_status, resp.text
    assert resp.headers["x-amzn-ErrorType"] == code, resp.text
    return resp.json()


def raw_invalid(resp: requests.Response, field: str) -> dict:
    body = raw_error(resp, "ValidationException", 400)
    assert body["reason"] == "FieldValidationFailed"
    assert names_field(body, field), body
    return body


def custom_oauth2(lab: Lab, name: str, discovery: dict | None = None, **config: object) -> dict:
    """CreateOauth2CredentialProvider input: CustomOauth2 with the lab IdP's outbound client."""
    custom = {
        "oauthDiscovery": discovery or {"discoveryUrl": lab.urls.discovery},
        "clientId": OUTBOUND,
        "clientSecret": lab.client_secret(OUTBOUND),
        **config,
    }
    return {
        "name": name,
        "credentialProviderVendor": "CustomOauth2",
        "oauth2ProviderConfigInput": {"customOauth2ProviderConfig": custom},
    }


def lab_metadata(lab: Lab) -> dict:
    """The lab IdP's endpoints, given inline instead of through discovery."""
    doc = requests.get(lab.urls.discovery, timeout=TIMEOUT).json()
    return {
        "issuer": doc["issuer"],
        "authorizationEndpoint": doc["authorization_endpoint"],
        "tokenEndpoint": doc["token_endpoint"],
    }


def external_secret(secretsmanager: BaseClient, value: dict) -> str:
    """A customer-owned secret (EXTERNAL): its ARN."""
    secret = secretsmanager.create_secret(Name=fresh("team/api"), SecretString=json.dumps(value))
    return secret["ARN"]


def secret_exists(secretsmanager: BaseClient, secret_id: str) -> bool:
    try:
        secretsmanager.describe_secret(SecretId=secret_id)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ResourceNotFoundException"
        return False
    return True


def secret_value(secretsmanager: BaseClient, secret_id: str) -> dict:
    return json.loads(secretsmanager.get_secret_value(SecretId=secret_id)["SecretString"])


def list_all(call: Callable[..., dict], key: str, page_size: int) -> list[list[str]]:
    """Every page of a List* operation, as lists of names, following nextToken."""
    pages, params = [], {"maxResults": page_size}
    while True:
        resp = call(**params)
        assert status(resp) == 200
        pages.append([item["name"] for item in resp[key]])
        if "nextToken" not in resp:
            return pages
        params["nextToken"] = resp["nextToken"]


def wat(client: BaseClient, workload: str = AGENT) -> str:
    return client.get_workload_access_token(workloadName=workload)["workloadAccessToken"]


def user_access_token(lab: Lab) -> str:
    """A real access token of alice from the lab IdP, for the fitness agent (audience)."""
    return login_tokens(lab, scope="openid agent:invoke")["access_token"]


# == control plane: workload identities ==================================================
def test_workload_identity_lifecycle(control: BaseClient) -> None:
    name = fresh("coach")
    created = control.create_workload_identity(
        name=name, allowedResourceOauth2ReturnUrls=["http://localhost:8501/back"]
    )
    assert status(created) == 201
    assert created["name"] == name
    assert created["workloadIdentityArn"].endswith(
        f":workload-identity-directory/default/workload-identity/{name}"
    )
    assert created["allowedResourceOauth2ReturnUrls"] == ["http://localhost:8501/back"]

    got = control.get_workload_identity(name=name)
    assert status(got) == 200
    assert got["workloadIdentityArn"] == created["workloadIdentityArn"]
    assert isinstance(got["createdTime"], datetime)

    updated = control.update_workload_identity(
        name=name, allowedResourceOauth2ReturnUrls=["https://coach.example/oauth"]
    )
    assert status(updated) == 200
    assert updated["allowedResourceOauth2ReturnUrls"] == ["https://coach.example/oauth"]
    assert updated["lastUpdatedTime"] >= updated["createdTime"]
    assert control.get_workload_identity(name=name)["allowedResourceOauth2ReturnUrls"] == [
        "https://coach.example/oauth"
    ]

    assert name in sum(list_all(control.list_workload_identities, "workloadIdentities", 20), [])

    assert status(control.delete_workload_identity(name=name)) == 204
    refused(control.get_workload_identity, "ResourceNotFoundException", 404, name=name)


def test_duplicate_workload_identity_conflicts(control: BaseClient) -> None:
    name = fresh("twin")
    control.create_workload_identity(name=name)
    refused(control.create_workload_identity, "ConflictException", 409, name=name)


@pytest.mark.parametrize(
    ("name", "why"),
    [("bad name!", "pattern"), ("a" * 256, "too long"), ("ab", "too short")],
)
def test_workload_identity_name_is_validated(unchecked: BaseClient, name: str, why: str) -> None:
    invalid(unchecked.create_workload_identity, "name", name=name)


def test_return_url_must_match_the_pattern(control_url: str) -> None:
    body = {"name": fresh("coach"), "allowedResourceOauth2ReturnUrls": ["not a url"]}
    resp = raw(control_url, "/identities/CreateWorkloadIdentity", body)
    raw_invalid(resp, "allowedResourceOauth2ReturnUrls[0]")


def test_missing_name_is_refused_by_boto3_and_by_the_server(
    control: BaseClient, control_url: str
) -> None:
    with pytest.raises(ParamValidationError):
        control.create_workload_identity()
    resp = raw(control_url, "/identities/CreateWorkloadIdentity", {})
    raw_invalid(resp, "name")


# == control plane: not found, on every Get/Update/Delete ================================
MISSING = "no-such-thing"
NOT_FOUND_CALLS = [
    ("get_workload_identity", {}),
    ("update_workload_identity", {"allowedResourceOauth2ReturnUrls": []}),
    ("delete_workload_identity", {}),
    ("get_api_key_credential_provider", {}),
    ("update_api_key_credential_provider", {"apiKey": "sk-x"}),
    ("delete_api_key_credential_provider", {}),
    ("get_oauth2_credential_provider", {}),
    ("delete_oauth2_credential_provider", {}),
]


@pytest.mark.parametrize(("operation", "params"), NOT_FOUND_CALLS)
def test_missing_resource_is_not_found(control: BaseClient, operation: str, params: dict) -> None:
    refused(getattr(control, operation), "ResourceNotFoundException", 404, name=MISSING, **params)


def test_update_of_missing_oauth2_provider_is_not_found(lab: Lab, control: BaseClient) -> None:
    params = custom_oauth2(lab, MISSING)
    refused(control.update_oauth2_credential_provider, "ResourceNotFoundException", 404, **params)


# == control plane: pagination ===========================================================
LISTS = [
    ("list_workload_identities", "workloadIdentities"),
    ("list_api_key_credential_providers", "credentialProviders"),
    ("list_oauth2_credential_providers", "credentialProviders"),
]


def _create_some(lab: Lab, control: BaseClient, operation: str, count: int) -> set[str]:
    names = {fresh("page") for _ in range(count)}
    for name in names:
        if operation == "list_workload_identities":
            control.create_workload_identity(name=name)
        elif operation == "list_api_key_credential_providers":
            control.create_api_key_credential_provider(name=name, apiKey="sk-page")
        else:
            control.create_oauth2_credential_provider(**custom_oauth2(lab, name))
    return names


@pytest.mark.parametrize(("operation", "key"), LISTS)
def test_pagination_returns_every_item_exactly_once(
    lab: Lab, control: BaseClient, operation: str, key: str
) -> None:
    mine = _create_some(lab, control, operation, 7)
    pages = list_all(getattr(control, operation), key, page_size=3)
    everything = [name for page in pages for name in page]
    assert all(len(page) <= 3 for page in pages)
    assert len(pages) >= 3  # 7 of ours alone need three pages of three
    assert len(everything) == len(set(everything))  # no item twice
    assert mine <= set(everything)  # no item missing
    assert set(everything) == {
        n for page in list_all(getattr(control, operation), key, 20) for n in page
    }
    # boto3's own paginator (nextToken in, nextToken out, maxResults as the page size).
    paginator = control.get_paginator(operation).paginate(PaginationConfig={"PageSize": 3})
    assert sorted(item["name"] for page in paginator for item in page[key]) == sorted(everything)


@pytest.mark.parametrize(("operation", "key"), LISTS)
@pytest.mark.parametrize(
    "token",
    ["not-a-token!", base64.urlsafe_b64encode(b"-2").decode()],
    ids=["garbage", "negative-offset"],
)
def test_invalid_next_token_is_refused(
    control: BaseClient, operation: str, key: str, token: str
) -> None:
    resp = refused(getattr(control, operation), "ValidationException", 400, nextToken=token)
    assert names_field(resp, "nextToken")


@pytest.mark.parametrize("max_results", [0, 21])
def test_max_results_is_range_checked(unchecked: BaseClient, max_results: int) -> None:
    invalid(unchecked.list_workload_identities, "maxResults", maxResults=max_results)


# == control plane: API key credential providers =========================================
def test_managed_api_key_provider_lifecycle(
    control: BaseClient, secretsmanager: BaseClient
) -> None:
    name = fresh("weather")
    created = control.create_api_key_credential_provider(name=name, apiKey="sk-live-1")
    assert status(created) == 201
    assert created["name"] == name
    assert created["credentialProviderArn"].endswith(
        f":token-vault/default/apikeycredentialprovider/{name}"
    )
    assert created["apiKeySecretSource"] == "MANAGED"
    secret_arn = created["apiKeySecretArn"]["secretArn"]
    json_key = created["apiKeySecretJsonKey"]
    assert secret_value(secretsmanager, secret_arn) == {json_key: "sk-live-1"}

    got = control.get_api_key_credential_provider(name=name)
    assert status(got) == 200
    assert got["apiKeySecretArn"]["secretArn"] == secret_arn
    assert isinstance(got["createdTime"], datetime)

    updated = control.update_api_key_credential_provider(name=name, apiKey="sk-live-2")
    assert status(updated) == 200
    assert secret_value(secretsmanager, secret_arn) == {json_key: "sk-live-2"}

    assert status(control.delete_api_key_credential_provider(name=name)) == 204
    refused(control.get_api_key_credential_provider, "ResourceNotFoundException", 404, name=name)
    assert not secret_exists(secretsmanager, secret_arn)  # the service's copy goes with it


def test_external_api_key_provider_lifecycle(
    control: BaseClient, secretsmanager: BaseClient
) -> None:
    arn = external_secret(secretsmanager, {"key": "ext-1"})
    name = fresh("external")
    created = control.create_api_key_credential_provider(
        name=name,
        apiKeySecretSource="EXTERNAL",
        apiKeySecretConfig={"secretId": arn, "jsonKey": "key"},
    )
    assert status(created) == 201
    assert created["apiKeySecretSource"] == "EXTERNAL"
    assert created["apiKeySecretArn"]["secretArn"] == arn
    assert created["apiKeySecretJsonKey"] == "key"
    assert control.get_api_key_credential_provider(name=name)["apiKeySecretSource"] == "EXTERNAL"

    assert status(control.delete_api_key_credential_provider(name=name)) == 204
    assert secret_value(secretsmanager, arn) == {"key": "ext-1"}  # the customer's: untouched


def test_external_secret_must_exist(control: BaseClient) -> None:
    refused(
        control.create_api_key_credential_provider,
        "ResourceNotFoundException",
        404,
        name=fresh("dangling"),
        apiKeySecretSource="EXTERNAL",
        apiKeySecretConfig={"secretId": "no/such/secret", "jsonKey": "key"},
    )


API_KEY_INVALID = [
    ({"apiKey": "x", "name": "bad name"}, "name"),
    ({"apiKey": "x", "name": "n" * 129}, "name"),
    ({"apiKey": "x", "apiKeySecretSource": "SOMEWHERE"}, "apiKeySecretSource"),
    ({}, "apiKey"),  # MANAGED (the default) without the key
    ({"apiKeySecretSource": "MANAGED"}, "apiKey"),
    (
        {"apiKey": "x", "apiKeySecretConfig": {"secretId": "s", "jsonKey": "k"}},
        "apiKeySecretConfig",
    ),
    ({"apiKeySecretSource": "EXTERNAL", "apiKey": "x"}, "apiKey"),
    (
        {
            "apiKeySecretSource": "EXTERNAL",
            "apiKey": "x",
            "apiKeySecretConfig": {"secretId": "s", "jsonKey": "k"},
        },
        "apiKey",
    ),
    ({"apiKeySecretSource": "EXTERNAL"}, "apiKeySecretConfig"),
    ({"apiKeySecretSource": "EXTERNAL", "apiKeySecretConfig": {"secretId": "s"}}, "jsonKey"),
]


@pytest.mark.parametrize(("body", "field"), API_KEY_INVALID)
def test_api_key_provider_input_is_validated(control_url: str, body: dict, field: str) -> None:
    resp = raw(
        control_url, "/identities/CreateApiKeyCredentialProvider", {"name": fresh("k"), **body}
    )
    raw_invalid(resp, field)


def test_duplicate_api_key_provider_conflicts_and_keeps_its_key(
    control: BaseClient, secretsmanager: BaseClient
) -> None:
    name = fresh("dup")
    first = control.create_api_key_credential_provider(name=name, apiKey="sk-original")
    refused(
        control.create_api_key_credential_provider,
        "ConflictException",
        409,
        name=name,
        apiKey="sk-intruder",
    )
    secret = secret_value(secretsmanager, first["apiKeySecretArn"]["secretArn"])
    assert secret == {first["apiKeySecretJsonKey"]: "sk-original"}


def test_switching_to_external_drops_the_managed_copy(
    control: BaseClient, secretsmanager: BaseClient
) -> None:
    name = fresh("moving")
    managed = control.create_api_key_credential_provider(name=name, apiKey="sk-old")
    arn = external_secret(secretsmanager, {"key": "sk-new"})
    updated = control.update_api_key_credential_provider(
        name=name,
        apiKeySecretSource="EXTERNAL",
        apiKeySecretConfig={"secretId": arn, "jsonKey": "key"},
    )
    assert updated["apiKeySecretArn"]["secretArn"] == arn
    assert not secret_exists(secretsmanager, managed["apiKeySecretArn"]["secretArn"])


def _fill_to_quota(control: BaseClient, list_op: str, create: Callable[[str], object]) -> list[str]:
    existing = sum(list_all(getattr(control, list_op), "credentialProviders", 20), [])
    made = [fresh("quota") for _ in range(PROVIDER_QUOTA - len(existing))]
    for name in made:
        create(name)
    return made


def test_the_51st_api_key_provider_exceeds_the_quota(
    control: BaseClient, secretsmanager: BaseClient
) -> None:
    made = _fill_to_quota(
        control,
        "list_api_key_credential_providers",
        lambda name: control.create_api_key_credential_provider(name=name, apiKey="sk-q"),
    )
    try:
        extra = fresh("quota")
        refused(
            control.create_api_key_credential_provider,
            "ServiceQuotaExceededException",
            402,
            name=extra,
            apiKey="sk-q",
        )
        assert not secret_exists(secretsmanager, f"{MANAGED_SECRET_PREFIX}/apikey/{extra}")
    finally:
        for name in made:
            control.delete_api_key_credential_provider(name=name)


def test_the_51st_oauth2_provider_exceeds_the_quota(lab: Lab, control: BaseClient) -> None:
    made = _fill_to_quota(
        control,
        "list_oauth2_credential_providers",
        lambda name: control.create_oauth2_credential_provider(**custom_oauth2(lab, name)),
    )
    try:
        refused(
            control.create_oauth2_credential_provider,
            "ServiceQuotaExceededException",
            402,
            **custom_oauth2(lab, fresh("quota")),
        )
    finally:
        for name in made:
            control.delete_oauth2_credential_provider(name=name)


# == control plane: OAuth2 credential providers ==========================================
def test_oauth2_provider_with_discovery_url_lifecycle(
    lab: Lab, control: BaseClient, data_url: str, secretsmanager: BaseClient
) -> None:
    name = fresh("idp")
    created = control.create_oauth2_credential_provider(**custom_oauth2(lab, name))
    assert status(created) == 201
    assert created["name"] == name
    assert created["credentialProviderArn"].endswith(f"/oauth2credentialprovider/{name}")
    assert created["callbackUrl"] == f"{data_url}/identities/oauth2/callback"
    assert created["status"] == "READY"
    config = created["oauth2ProviderConfigOutput"]["customOauth2ProviderConfig"]
    assert config["oauthDiscovery"] == {"discoveryUrl": lab.urls.discovery}
    assert config["clientId"] == OUTBOUND
    assert created["clientSecretSource"] == "MANAGED"
    secret_arn = created["clientSecretArn"]["secretArn"]
    stored = secret_value(secretsmanager, secret_arn)
    assert stored == {created["clientSecretJsonKey"]: lab.client_secret(OUTBOUND)}

    got = control.get_oauth2_credential_provider(name=name)
    assert status(got) == 200
    assert got["credentialProviderVendor"] == "CustomOauth2"
    assert got["clientSecretArn"]["secretArn"] == secret_arn
    assert isinstance(got["lastUpdatedTime"], datetime)

    params = custom_oauth2(lab, name, clientSecret="rotated-secret")
    updated = control.update_oauth2_credential_provider(**params)
    assert status(updated) == 200
    assert secret_value(secretsmanager, secret_arn) == {
        created["clientSecretJsonKey"]: "rotated-secret"
    }

    rows = sum(list_all(control.list_oauth2_credential_providers, "credentialProviders", 20), [])
    assert name in rows

    assert status(control.delete_oauth2_credential_provider(name=name)) == 204
    refused(control.get_oauth2_credential_provider, "ResourceNotFoundException", 404, name=name)
    assert not secret_exists(secretsmanager, secret_arn)


def test_oauth2_provider_with_authorization_server_metadata(lab: Lab, control: BaseClient) -> None:
    name = fresh("inline")
    metadata = lab_metadata(lab)
    created = control.create_oauth2_credential_provider(
        **custom_oauth2(lab, name, {"authorizationServerMetadata": metadata})
    )
    assert status(created) == 201
    config = created["oauth2ProviderConfigOutput"]["customOauth2ProviderConfig"]
    assert config["oauthDiscovery"]["authorizationServerMetadata"] == metadata
    got = control.get_oauth2_credential_provider(name=name)
    assert got["oauth2ProviderConfigOutput"] == created["oauth2ProviderConfigOutput"]


def test_duplicate_oauth2_provider_conflicts(lab: Lab, control: BaseClient) -> None:
    name = fresh("twin")
    control.create_oauth2_credential_provider(**custom_oauth2(lab, name))
    refused(
        control.create_oauth2_credential_provider,
        "ConflictException",
        409,
        **custom_oauth2(lab, name),
    )


def _both_discoveries(lab: Lab, config: dict) -> None:
    config["oauthDiscovery"]["authorizationServerMetadata"] = lab_metadata(lab)


def _not_a_discovery_url(lab: Lab, config: dict) -> None:
    config["oauthDiscovery"] = {"discoveryUrl": "http://idp.example/no-well-known"}


def _managed_without_secret(lab: Lab, config: dict) -> None:
    del config["clientSecret"]


def _external_without_reference(lab: Lab, config: dict) -> None:
    del config["clientSecret"]
    config["clientSecretSource"] = "EXTERNAL"


def _external_with_secret(lab: Lab, config: dict) -> None:
    config["clientSecretSource"] = "EXTERNAL"
    config["clientSecretConfig"] = {"secretId": "team/idp", "jsonKey": "secret"}


def _bad_auth_method(lab: Lab, config: dict) -> None:
    config["clientAuthenticationMethod"] = "CARRIER_PIGEON"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (_both_discoveries, "customOauth2ProviderConfig.oauthDiscovery"),
        (_not_a_discovery_url, "oauthDiscovery.discoveryUrl"),
        (_managed_without_secret, "clientSecret"),
        (_external_without_reference, "clientSecretConfig"),
        (_external_with_secret, "clientSecret"),
        (_bad_auth_method, "clientAuthenticationMethod"),
    ],
)
def test_oauth2_provider_config_is_validated(
    lab: Lab, control_url: str, mutate: Callable[[Lab, dict], None], field: str
) -> None:
    body = custom_oauth2(lab, fresh("bad"))
    mutate(lab, body["oauth2ProviderConfigInput"]["customOauth2ProviderConfig"])
    raw_invalid(raw(control_url, "/identities/CreateOauth2CredentialProvider", body), field)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"credentialProviderVendor": "MyspaceOauth2"}, "credentialProviderVendor"),
        ({"oauth2ProviderConfigInput": {}}, "oauth2ProviderConfigInput"),
        ({"name": "bad name"}, "name"),
    ],
)
def test_oauth2_provider_envelope_is_validated(
    lab: Lab, control_url: str, change: dict, field: str
) -> None:
    body = {**custom_oauth2(lab, fresh("bad")), **change}
    raw_invalid(raw(control_url, "/identities/CreateOauth2CredentialProvider", body), field)


# == control plane: token vault ==========================================================
def test_get_token_vault(control: BaseClient) -> None:
    vault = control.get_token_vault()
    assert status(vault) == 200
    assert vault["tokenVaultId"] == "default"
    assert vault["kmsConfiguration"]["keyType"] in ("ServiceManagedKey", "CustomerManagedKey")
    assert isinstance(vault["lastModifiedDate"], datetime)
    assert control.get_token_vault(tokenVaultId="default")["tokenVaultId"] == "default"


def test_set_token_vault_cmk_to_a_symmetric_key_and_back(
    control: BaseClient, kms: BaseClient
) -> None:
    key_arn = kms.create_key(Description="token vault CMK")["KeyMetadata"]["Arn"]
    try:
        resp = control.set_token_vault_cmk(
            kmsConfiguration={"keyType": "CustomerManagedKey", "kmsKeyArn": key_arn}
        )
        assert status(resp) == 200
        assert resp["kmsConfiguration"] == {"keyType": "CustomerManagedKey", "kmsKeyArn": key_arn}
        assert control.get_token_vault()["kmsConfiguration"]["kmsKeyArn"] == key_arn
    finally:
        back = control.set_token_vault_cmk(kmsConfiguration={"keyType": "ServiceManagedKey"})
    assert status(back) == 200
    assert back["kmsConfiguration"] == {"keyType": "ServiceManagedKey"}


def _key_for(kms: BaseClient, kind: str) -> str:
    if kind == "alias":
        target = kms.create_key()["KeyMetadata"]["KeyId"]
        alias = f"alias/{fresh('vault')}"
        kms.create_alias(AliasName=alias, TargetKeyId=target)
        return f"arn:aws:kms:{aws.REGION}:{aws.ACCOUNT_ID}:{alias}"
    if kind == "rsa":
        return kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
    if kind == "multi-region":  # moto's mrk- ids are 40 characters: the pattern refuses them
        return kms.create_key(MultiRegion=True)["KeyMetadata"]["Arn"]
    meta = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=meta["KeyId"])
    return meta["Arn"]


@pytest.mark.parametrize("kind", ["alias", "rsa", "multi-region", "disabled"])
def test_set_token_vault_cmk_refuses_unsuitable_keys(
    control: BaseClient, kms: BaseClient, kind: str
) -> None:
    config = {"keyType": "CustomerManagedKey", "kmsKeyArn": _key_for(kms, kind)}
    resp = refused(control.set_token_vault_cmk, "ValidationException", 400, kmsConfiguration=config)
    assert resp["reason"] == "FieldValidationFailed"
    assert any(f["name"].startswith("kmsConfiguration") for f in resp["fieldList"])
    assert control.get_token_vault()["kmsConfiguration"] == {"keyType": "ServiceManagedKey"}


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"keyType": "CustomerManagedKey"}, "kmsConfiguration"),
        (
            {
                "keyType": "ServiceManagedKey",
                "kmsKeyArn": f"arn:aws:kms:{aws.REGION}:{aws.ACCOUNT_ID}:key/{uuid.uuid4()}",
            },
            "kmsConfiguration",
        ),
        ({"keyType": "OwnKey"}, "kmsConfiguration.keyType"),
    ],
    ids=["cmk-without-arn", "service-key-with-arn", "bad-key-type"],
)
def test_kms_configuration_is_validated(control: BaseClient, config: dict, field: str) -> None:
    invalid(control.set_token_vault_cmk, field, kmsConfiguration=config)


def test_reset_token_vault_key_material(lab: Lab, control: BaseClient) -> None:
    before = control.get_token_vault()
    assert before["kmsConfiguration"] == {"keyType": "ServiceManagedKey"}
    reset = control.reset_token_vault_key_material(tokenVaultId="default")
    assert status(reset) == 200
    assert reset["kmsConfiguration"] == {"keyType": "ServiceManagedKey"}
    assert reset["lastModifiedDate"] >= before["lastModifiedDate"]


@pytest.mark.parametrize("operation", ["get_token_vault", "reset_token_vault_key_material"])
def test_unknown_token_vault_is_not_found(control: BaseClient, operation: str) -> None:
    refused(getattr(control, operation), "ResourceNotFoundException", 404, tokenVaultId="other")


def test_token_vault_id_is_validated(control: BaseClient) -> None:
    invalid(control.get_token_vault, "tokenVaultId", tokenVaultId="no spaces!")


# == control plane: tags =================================================================
def test_tags_round_trip(control: BaseClient) -> None:
    arn = control.create_workload_identity(name=fresh("tagged"), tags={"team": "coach"})[
        "workloadIdentityArn"
    ]
    listed = control.list_tags_for_resource(resourceArn=arn)
    assert status(listed) == 200
    assert listed["tags"] == {"team": "coach"}
    assert status(control.tag_resource(resourceArn=arn, tags={"env": "lab", "team": "ai"})) == 204
    assert control.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "ai", "env": "lab"}
    assert status(control.untag_resource(resourceArn=arn, tagKeys=["team"])) == 204
    assert control.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "lab"}


def test_credential_providers_are_taggable(control: BaseClient) -> None:
    arn = control.create_api_key_credential_provider(name=fresh("tagged"), apiKey="sk-t")[
        "credentialProviderArn"
    ]
    control.tag_resource(resourceArn=arn, tags={"owner": "alice"})
    assert control.list_tags_for_resource(resourceArn=arn)["tags"] == {"owner": "alice"}


UNKNOWN_ARN = (
    f"arn:aws:bedrock-agentcore:{aws.REGION}:{aws.ACCOUNT_ID}:"
    "workload-identity-directory/default/workload-identity/never-created"
)


@pytest.mark.parametrize(
    ("operation", "params"),
    [
        ("list_tags_for_resource", {}),
        ("tag_resource", {"tags": {"a": "b"}}),
        ("untag_resource", {"tagKeys": ["a"]}),
    ],
)
def test_tags_of_an_unknown_arn_are_not_found(
    control: BaseClient, operation: str, params: dict
) -> None:
    refused(
        getattr(control, operation),
        "ResourceNotFoundException",
        404,
        resourceArn=UNKNOWN_ARN,
        **params,
    )


def test_tag_resource_arn_is_validated(control: BaseClient) -> None:
    invalid(control.list_tags_for_resource, "resourceArn", resourceArn="arn:aws:s3:::some-bucket")


def test_more_than_50_tags_exceed_the_quota(control: BaseClient) -> None:
    arn = control.create_workload_identity(name=fresh("tagged"))["workloadIdentityArn"]
    control.tag_resource(resourceArn=arn, tags={f"a{i}": "x" for i in range(30)})
    refused(
        control.tag_resource,
        "ServiceQuotaExceededException",
        402,
        resourceArn=arn,
        tags={f"b{i}": "x" for i in range(30)},
    )
    assert len(control.list_tags_for_resource(resourceArn=arn)["tags"]) == 30


# == data plane: workload access tokens ==================================================
@pytest.mark.usefixtures("workloads")
def test_operator_gets_a_workload_access_token(data: BaseClient) -> None:
    resp = data.get_workload_access_token(workloadName=AGENT)
    assert status(resp) == 200
    assert resp["workloadAccessToken"].count(".") == 2


@pytest.mark.usefixtures("workloads")
def test_unknown_workload_is_not_found(data: BaseClient) -> None:
    refused(data.get_workload_access_token, "ResourceNotFoundException", 404, workloadName=MISSING)


@pytest.mark.usefixtures("workloads")
def test_runtime_gets_a_wat_for_a_user_id_of_its_own_workload(agent: BaseClient) -> None:
    resp = agent.get_workload_access_token_for_user_id(workloadName=AGENT, userId="alice")
    assert status(resp) == 200
    assert resp["workloadAccessToken"]


@attack
@pytest.mark.usefixtures("workloads")
def test_runtime_cannot_get_a_wat_for_another_workload(agent: BaseClient) -> None:
    refused(
        agent.get_workload_access_token_for_user_id,
        "AccessDeniedException",
        403,
        workloadName=MCP,
        userId="alice",
    )


@attack
@pytest.mark.usefixtures("workloads")
def test_untrusted_app_cannot_vouch_for_a_user(data_url: str) -> None:
    partner = _client(DATA, data_url, aws.UNTRUSTED_APP)
    refused(
        partner.get_workload_access_token_for_user_id,
        "AccessDeniedException",
        403,
        workloadName=AGENT,
        userId="alice",
    )


@pytest.mark.usefixtures("workloads")
def test_wat_for_a_real_user_jwt(lab: Lab, agent: BaseClient) -> None:
    resp = agent.get_workload_access_token_for_jwt(
        workloadName=AGENT, userToken=user_access_token(lab)
    )
    assert status(resp) == 200
    assert resp["workloadAccessToken"].count(".") == 2


@pytest.mark.usefixtures("workloads")
def test_a_correctly_signed_lab_jwt_is_accepted(lab: Lab, agent: BaseClient) -> None:
    """The control for the forgeries below: same claims, the IdP's own key."""
    forger = Forger(lab)
    token = forger.sign(claims=forger.claims(aud=[AGENT]))
    resp = agent.get_workload_access_token_for_jwt(workloadName=AGENT, userToken=token)
    assert status(resp) == 200


def _forged(lab: Lab, attacker_key: rsa.RSAPrivateKey) -> str:
    forger = Forger(lab)
    return forger.sign(claims=forger.claims(aud=[AGENT]), key=attacker_key)


def _wrong_issuer(lab: Lab, attacker_key: rsa.RSAPrivateKey) -> str:
    forger = Forger(lab)
    claims = forger.claims(aud=[AGENT], iss="https://idp.attacker.example")
    return forger.sign(claims=claims, key=attacker_key)


def _wrong_audience(lab: Lab, attacker_key: rsa.RSAPrivateKey) -> str:
    return login_tokens(lab, scope="openid activities:read")["access_token"]  # fitness-api's


@attack
@pytest.mark.usefixtures("workloads")
@pytest.mark.parametrize(
    ("make", "why"),
    [(_forged, "signature"), (_wrong_issuer, "not trusted"), (_wrong_audience, "meant for")],
)
def test_untrustworthy_user_jwt_is_refused(
    lab: Lab, agent: BaseClient, attacker_key: rsa.RSAPrivateKey, make: Callable, why: str
) -> None:
    resp = refused(
        agent.get_workload_access_token_for_jwt,
        "AccessDeniedException",
        403,
        workloadName=AGENT,
        userToken=make(lab, attacker_key),
    )
    assert why in resp["Error"]["Message"]  # refused for the reason under test


@attack
@pytest.mark.usefixtures("workloads")
def test_expired_user_jwt_is_refused(lab: Lab, agent: BaseClient) -> None:
    token = user_access_token(lab)
    lab.clock.advance(3600 + 60)  # past the IdP's one-hour access tokens
    resp = refused(
        agent.get_workload_access_token_for_jwt,
        "AccessDeniedException",
        403,
        workloadName=AGENT,
        userToken=token,
    )
    assert "expired" in resp["Error"]["Message"].lower()


@pytest.mark.parametrize(
    ("operation", "params", "field"),
    [
        ("get_workload_access_token", {"workloadName": "a b"}, "workloadName"),
        (
            "get_workload_access_token_for_jwt",
            {"workloadName": AGENT, "userToken": "not a jwt at all"},
            "userToken",
        ),
        (
            "get_workload_access_token_for_user_id",
            {"workloadName": AGENT, "userId": "u" * 129},
            "userId",
        ),
        (
            "get_resource_oauth2_token",
            {
                "workloadIdentityToken": "t",
                "resourceCredentialProviderName": "p",
                "scopes": [],
                "oauth2Flow": "TELEPATHY",
            },
            "oauth2Flow",
        ),
        (
            "get_resource_api_key",
            {"workloadIdentityToken": "", "resourceCredentialProviderName": "p"},
            "workloadIdentityToken",
        ),
    ],
)
def test_data_plane_input_is_validated(
    data_unchecked: BaseClient, operation: str, params: dict, field: str
) -> None:
    invalid(getattr(data_unchecked, operation), field, **params)


# == data plane: API keys ================================================================
@pytest.mark.usefixtures("workloads")
def test_api_key_for_a_wat_managed_and_external(
    control: BaseClient, agent: BaseClient, secretsmanager: BaseClient
) -> None:
    managed, external = fresh("managed"), fresh("external")
    control.create_api_key_credential_provider(name=managed, apiKey="sk-managed")
    arn = external_secret(secretsmanager, {"key": "sk-external-1"})
    control.create_api_key_credential_provider(
        name=external,
        apiKeySecretSource="EXTERNAL",
        apiKeySecretConfig={"secretId": arn, "jsonKey": "key"},
    )
    token = wat(agent)

    resp = agent.get_resource_api_key(
        workloadIdentityToken=token, resourceCredentialProviderName=managed
    )
    assert status(resp) == 200
    assert resp["apiKey"] == "sk-managed"
    got = agent.get_resource_api_key(
        workloadIdentityToken=token, resourceCredentialProviderName=external
    )
    assert got["apiKey"] == "sk-external-1"

    # The customer rotates the secret: no provider update, the next call sees the new key.
    secretsmanager.put_secret_value(SecretId=arn, SecretString=json.dumps({"key": "sk-external-2"}))
    got = agent.get_resource_api_key(
        workloadIdentityToken=token, resourceCredentialProviderName=external
    )
    assert got["apiKey"] == "sk-external-2"


@pytest.mark.usefixtures("workloads")
def test_unknown_api_key_provider_is_not_found(agent: BaseClient) -> None:
    refused(
        agent.get_resource_api_key,
        "ResourceNotFoundException",
        404,
        workloadIdentityToken=wat(agent),
        resourceCredentialProviderName=MISSING,
    )


def _tamper(token: str) -> str:
    """One character of the signature changed (mid-signature: every bit there counts)."""
    head, payload, signature = token.split(".")
    i = len(signature) // 2
    swapped = "A" if signature[i] != "A" else "B"
    return f"{head}.{payload}.{signature[:i]}{swapped}{signature[i + 1 :]}"


@attack
@pytest.mark.usefixtures("workloads")
def test_tampered_wat_is_refused(agent: BaseClient, api_key_provider: str) -> None:
    token = wat(agent)
    ok = agent.get_resource_api_key(
        workloadIdentityToken=token, resourceCredentialProviderName=api_key_provider
    )
    assert ok["apiKey"] == "sk-weather"  # the control: untampered, it works
    refused(
        agent.get_resource_api_key,
        "AccessDeniedException",
        403,
        workloadIdentityToken=_tamper(token),
        resourceCredentialProviderName=api_key_provider,
    )


@attack
@pytest.mark.usefixtures("workloads")
def test_wat_signed_by_someone_else_is_refused(
    lab: Lab, agent: BaseClient, api_key_provider: str, attacker_key: rsa.RSAPrivateKey
) -> None:
    forger = Forger(lab)
    header = {"alg": "RS256", "typ": "wat+jwt", "kid": "wat-1"}
    claims = {
        "iss": lab.agentcore.identity.data_server.url,
        "workload": AGENT,
        "jti": "x",
        "iat": int(lab.clock.now()),
        "exp": int(lab.clock.now()) + 600,
    }
    resp = refused(
        agent.get_resource_api_key,
        "AccessDeniedException",
        403,
        workloadIdentityToken=forger.sign(header, claims, attacker_key),
        resourceCredentialProviderName=api_key_provider,
    )
    assert "signature" in resp["Error"]["Message"]


@attack
@pytest.mark.usefixtures("workloads")
def test_expired_wat_is_refused(lab: Lab, agent: BaseClient, api_key_provider: str) -> None:
    token = wat(agent)
    lab.clock.advance(15 * 60)  # a WAT lives 15 minutes
    resp = refused(
        agent.get_resource_api_key,
        "AccessDeniedException",
        403,
        workloadIdentityToken=token,
        resourceCredentialProviderName=api_key_provider,
    )
    assert "expired" in resp["Error"]["Message"]


@attack
@pytest.mark.usefixtures("workloads")
def test_another_workload_cannot_spend_the_agents_wat(
    agent: BaseClient, mcp: BaseClient, api_key_provider: str, lab_idp: str
) -> None:
    token = wat(agent)  # stolen from the fitness agent by the MCP server's runtime
    refused(
        mcp.get_resource_api_key,
        "AccessDeniedException",
        403,
        workloadIdentityToken=token,
        resourceCredentialProviderName=api_key_provider,
    )
    refused(
        mcp.get_resource_oauth2_token,
        "AccessDeniedException",
        403,
        workloadIdentityToken=token,
        resourceCredentialProviderName=lab_idp,
        scopes=["activities:read"],
        oauth2Flow="M2M",
    )


# == data plane: OAuth2 M2M ==============================================================
@pytest.mark.usefixtures("workloads")
def test_m2m_token_from_a_discovered_provider_opens_the_fitness_api(
    lab: Lab, agent: BaseClient, lab_idp: str
) -> None:
    resp = agent.get_resource_oauth2_token(
        workloadIdentityToken=wat(agent),
        resourceCredentialProviderName=lab_idp,
        scopes=["activities:read"],
        oauth2Flow="M2M",
    )
    assert status(resp) == 200
    api = call_api(lab, resp["accessToken"])
    assert api.status_code == 200, api.text
    assert api.json()["athlete"] == OUTBOUND  # M2M: the client itself, no user


@pytest.mark.usefixtures("workloads")
def test_m2m_token_from_a_provider_with_inline_metadata(
    lab: Lab, control: BaseClient, agent: BaseClient
) -> None:
    name = fresh("inline")
    control.create_oauth2_credential_provider(
        **custom_oauth2(lab, name, {"authorizationServerMetadata": lab_metadata(lab)})
    )
    resp = agent.get_resource_oauth2_token(
        workloadIdentityToken=wat(agent),
        resourceCredentialProviderName=name,
        scopes=["activities:read"],
        oauth2Flow="M2M",
    )
    assert call_api(lab, resp["accessToken"]).status_code == 200


@pytest.mark.usefixtures("workloads")
def test_unknown_oauth2_provider_is_not_found(agent: BaseClient) -> None:
    refused(
        agent.get_resource_oauth2_token,
        "ResourceNotFoundException",
        404,
        workloadIdentityToken=wat(agent),
        resourceCredentialProviderName=MISSING,
        scopes=["activities:read"],
        oauth2Flow="M2M",
    )


# == protocol: SigV4, authorization, throttling, parsing =================================
def test_raw_signed_request_is_accepted(control_url: str) -> None:
    """The control for the SigV4 attacks: the same helper, nothing altered."""
    resp = raw(control_url, "/identities/ListWorkloadIdentities", {"maxResults": 5})
    assert resp.status_code == 200, resp.text
    assert "workloadIdentities" in resp.json()


@attack
def test_unknown_access_key_is_unrecognized(control_url: str) -> None:
    stranger = aws.LabCredentials("AKIANOTALABPRINCIPAL", "whatever-secret")
    refused(
        _client(CONTROL, control_url, stranger).list_workload_identities,
        "UnrecognizedClientException",
        403,
    )


@attack
def test_wrong_secret_key_fails_the_signature(control_url: str) -> None:
    impostor = aws.LabCredentials(aws.OPERATOR.access_key_id, "not-the-operators-secret")
    refused(
        _client(CONTROL, control_url, impostor).list_workload_identities,
        "InvalidSignatureException",
        403,
    )


@attack
def test_unsigned_request_is_missing_authentication(control_url: str) -> None:
    resp = requests.post(
        f"{control_url}/identities/ListWorkloadIdentities", json={}, timeout=TIMEOUT
    )
    raw_error(resp, "MissingAuthenticationTokenException", 403)


@attack
def test_body_altered_after_signing_fails_the_signature(control_url: str) -> None:
    signed = sign(control_url, "/identities/ListWorkloadIdentities", {"maxResults": 5})
    raw_error(send(signed, b'{"maxResults": 6}'), "InvalidSignatureException", 403)


@attack
@pytest.mark.parametrize("declared", ["body", "UNSIGNED-PAYLOAD"])
def test_signed_payload_hash_must_match_the_body(control_url: str, declared: str) -> None:
    """Signing x-amz-content-sha256 must not let a man in the middle swap the body."""
    body = json.dumps({"maxResults": 5}).encode()
    value = hashlib.sha256(body).hexdigest() if declared == "body" else declared
    signed = sign(
        control_url,
        "/identities/ListWorkloadIdentities",
        body,
        headers={"X-Amz-Content-SHA256": value},
    )
    assert send(signed).status_code == (200 if declared == "body" else 403)
    raw_error(send(signed, b'{"maxResults": 1}'), "InvalidSignatureException", 403)


@attack
def test_principal_without_the_action_is_denied(control_url: str) -> None:
    partner = _client(CONTROL, control_url, aws.UNTRUSTED_APP)
    resp = refused(
        partner.create_workload_identity, "AccessDeniedException", 403, name=fresh("sneaky")
    )
    assert "bedrock-agentcore:CreateWorkloadIdentity" in resp["Error"]["Message"]


def test_throttle_lever_throttles_once(lab: Lab, control: BaseClient) -> None:
    lab.agentcore.identity.control_service.throttle.arm("ListWorkloadIdentities")
    resp = refused(control.list_workload_identities, "ThrottlingException", 429)
    assert resp["ResponseMetadata"]["RetryAttempts"] == 0
    assert status(control.list_workload_identities()) == 200


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]"], ids=["malformed", "not-an-object"])
def test_unparseable_body_is_refused(control_url: str, body: bytes) -> None:
    resp = raw(control_url, "/identities/CreateWorkloadIdentity", body)
    assert raw_error(resp, "ValidationException", 400)["reason"] == "CannotParse"


def test_unknown_path_and_wrong_method(control_url: str) -> None:
    raw_error(raw(control_url, "/identities/NoSuchOperation"), "UnknownOperationException", 404)
    wrong = raw(control_url, "/identities/ListWorkloadIdentities", method="PUT")
    raw_error(wrong, "MethodNotAllowedException", 405)


# == coverage: the models versus the emulator ============================================
def identity_operations(service: str) -> dict[str, tuple[str, str]]:
    """Identity operations of a botocore model: name -> (method, request URI)."""
    model = botocore.session.get_session().get_service_model(service)
    ops = {}
    for name in model.operation_names:
        http = model.operation_model(name).http
        if http["requestUri"].startswith(IDENTITY_URIS):
            ops[name] = (http["method"], http["requestUri"])
    return ops


def handlers(lab: Lab, service: str) -> dict:
    identity = lab.agentcore.identity
    return (identity.control_service if service == CONTROL else identity.data_service).handlers


@pytest.mark.parametrize("service", [CONTROL, DATA])
def test_every_identity_operation_is_handled_or_declared(lab: Lab, service: str) -> None:
    handled = set(handlers(lab, service))
    missing = [
        op for op in identity_operations(service) if op not in handled and op not in NOT_EMULATED
    ]
    assert not missing, f"{service}: emulate these or list them in NOT_EMULATED: {missing}"


def test_not_emulated_is_exact() -> None:
    """No stale entries: each is a current model operation, not handled, with a reason."""
    known = identity_operations(CONTROL) | identity_operations(DATA)
    assert set(NOT_EMULATED) <= set(known), set(NOT_EMULATED) - set(known)
    assert all(reason.strip() for reason in NOT_EMULATED.values())


@pytest.mark.parametrize("service", [CONTROL, DATA])
def test_no_stale_handlers(lab: Lab, service: str) -> None:
    """Every handler serves an operation of the model (Identity or not, e.g. the runtime's)."""
    handled = set(handlers(lab, service))
    model = set(botocore.session.get_session().get_service_model(service).operation_names)
    assert handled <= model, f"{service}: handlers for no model operation: {handled - model}"
    assert not handled & set(NOT_EMULATED), handled & set(NOT_EMULATED)


@pytest.mark.parametrize("operation", sorted(NOT_EMULATED))
def test_not_emulated_operations_answer_501(
    control_url: str, data_url: str, operation: str
) -> None:
    control_ops = identity_operations(CONTROL)
    service_ops, url = (
        (control_ops, control_url)
        if operation in control_ops
        else (identity_operations(DATA), data_url)
    )
    method, uri = service_ops[operation]
    path = uri.split("?")[0].replace("{", "").replace("}", "")  # labels, if any, get filled
    resp = raw(url, path, method=method)
    raw_error(resp, "NotImplementedException", 501)
