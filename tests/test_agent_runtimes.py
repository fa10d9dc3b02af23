"""Agent runtimes through the control plane, as against AWS: the code zip in S3,
``CreateAgentRuntime`` with direct code deployment and a ``customJWTAuthorizer``, the
workload identity that comes with the runtime, versions, and the process behind it."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator

import boto3
import psutil
import pytest
import requests
from botocore.exceptions import ClientError
from conftest import create_lab_oauth2_provider, token_exchange

from helpers import aws
from helpers.agentcore import resource_metadata
from helpers.cast import audiences, fitness_api
from helpers.cast.deployable import code_zip as code_zip_of
from helpers.cast.mcp_server import call_tool
from helpers.idp import seed
from helpers.jwt_check import decode_unverified
from helpers.lab import Lab

BUCKET = "agent-code"
# A real BedrockAgentCoreApp that says who it is, what it was given, and which process
# serves it; `app.run()` as deployed code calls it (port 8080 on all interfaces on AWS).
AGENT_CODE = """\
import os
import sys

import jsonschema
from bedrock_agentcore.runtime import BedrockAgentCoreApp, BedrockAgentCoreContext

app = BedrockAgentCoreApp()

def spent_on(provider):
    # The WAT the front door handed over, spent as agent code spends it, with the role's
    # credentials; boto3 only when asked, so that the other runtimes start as fast.
    if provider is None:
        return None
    import boto3
    data = boto3.client("bedrock-agentcore", region_name=os.environ["AWS_REGION"])
    return data.get_resource_api_key(
        workloadIdentityToken=BedrockAgentCoreContext.get_workload_access_token(),
        resourceCredentialProviderName=provider,
    )["apiKey"]

@app.entrypoint
def invoke(payload, context):
    headers = {k.lower(): v for k, v in (context.request_headers or {}).items()}
    return {
        "headers": headers,
        "version": VERSION,
        "payload": payload,
        "greeting": os.environ.get("GREETING"),
        "role_key": os.environ.get("AWS_ACCESS_KEY_ID"),
        "wat": bool(BedrockAgentCoreContext.get_workload_access_token()),
        "api_key": spent_on(payload.get("api_key_provider")),
        "saw_authorization": "authorization" in headers,
        "pid": os.getpid(),
        "validates": jsonschema.Draft202012Validator({"type": "object"}).is_valid({}),
        "jupyter_only_loaded": sys.modules.get("rfc3987_syntax") is not None,
    }

if __name__ == "__main__":
    app.run()
"""


def code_zip(version: str, entry: str = "main.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(entry, f"VERSION = {version!r}\n" + AGENT_CODE)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(agentcore=True) as lab:
        yield lab


def client(lab: Lab, service: str, creds: aws.LabCredentials = aws.OPERATOR):
    env = lab.env()
    url = {
        "s3": env["AWS_ENDPOINT_URL_S3"],
        "bedrock-agentcore-control": env["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE_CONTROL"],
        "bedrock-agentcore": env["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"],
    }[service]
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=aws.REGION,
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
    )


def upload(lab: Lab, key: str, body: bytes, bucket: str = BUCKET) -> dict:
    s3 = client(lab, "s3")
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    return {"s3": {"bucket": bucket, "prefix": key}}


def role(lab: Lab) -> str:
    return f"arn:aws:iam::{lab.agentcore.account_id}:role/fitness-agent-runtime"


def jwt_authorizer(lab: Lab, **extra: object) -> dict:
    return {
        "customJWTAuthorizer": {
            "discoveryUrl": lab.urls.discovery,
            "allowedAudience": [audiences.AGENT],
            **extra,
        }
    }


def claim_rule(name: str, value_type: str, operator: str, **value: object) -> dict:
    """One rule of a customJWTAuthorizer's customClaims, as the model spells it."""
    return {
        "inboundTokenClaimName": name,
        "inboundTokenClaimValueType": value_type,
        "authorizingClaimMatchValue": {"claimMatchOperator": operator, "claimMatchValue": value},
    }


def artifact(code: dict) -> dict:
    return {
        "codeConfiguration": {"code": code, "runtime": "PYTHON_3_11", "entryPoint": ["main.py"]}
    }


def wait_for(control, runtime_id: str, *statuses: str) -> dict:
    """The runtime once its status is one of ``statuses``."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = control.get_agent_runtime(agentRuntimeId=runtime_id)
        if got["status"] in statuses:
            return got
        time.sleep(0.1)
    raise AssertionError(f"{runtime_id} never reached {statuses}: {got['status']}")


def user_token(lab: Lab) -> str:
    browser = lab.browser()
    browser.sign_in(f"{lab.urls.frontend}/login", "alice", "alice-lab-password")
    return lab.frontend.session_tokens(browser.session.cookies["frontend_session"])["access_token"]


def machine_token(lab: Lab) -> str:
    """A valid token of the lab IdP, but a machine's (reporting-job), for the fitness API."""
    machine = requests.post(
        f"{lab.urls.issuer}/token",
        data={"grant_type": "client_credentials", "scope": "activities:read"},
        auth=("reporting-job", lab.client_secret("reporting-job")),
        timeout=10,
    )
    return machine.json()["access_token"]


def invoke_with_token(
    lab: Lab, arn: str, token: str, headers: dict | None = None, **params: str
) -> requests.Response:
    url = lab.agentcore.invocation_url(arn)
    return requests.post(
        url,
        params=params,
        json={"prompt": "hi"},
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
        timeout=30,
    )


def create_echo(lab: Lab, name: str, **settings: object) -> dict:
    """CreateAgentRuntime of the echo agent's version 1, with the lab's agent role."""
    return client(lab, "bedrock-agentcore-control").create_agent_runtime(
        agentRuntimeName=name,
        agentRuntimeArtifact=artifact(upload(lab, f"{name}-v1.zip", code_zip("v1"))),
        roleArn=role(lab),
        **settings,
    )


@pytest.fixture(scope="module")
def coach(lab: Lab) -> dict:
    """A runtime with a JWT authorizer, created as a learner would against AWS."""
    control = client(lab, "bedrock-agentcore-control")
    created = create_echo(
        lab,
        "coach",
        authorizerConfiguration=jwt_authorizer(lab, allowedClients=[seed.FRONTEND_CLIENT_ID]),
        requestHeaderConfiguration={"requestHeaderAllowlist": ["Authorization"]},
        environmentVariables={"GREETING": "hello from v1"},
    )
    assert created["status"] == "CREATING" and created["agentRuntimeVersion"] == "1"
    assert wait_for(control, created["agentRuntimeId"], "READY", "CREATE_FAILED")["status"] == (
        "READY"
    )
    return created


def test_a_created_runtime_becomes_ready_with_its_own_workload_identity(
    lab: Lab, coach: dict
) -> None:
    control = client(lab, "bedrock-agentcore-control")
    got = control.get_agent_runtime(agentRuntimeId=coach["agentRuntimeId"])
    assert got["agentRuntimeName"] == "coach" and got["agentRuntimeArn"] == coach["agentRuntimeArn"]
    assert got["authorizerConfiguration"]["customJWTAuthorizer"]["discoveryUrl"] == (
        lab.urls.discovery
    )
    workloads = control.list_workload_identities()["workloadIdentities"]
    arns = {w["workloadIdentityArn"] for w in workloads}
    assert got["workloadIdentityDetails"]["workloadIdentityArn"] in arns
    listed = control.list_agent_runtimes()["agentRuntimes"]
    assert [(r["agentRuntimeName"], r["status"]) for r in listed] == [("coach", "READY")]


def test_the_jwt_runtime_runs_the_code_with_its_environment_and_role(lab: Lab, coach: dict) -> None:
    resp = invoke_with_token(lab, coach["agentRuntimeArn"], user_token(lab))
    assert resp.status_code == 200, resp.text
    answer = resp.json()
    assert answer["version"] == "v1" and answer["payload"] == {"prompt": "hi"}
    assert answer["greeting"] == "hello from v1"
    assert answer["role_key"] == aws.AGENT_RUNTIME.access_key_id  # the role's, not ours
    assert answer["wat"] and answer["saw_authorization"]  # Authorization is allow-listed
    # jsonschema works without the grammar only Jupyter's extras install.
    assert answer["validates"] and not answer["jupyter_only_loaded"]
    # Served on 127.0.0.1 only, whatever the code's app.run() asked for.
    listening = [
        c.laddr for c in psutil.Process(answer["pid"]).net_connections() if c.status == "LISTEN"
    ]
    assert listening and all(address.ip == "127.0.0.1" for address in listening)


@pytest.mark.attack
def test_a_jwt_runtime_refuses_sigv4_callers_and_other_clients(lab: Lab, coach: dict) -> None:
    runtime_client = client(lab, "bedrock-agentcore", aws.AGENT_RUNTIME)
    with pytest.raises(ClientError) as refused:
        runtime_client.invoke_agent_runtime(agentRuntimeArn=coach["agentRuntimeArn"], payload=b"{}")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "JWT, not SigV4" in refused.value.response["Error"]["Message"]
    # A valid token of the same IdP, but a machine's, for another audience.
    resp = invoke_with_token(lab, coach["agentRuntimeArn"], machine_token(lab))
    assert resp.status_code == 403
    assert resp.headers["x-amzn-ErrorType"] == "AccessDeniedException"


@pytest.mark.attack
@pytest.mark.parametrize(
    ("authorizer", "why"),
    [
        ({"allowedClients": ["another-app"]}, "is not allowed"),
        ({"allowedScopes": ["coach:admin"]}, "carries none of the scopes"),
        ({"allowedAudience": ["fitness-api"]}, "not for us"),
        (
            {
                "customClaims": [
                    claim_rule("sub", "STRING", "EQUALS", matchValueString="user-2-bob")
                ]
            },
            "its claim 'sub' does not match",
        ),
        (
            {"customClaims": [claim_rule("aud", "STRING_ARRAY", "CONTAINS", matchValueString="x")]},
            "its claim 'aud' does not match",
        ),
        (  # the scope claim is one space-separated string, not a list
            {
                "customClaims": [
                    claim_rule(
                        "scope",
                        "STRING_ARRAY",
                        "CONTAINS_ANY",
                        matchValueStringList=["openid", "profile"],
                    )
                ]
            },
            "its claim 'scope' does not match",
        ),
    ],
)
def test_a_valid_token_outside_the_authorizers_rules_is_refused(
    lab: Lab, authorizer: dict, why: str
) -> None:
    control = client(lab, "bedrock-agentcore-control")
    jwt = jwt_authorizer(lab)
    jwt["customJWTAuthorizer"].update(authorizer)
    name = f"strict_{len(control.list_agent_runtimes()['agentRuntimes'])}"
    created = create_echo(lab, name, authorizerConfiguration=jwt)
    wait_for(control, created["agentRuntimeId"], "READY")
    resp = invoke_with_token(lab, created["agentRuntimeArn"], user_token(lab))
    assert resp.status_code == 403 and why in resp.json()["message"]
    control.delete_agent_runtime(agentRuntimeId=created["agentRuntimeId"])


def test_advertised_scopes_are_renamed_in_the_metadata(lab: Lab) -> None:
    # advertisedScopeMapping: clients are told the name to ask their IdP for; the token
    # check still wants the allowedScopes name.
    control = client(lab, "bedrock-agentcore-control")
    mapping = {"agent:invoke": "api://coach/invoke"}
    jwt = jwt_authorizer(
        lab, allowedScopes=["agent:invoke", "profile"], advertisedScopeMapping=mapping
    )
    created = create_echo(lab, "advertised", authorizerConfiguration=jwt)
    wait_for(control, created["agentRuntimeId"], "READY")
    base = lab.env()["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"]
    metadata_url = resource_metadata.metadata_url(base, created["agentRuntimeArn"])
    metadata = requests.get(metadata_url, timeout=10).json()
    assert metadata["scopes_supported"] == ["api://coach/invoke", "profile"]
    assert metadata["resource"] == lab.agentcore.invocation_url(created["agentRuntimeArn"])
    assert metadata["authorization_servers"] == [lab.urls.issuer]
    resp = invoke_with_token(lab, created["agentRuntimeArn"], user_token(lab))
    assert resp.status_code == 200  # the token carries agent:invoke, the allowed name
    control.delete_agent_runtime(agentRuntimeId=created["agentRuntimeId"])
    assert requests.get(metadata_url, timeout=10).status_code == 404  # gone with it


def test_a_mapping_of_a_scope_not_allowed_is_refused_at_create(lab: Lab) -> None:
    control = client(lab, "bedrock-agentcore-control")
    jwt = jwt_authorizer(
        lab, allowedScopes=["agent:invoke"], advertisedScopeMapping={"profile": "p"}
    )
    before = control.list_agent_runtimes()["agentRuntimes"]
    with pytest.raises(ClientError) as refused:
        create_echo(lab, "badly_mapped", authorizerConfiguration=jwt)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert control.list_agent_runtimes()["agentRuntimes"] == before


def test_an_iam_runtime_publishes_no_resource_metadata(lab: Lab) -> None:
    control = client(lab, "bedrock-agentcore-control")
    created = create_echo(lab, "iam_only")
    wait_for(control, created["agentRuntimeId"], "READY")
    base = lab.env()["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"]
    metadata_url = resource_metadata.metadata_url(base, created["agentRuntimeArn"])
    resp = requests.get(metadata_url, timeout=10)
    assert resp.status_code == 404
    assert resp.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"
    control.delete_agent_runtime(agentRuntimeId=created["agentRuntimeId"])


def test_an_update_is_a_new_version_served_by_a_new_process(lab: Lab) -> None:
    control = client(lab, "bedrock-agentcore-control")
    created = create_echo(lab, "versioned", authorizerConfiguration=jwt_authorizer(lab))
    runtime_id = created["agentRuntimeId"]
    wait_for(control, runtime_id, "READY")
    token = user_token(lab)
    first = invoke_with_token(lab, created["agentRuntimeArn"], token).json()
    assert not first["saw_authorization"]  # no allow-list: the token stays at the door
    updated = control.update_agent_runtime(
        agentRuntimeId=runtime_id,
        agentRuntimeArtifact=artifact(upload(lab, "versioned-v2.zip", code_zip("v2"))),
        roleArn=role(lab),
        authorizerConfiguration=jwt_authorizer(lab),
    )
    assert updated["status"] == "UPDATING" and updated["agentRuntimeVersion"] == "2"
    wait_for(control, runtime_id, "READY")
    second = invoke_with_token(lab, created["agentRuntimeArn"], token).json()
    assert second["version"] == "v2" and second["pid"] != first["pid"]
    assert not psutil.pid_exists(first["pid"]) or (
        psutil.Process(first["pid"]).status() == psutil.STATUS_ZOMBIE
    )
    versions = control.list_agent_runtime_versions(agentRuntimeId=runtime_id)["agentRuntimes"]
    assert [v["agentRuntimeVersion"] for v in versions] == ["2", "1"]
    first_page = control.list_agent_runtime_versions(agentRuntimeId=runtime_id, maxResults=1)
    rest = control.list_agent_runtime_versions(
        agentRuntimeId=runtime_id, nextToken=first_page["nextToken"]
    )
    assert [v["agentRuntimeVersion"] for v in first_page["agentRuntimes"]] == ["2"]
    assert [v["agentRuntimeVersion"] for v in rest["agentRuntimes"]] == ["1"]
    assert "nextToken" not in rest
    old = control.get_agent_runtime(agentRuntimeId=runtime_id, agentRuntimeVersion="1")
    assert old["agentRuntimeArtifact"]["codeConfiguration"]["code"]["s3"]["prefix"] == (
        "versioned-v1.zip"
    )
    deleted = control.delete_agent_runtime(agentRuntimeId=runtime_id)
    assert deleted["status"] == "DELETING"
    with pytest.raises(ClientError) as gone:
        control.get_agent_runtime(agentRuntimeId=runtime_id)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    workloads = control.list_workload_identities()["workloadIdentities"]
    assert runtime_id not in {w["name"] for w in workloads}
    assert not psutil.pid_exists(second["pid"]) or (
        psutil.Process(second["pid"]).status() == psutil.STATUS_ZOMBIE
    )


def test_a_runtime_outlives_a_restart_of_the_service(lab: Lab, coach: dict) -> None:
    before = invoke_with_token(lab, coach["agentRuntimeArn"], user_token(lab)).json()
    lab.agentcore.restart()
    control = client(lab, "bedrock-agentcore-control")
    assert control.get_agent_runtime(agentRuntimeId=coach["agentRuntimeId"])["status"] == "READY"
    after = invoke_with_token(lab, coach["agentRuntimeArn"], user_token(lab)).json()
    assert after["pid"] == before["pid"]  # the same process, known to the new front door


def test_code_that_cannot_start_fails_the_creation_and_says_why(lab: Lab) -> None:
    control = client(lab, "bedrock-agentcore-control")
    broken = io.BytesIO()
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("main.py", "raise SystemExit('no model key configured')\n")
    cases = {
        "crashes": upload(lab, "crashes.zip", broken.getvalue()),
        "no_entry": upload(lab, "no-entry.zip", code_zip("v1", entry="other.py")),
        "no_zip": upload(lab, "not-a-zip.zip", b"this is not a zip"),
    }
    reasons = {}
    for name, code in cases.items():
        created = control.create_agent_runtime(
            agentRuntimeName=name, agentRuntimeArtifact=artifact(code), roleArn=role(lab)
        )
        failed = wait_for(control, created["agentRuntimeId"], "CREATE_FAILED", "READY")
        assert failed["status"] == "CREATE_FAILED"
        reasons[name] = failed["failureReason"]
    assert "exited with status 1" in reasons["crashes"]
    assert "main.py is not in the code zip" in reasons["no_entry"]
    assert "BadZipFile" in reasons["no_zip"]


def test_a_token_that_meets_every_custom_claim_gets_in(lab: Lab) -> None:
    control = client(lab, "bedrock-agentcore-control")
    token = user_token(lab)
    rules = [
        claim_rule("sub", "STRING", "EQUALS", matchValueString=decode_unverified(token)[1]["sub"]),
        claim_rule("aud", "STRING_ARRAY", "CONTAINS", matchValueString=audiences.AGENT),
        claim_rule(
            "aud", "STRING_ARRAY", "CONTAINS_ANY", matchValueStringList=["x", audiences.AGENT]
        ),
    ]
    created = create_echo(
        lab, "claims_met", authorizerConfiguration=jwt_authorizer(lab, customClaims=rules)
    )
    wait_for(control, created["agentRuntimeId"], "READY")
    assert invoke_with_token(lab, created["agentRuntimeArn"], token).status_code == 200
    got = control.get_agent_runtime(agentRuntimeId=created["agentRuntimeId"])
    assert got["authorizerConfiguration"]["customJWTAuthorizer"]["customClaims"] == rules
    control.delete_agent_runtime(agentRuntimeId=created["agentRuntimeId"])


@pytest.mark.parametrize(
    "rule",
    [
        claim_rule("aud", "STRING_ARRAY", "EQUALS", matchValueString="x"),
        claim_rule("sub", "STRING", "CONTAINS", matchValueString="x"),
        claim_rule("aud", "STRING_ARRAY", "CONTAINS_ANY", matchValueString="x"),
        claim_rule("aud", "STRING_ARRAY", "CONTAINS", matchValueStringList=["x"]),
    ],
)
def test_a_custom_claim_pairing_the_service_refuses_creates_nothing(lab: Lab, rule: dict) -> None:
    control = client(lab, "bedrock-agentcore-control")
    with pytest.raises(ClientError) as refused:
        create_echo(
            lab, "bad_claims", authorizerConfiguration=jwt_authorizer(lab, customClaims=[rule])
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "customClaims[0]" in refused.value.response["Error"]["Message"]
    names = [r["agentRuntimeName"] for r in control.list_agent_runtimes()["agentRuntimes"]]
    assert "bad_claims" not in names


@pytest.mark.parametrize(
    ("extra", "code", "status"),
    [
        (
            {
                "agentRuntimeArtifact": {
                    "containerConfiguration": {
                        "containerUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/coach:v1"
                    }
                }
            },
            "NotImplementedException",
            501,
        ),
        ({"roleArn": "arn:aws:iam::123456789012:role/nobody"}, "AccessDeniedException", 403),
        (
            {"protocolConfiguration": {"serverProtocol": "A2A"}},
            "NotImplementedException",
            501,
        ),
    ],
)
def test_what_the_lab_cannot_run_is_refused_clearly(
    lab: Lab, extra: dict, code: str, status: int
) -> None:
    control = client(lab, "bedrock-agentcore-control")
    request = {
        "agentRuntimeName": "refused",
        "agentRuntimeArtifact": artifact({"s3": {"bucket": BUCKET, "prefix": "none.zip"}}),
        "roleArn": role(lab),
        **extra,
    }
    with pytest.raises(ClientError) as refused:
        control.create_agent_runtime(**request)
    error = refused.value.response
    assert error["Error"]["Code"] == code
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    names = [r["agentRuntimeName"] for r in control.list_agent_runtimes()["agentRuntimes"]]
    assert "refused" not in names
    assert json.dumps(error["Error"]["Message"])  # a message, never an empty body


def test_the_courses_coach_and_mcp_server_run_as_created_runtimes(lab: Lab) -> None:
    # Notebook 05's chain, with both runtimes created through the control plane: the MCP
    # runtime speaks MCP behind the front door, and each runtime's role acts as the
    # workload identity its runtime got.
    control = client(lab, "bedrock-agentcore-control")
    for client_id in ("fitness-agent", "fitness-mcp"):
        create_lab_oauth2_provider(control, lab, f"{client_id}-obo", client_id)
    activities = lab.urls.fitness_api + "/v1/athlete/activities"
    account = lab.agentcore.account_id
    allow_authorization = {"requestHeaderAllowlist": ["Authorization"]}
    mcp = control.create_agent_runtime(
        agentRuntimeName="fitness_mcp",
        agentRuntimeArtifact=artifact(upload(lab, "mcp.zip", code_zip_of("mcp"))),
        roleArn=f"arn:aws:iam::{account}:role/fitness-mcp-runtime",
        protocolConfiguration={"serverProtocol": "MCP"},
        authorizerConfiguration={
            "customJWTAuthorizer": {
                "discoveryUrl": lab.urls.discovery,
                "allowedAudience": [audiences.MCP],
            }
        },
        requestHeaderConfiguration=allow_authorization,
        environmentVariables={
            "MCP_PROVIDER_NAME": "fitness-mcp-obo",
            "MCP_ACTIVITIES_URL": activities,
        },
    )
    coach = control.create_agent_runtime(
        agentRuntimeName="fitness_coach",
        agentRuntimeArtifact=artifact(upload(lab, "coach.zip", code_zip_of("coach"))),
        roleArn=role(lab),
        authorizerConfiguration=jwt_authorizer(lab),
        requestHeaderConfiguration=allow_authorization,
        environmentVariables={
            "COACH_ACTIVITIES_URL": activities,
            "COACH_MCP_URL": lab.agentcore.invocation_url(mcp["agentRuntimeArn"]),
            "COACH_OBO_PROVIDER_NAME": "fitness-agent-obo",
        },
    )
    for runtime in (mcp, coach):
        assert aws.wait_for_runtime(control, runtime["agentRuntimeId"])["status"] == "READY"
    resp = requests.post(
        lab.agentcore.invocation_url(coach["agentRuntimeArn"]),
        json={"prompt": "My week", "action": "mcp"},
        headers={"Authorization": f"Bearer {user_token(lab)}"},
        timeout=30,
    )
    tool = resp.json()["mcp"]["tool"]
    assert tool["status"] == 200 and tool["result"]["status"] == 200
    assert tool["result"]["body"]["athlete"] == "user-1-alice"
    for runtime in (coach, mcp):
        control.delete_agent_runtime(agentRuntimeId=runtime["agentRuntimeId"])


def test_the_labs_mcp_runtime_serves_the_official_mcp_client() -> None:
    with Lab(agentcore=True) as lab:  # a lab of its own: it keeps its fitness_mcp runtime
        _mcp_runtime_serves_the_mcp_client(lab)


def _mcp_runtime_serves_the_mcp_client(lab: Lab) -> None:
    # What `python -m helpers serve` exports as LAB_MCP_URL: an MCP client with a token for
    # the MCP server's audience lists and calls its tool; a token for the agent is refused.
    url = lab.agentcore.create_mcp_runtime(
        activities_url=lab.urls.fitness_api + fitness_api.ACTIVITIES_PATH
    )
    assert lab.env()["LAB_MCP_URL"] == url
    alice = user_token(lab)
    exchanged = token_exchange(lab, alice, audiences.AGENT, audiences.MCP)
    assert exchanged.status_code == 200, exchanged.text
    called = call_tool(url, exchanged.json()["access_token"], "list_activities")
    assert called.status == 200
    assert called.result["body"]["athlete"] == "user-1-alice"
    refused = call_tool(url, alice, "list_activities")  # a token meant for the agent
    assert refused.status == 401 and "not for us ('fitness-mcp')" in refused.refused


def test_stopping_the_lab_ends_a_runtime_still_starting() -> None:
    # Code that never answers /ping stays CREATING; the lab's stop must not leave it behind.
    # A bucket of its own: bucket names are global in S3, and so across the labs of a process.
    never_ready = io.BytesIO()
    with zipfile.ZipFile(never_ready, "w") as archive:
        archive.writestr("main.py", "import time\ntime.sleep(600)\n")
    with Lab(agentcore=True) as lab:
        control = client(lab, "bedrock-agentcore-control")
        created = control.create_agent_runtime(
            agentRuntimeName="never_ready",
            agentRuntimeArtifact=artifact(
                upload(lab, "slow.zip", never_ready.getvalue(), bucket="never-ready-code")
            ),
            roleArn=role(lab),
        )
        deadline = time.monotonic() + 30
        while not (starting := runtime_hosts(lab)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(starting) == 1
        assert control.get_agent_runtime(agentRuntimeId=created["agentRuntimeId"])["status"] == (
            "CREATING"
        )
    assert not starting[0].is_running() or starting[0].status() == psutil.STATUS_ZOMBIE


def runtime_hosts(lab: Lab, runtime_id: str = "") -> list[psutil.Process]:
    """The processes that serve a runtime's code for ``lab`` (they run in its state), or
    only those of the runtime ``runtime_id``."""
    state = str(lab.agentcore.state_dir / "runtimes" / runtime_id)
    return [
        child
        for child in psutil.Process().children(recursive=True)
        if "helpers.agentcore.runtime_host" in child.cmdline() and child.cwd().startswith(state)
    ]


def test_an_authorizer_without_an_audience_checks_the_clients_it_names(lab: Lab) -> None:
    # allowedAudience is optional on AWS: an IdP whose access tokens carry no aud (Cognito's)
    # is checked by client instead.
    control = client(lab, "bedrock-agentcore-control")
    only_clients = {
        "customJWTAuthorizer": {
            "discoveryUrl": lab.urls.discovery,
            "allowedClients": [seed.FRONTEND_CLIENT_ID],
        }
    }
    created = create_echo(lab, "no_audience", authorizerConfiguration=only_clients)
    wait_for(control, created["agentRuntimeId"], "READY")
    assert invoke_with_token(lab, created["agentRuntimeArn"], user_token(lab)).status_code == 200
    refused = invoke_with_token(lab, created["agentRuntimeArn"], machine_token(lab))
    assert refused.status_code == 403 and "is not allowed" in refused.json()["message"]
    control.delete_agent_runtime(agentRuntimeId=created["agentRuntimeId"])


def test_the_allowlisted_headers_reach_the_code_and_no_other(lab: Lab) -> None:
    control = client(lab, "bedrock-agentcore-control")
    tenant = "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Tenant"
    allowlist = {"requestHeaderAllowlist": [tenant, "X-Api-Key", "WorkloadAccessToken"]}
    created = create_echo(
        lab,
        "headers",
        authorizerConfiguration=jwt_authorizer(lab),
        requestHeaderConfiguration=allowlist,
    )
    wait_for(control, created["agentRuntimeId"], "READY")
    sent = {tenant: "blue", "X-Api-Key": "k-1", "X-Other": "no", "WorkloadAccessToken": "forged"}
    resp = invoke_with_token(lab, created["agentRuntimeArn"], user_token(lab), sent)
    seen = resp.json()["headers"]
    assert seen[tenant.lower()] == "blue" and seen["x-api-key"] == "k-1"
    assert "x-other" not in seen and "authorization" not in seen  # not on the list
    # A header on the list never stands in for the one the front door sets.
    assert decode_unverified(seen["workloadaccesstoken"])[0]["typ"] == "wat+jwt"
    control.delete_agent_runtime(agentRuntimeId=created["agentRuntimeId"])


@pytest.mark.parametrize(
    ("allowlist", "why"),
    [
        (["Content-Type"], "restricted"),
        (["X-Amz-Date"], "reserved for AWS"),
        (["X-Amzn-Trace-Id"], "reserved for AWS"),
        (["X-Api-Key", "x-api-key"], "twice"),
        (["Authorization"], "JWT authorizer"),  # on a runtime that authorizes by IAM
    ],
)
def test_an_allowlist_aws_refuses_creates_nothing(lab: Lab, allowlist: list, why: str) -> None:
    control = client(lab, "bedrock-agentcore-control")
    with pytest.raises(ClientError) as refused:
        create_echo(
            lab, "bad_headers", requestHeaderConfiguration={"requestHeaderAllowlist": allowlist}
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert why in refused.value.response["Error"]["Message"]
    names = [r["agentRuntimeName"] for r in control.list_agent_runtimes()["agentRuntimes"]]
    assert "bad_headers" not in names


def test_a_retried_create_gets_its_first_answer_and_the_runtime_its_tags(lab: Lab) -> None:
    control = client(lab, "bedrock-agentcore-control")
    token = "retry-" + "0" * 30
    first = create_echo(lab, "retried", clientToken=token, tags={"team": "coaching"})
    again = create_echo(lab, "retried", clientToken=token, tags={"team": "coaching"})
    assert again["agentRuntimeId"] == first["agentRuntimeId"]
    assert again["createdAt"] == first["createdAt"]
    with pytest.raises(ClientError) as reused:  # the same token, another request
        create_echo(lab, "retried", clientToken=token, tags={"team": "other"})
    assert reused.value.response["Error"]["Code"] == "ConflictException"
    # Tags are the runtime's own, not its workload identity's.
    arn = first["agentRuntimeArn"]
    assert control.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "coaching"}
    control.tag_resource(resourceArn=arn, tags={"cost-centre": "42"})
    assert control.list_tags_for_resource(resourceArn=arn)["tags"] == {
        "team": "coaching",
        "cost-centre": "42",
    }
    workload = first["workloadIdentityDetails"]["workloadIdentityArn"]
    assert control.list_tags_for_resource(resourceArn=workload)["tags"] == {}
    wait_for(control, first["agentRuntimeId"], "READY")
    control.delete_agent_runtime(agentRuntimeId=first["agentRuntimeId"])
    with pytest.raises(ClientError) as gone:
        control.list_tags_for_resource(resourceArn=arn)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_runtime_is_invoked_by_id_and_account_through_its_default_endpoint(lab: Lab) -> None:
    control = client(lab, "bedrock-agentcore-control")
    runtime_client = client(lab, "bedrock-agentcore", aws.AGENT_RUNTIME)
    created = create_echo(lab, "by_id")
    wait_for(control, created["agentRuntimeId"], "READY")
    by_id = runtime_client.invoke_agent_runtime(
        agentRuntimeArn=created["agentRuntimeId"],
        accountId=lab.agentcore.account_id,
        qualifier="DEFAULT",
        payload=b'{"prompt": "hi"}',
    )
    assert json.loads(by_id["response"].read())["version"] == "v1"
    with pytest.raises(ClientError) as no_endpoint:
        runtime_client.invoke_agent_runtime(
            agentRuntimeArn=created["agentRuntimeArn"], qualifier="canary", payload=b"{}"
        )
    assert no_endpoint.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "no endpoint canary" in no_endpoint.value.response["Error"]["Message"]
    control.delete_agent_runtime(agentRuntimeId=created["agentRuntimeId"])


def test_deleting_an_old_version_keeps_the_runtime_serving(lab: Lab) -> None:
    control = client(lab, "bedrock-agentcore-control")
    created = create_echo(lab, "pruned", authorizerConfiguration=jwt_authorizer(lab))
    runtime_id = created["agentRuntimeId"]
    wait_for(control, runtime_id, "READY")
    control.update_agent_runtime(
        agentRuntimeId=runtime_id,
        agentRuntimeArtifact=artifact(upload(lab, "pruned-v2.zip", code_zip("v2"))),
        roleArn=role(lab),
        authorizerConfiguration=jwt_authorizer(lab),
    )
    wait_for(control, runtime_id, "READY")
    deleted = control.delete_agent_runtime(agentRuntimeId=runtime_id, agentRuntimeVersion="1")
    assert deleted["agentRuntimeVersion"] == "1"
    versions = control.list_agent_runtime_versions(agentRuntimeId=runtime_id)["agentRuntimes"]
    assert [v["agentRuntimeVersion"] for v in versions] == ["2"]
    answer = invoke_with_token(lab, created["agentRuntimeArn"], user_token(lab)).json()
    assert answer["version"] == "v2"
    workloads = {w["name"] for w in control.list_workload_identities()["workloadIdentities"]}
    assert runtime_id in workloads
    for version, code in [("2", "ConflictException"), ("1", "ResourceNotFoundException")]:
        with pytest.raises(ClientError) as refused:  # the served one; one already gone
            control.delete_agent_runtime(agentRuntimeId=runtime_id, agentRuntimeVersion=version)
        assert refused.value.response["Error"]["Code"] == code
    control.delete_agent_runtime(agentRuntimeId=runtime_id)


@pytest.mark.parametrize(
    ("settings", "code", "said"),
    [
        (
            {"protocolConfiguration": {"serverProtocol": "HTTP", "port": 9000}},
            "NotImplemented",
            "port",
        ),
        ({"platformVersion": "2"}, "NotImplemented", "platformVersion"),
        ({"runtime": "NODE_22"}, "NotImplemented", "Node.js"),
        ({"entryPoint": ["../main.py"]}, "Validation", "not a path inside the code zip"),
        ({"entryPoint": ["/etc/passwd"]}, "Validation", "not a path inside the code zip"),
        ({"environmentVariables": {"MODEL": "a\0b"}}, "Validation", "NUL"),
    ],
)
def test_settings_the_lab_cannot_honour_are_refused_not_dropped(
    lab: Lab, settings: dict, code: str, said: str
) -> None:
    control = client(lab, "bedrock-agentcore-control")
    request = {
        "agentRuntimeName": "not_dropped",
        "agentRuntimeArtifact": artifact({"s3": {"bucket": BUCKET, "prefix": "none.zip"}}),
        "roleArn": role(lab),
    }
    for member in ("runtime", "entryPoint"):
        if member in settings:
            request["agentRuntimeArtifact"]["codeConfiguration"][member] = settings.pop(member)
    with pytest.raises(ClientError) as refused:
        control.create_agent_runtime(**request, **settings)
    assert refused.value.response["Error"]["Code"] == code + "Exception"
    assert said in refused.value.response["Error"]["Message"]
    names = [r["agentRuntimeName"] for r in control.list_agent_runtimes()["agentRuntimes"]]
    assert "not_dropped" not in names


def test_a_missing_code_zip_fails_the_creation_naming_where_it_looked(lab: Lab) -> None:
    control = client(lab, "bedrock-agentcore-control")
    code = {"s3": {"bucket": BUCKET, "prefix": "never-uploaded.zip"}}
    upload(lab, "other.zip", code_zip("v1"))  # the bucket exists; the key does not
    created = control.create_agent_runtime(
        agentRuntimeName="no_code", agentRuntimeArtifact=artifact(code), roleArn=role(lab)
    )
    failed = wait_for(control, created["agentRuntimeId"], "CREATE_FAILED", "READY")
    assert failed["failureReason"] == (
        f"FileNotFoundError: the code zip s3://{BUCKET}/never-uploaded.zip could not be read"
        " (NoSuchKey)"
    )
    control.delete_agent_runtime(agentRuntimeId=created["agentRuntimeId"])


def test_the_metadata_names_the_issuer_while_the_idp_is_unreachable(lab: Lab) -> None:
    # Nothing listens on port 9: the discovery document cannot be fetched.
    control = client(lab, "bedrock-agentcore-control")
    away = {
        "customJWTAuthorizer": {
            "discoveryUrl": "http://127.0.0.1:9/realms/fit/.well-known/openid-configuration"
        }
    }
    created = create_echo(lab, "idp_away", authorizerConfiguration=away)
    wait_for(control, created["agentRuntimeId"], "READY")
    base = lab.env()["AWS_ENDPOINT_URL_BEDROCK_AGENTCORE"]
    resp = requests.get(
        resource_metadata.metadata_url(base, created["agentRuntimeArn"]), timeout=10
    )
    assert resp.status_code == 200
    assert resp.json()["authorization_servers"] == ["http://127.0.0.1:9/realms/fit"]
    refused = invoke_with_token(lab, created["agentRuntimeArn"], user_token(lab))
    assert refused.status_code == 403 and "unusable" in refused.json()["message"]  # fails closed
    control.delete_agent_runtime(agentRuntimeId=created["agentRuntimeId"])


def test_a_runtime_deleted_while_starting_never_serves_its_successor(lab: Lab) -> None:
    # Ids come from names: a runtime made again under its name has the same id as the one
    # deleted while its code was still starting.
    control = client(lab, "bedrock-agentcore-control")
    slow = io.BytesIO()
    with zipfile.ZipFile(slow, "w") as archive:
        starts = "import pathlib, time\npathlib.Path('started').touch()\ntime.sleep(2)\n"
        archive.writestr("main.py", starts + "VERSION = 'slow'\n" + AGENT_CODE)
    first = control.create_agent_runtime(
        agentRuntimeName="reborn",
        agentRuntimeArtifact=artifact(upload(lab, "reborn-slow.zip", slow.getvalue())),
        roleArn=role(lab),
    )
    code_dir = lab.agentcore.state_dir / "runtimes" / first["agentRuntimeId"] / "v1"
    deadline = time.monotonic() + 30
    while not (code_dir / "started").exists():  # the slow code runs, and is not ready yet
        assert time.monotonic() < deadline
        time.sleep(0.05)
    [slow_process] = runtime_hosts(lab, first["agentRuntimeId"])
    control.delete_agent_runtime(agentRuntimeId=first["agentRuntimeId"])
    again = create_echo(lab, "reborn")
    wait_for(control, again["agentRuntimeId"], "READY")
    slow_process.wait(timeout=15)  # it came up, found its runtime deleted, and was stopped
    runtime_client = client(lab, "bedrock-agentcore", aws.AGENT_RUNTIME)
    answer = runtime_client.invoke_agent_runtime(
        agentRuntimeArn=again["agentRuntimeArn"], payload=b"{}"
    )
    assert json.loads(answer["response"].read())["version"] == "v1"
    control.delete_agent_runtime(agentRuntimeId=again["agentRuntimeId"])


def test_an_update_of_the_front_door_alone_keeps_the_process(lab: Lab) -> None:
    control = client(lab, "bedrock-agentcore-control")
    runtime_client = client(lab, "bedrock-agentcore", aws.AGENT_RUNTIME)
    created = create_echo(lab, "reauthorized")  # IAM first
    runtime_id, arn = created["agentRuntimeId"], created["agentRuntimeArn"]
    wait_for(control, runtime_id, "READY")
    answer = runtime_client.invoke_agent_runtime(agentRuntimeArn=arn, payload=b"{}")
    before = json.loads(answer["response"].read())
    same_code = artifact({"s3": {"bucket": BUCKET, "prefix": "reauthorized-v1.zip"}})
    update = {"agentRuntimeId": runtime_id, "agentRuntimeArtifact": same_code, "roleArn": role(lab)}
    control.update_agent_runtime(**update, authorizerConfiguration=jwt_authorizer(lab))
    assert wait_for(control, runtime_id, "READY")["agentRuntimeVersion"] == "2"
    after = invoke_with_token(lab, arn, user_token(lab)).json()
    assert after["pid"] == before["pid"]  # the authorizer changed, the process did not
    with pytest.raises(ClientError) as refused:  # ...and it is version 2's authorizer
        runtime_client.invoke_agent_runtime(agentRuntimeArn=arn, payload=b"{}")
    assert "JWT, not SigV4" in refused.value.response["Error"]["Message"]
    upload(lab, "reauthorized-v1.zip", code_zip("v1b"))  # other bytes under the same key
    control.update_agent_runtime(**update, authorizerConfiguration=jwt_authorizer(lab))
    wait_for(control, runtime_id, "READY")
    third = invoke_with_token(lab, arn, user_token(lab)).json()
    assert third["version"] == "v1b" and third["pid"] != before["pid"]
    control.delete_agent_runtime(agentRuntimeId=runtime_id)


# The three ways to ask for a WAT, each with what it needs besides the workload's name.
WAT_OPERATIONS = {
    "get_workload_access_token": lambda lab: {},
    "get_workload_access_token_for_jwt": lambda lab: {"userToken": user_token(lab)},
    "get_workload_access_token_for_user_id": lambda lab: {"userId": "alice"},
}
EVERY_PRINCIPAL = {
    "operator": aws.OPERATOR,
    "agent role": aws.AGENT_RUNTIME,
    "mcp role": aws.MCP_RUNTIME,
    "frontend": aws.FRONTEND_APP,
    "partner": aws.UNTRUSTED_APP,
}


@pytest.fixture(scope="module")
def managed(lab: Lab) -> Iterator[dict]:
    """An IAM runtime named so that the agent role's policy covers its workload identity
    (``fitness_coach-*``): only the runtime rule stands between that role and its WATs."""
    control = client(lab, "bedrock-agentcore-control")
    created = create_echo(lab, "fitness_coach")
    ready = wait_for(control, created["agentRuntimeId"], "READY")
    yield ready
    control.delete_agent_runtime(agentRuntimeId=created["agentRuntimeId"])


def workload_of(runtime: dict) -> str:
    return runtime["workloadIdentityDetails"]["workloadIdentityArn"].rsplit("/", 1)[1]


def wat_refusal(lab: Lab, creds: aws.LabCredentials, operation: str, workload: str) -> dict:
    data = client(lab, "bedrock-agentcore", creds)
    with pytest.raises(ClientError) as refused:
        getattr(data, operation)(workloadName=workload, **WAT_OPERATIONS[operation](lab))
    return refused.value.response["Error"]


@pytest.mark.attack
@pytest.mark.parametrize("operation", WAT_OPERATIONS)
@pytest.mark.parametrize("who", EVERY_PRINCIPAL)
def test_no_principal_gets_a_wat_for_a_runtimes_workload_identity(
    lab: Lab, managed: dict, who: str, operation: str
) -> None:
    # As on AWS: a WAT for a runtime's identity comes only from its front door, so none
    # can be carried off and spent as the runtime's agent from elsewhere.
    error = wat_refusal(lab, EVERY_PRINCIPAL[who], operation, workload_of(managed))
    assert error["Code"] == "AccessDeniedException"
    if who in ("operator", "agent role"):  # IAM lets them act as it: the rule says no
        assert "managed by an agent runtime" in error["Message"]
        assert "workload identity of its own" in error["Message"]


@pytest.mark.parametrize("operation", WAT_OPERATIONS)
def test_a_workload_identity_of_ones_own_still_gets_wats(lab: Lab, operation: str) -> None:
    control = client(lab, "bedrock-agentcore-control")
    control.create_workload_identity(name="fitness-agent")  # the agent role may act as it
    try:
        data = client(lab, "bedrock-agentcore", aws.AGENT_RUNTIME)
        extra = WAT_OPERATIONS[operation](lab)
        answer = getattr(data, operation)(workloadName="fitness-agent", **extra)
        assert decode_unverified(answer["workloadAccessToken"])[1]["workload"] == "fitness-agent"
    finally:
        control.delete_workload_identity(name="fitness-agent")


def test_updating_a_runtimes_workload_identity_keeps_it_the_runtimes(
    lab: Lab, managed: dict
) -> None:
    control = client(lab, "bedrock-agentcore-control")
    workload, page = workload_of(managed), f"{lab.urls.frontend}/agentcore/return"
    control.update_workload_identity(name=workload, allowedResourceOauth2ReturnUrls=[page])
    error = wat_refusal(lab, aws.OPERATOR, "get_workload_access_token", workload)
    assert error["Code"] == "AccessDeniedException"
    got = control.get_workload_identity(name=workload)
    del got["ResponseMetadata"]
    assert set(got) == {  # the link to the runtime is the lab's own: never shown
        "name",
        "workloadIdentityArn",
        "allowedResourceOauth2ReturnUrls",
        "createdTime",
        "lastUpdatedTime",
    }
    assert got["allowedResourceOauth2ReturnUrls"] == [page]


def test_the_runtimes_code_spends_the_wat_its_front_door_minted(lab: Lab, managed: dict) -> None:
    control = client(lab, "bedrock-agentcore-control")
    key = "wx-" + "k" * 24
    control.create_api_key_credential_provider(name="runtime-weather", apiKey=key)
    try:
        answer = client(lab, "bedrock-agentcore", aws.AGENT_RUNTIME).invoke_agent_runtime(
            agentRuntimeArn=managed["agentRuntimeArn"],
            payload=json.dumps({"api_key_provider": "runtime-weather"}).encode(),
        )
        assert json.loads(answer["response"].read())["api_key"] == key
    finally:
        control.delete_api_key_credential_provider(name="runtime-weather")


def test_runtimes_of_one_zip_share_its_unpacked_files_not_what_their_code_writes(
    lab: Lab,
) -> None:
    control = client(lab, "bedrock-agentcore-control")
    writes = io.BytesIO()
    with zipfile.ZipFile(writes, "w") as archive:
        marks = "import os, pathlib\npathlib.Path(os.environ['GREETING']).touch()\n"
        archive.writestr("main.py", marks + "VERSION = 'marks'\n" + AGENT_CODE)
    code = artifact(upload(lab, "marks.zip", writes.getvalue()))
    folders = {}
    for name in ("twin_a", "twin_b"):
        made = control.create_agent_runtime(
            agentRuntimeName=name,
            agentRuntimeArtifact=code,
            roleArn=role(lab),
            environmentVariables={"GREETING": name},
        )
        wait_for(control, made["agentRuntimeId"], "READY")
        folders[name] = lab.agentcore.state_dir / "runtimes" / made["agentRuntimeId"] / "v1"
    a, b = folders["twin_a"], folders["twin_b"]
    assert (a / "main.py").stat().st_ino == (b / "main.py").stat().st_ino  # unpacked once
    assert (a / "twin_a").exists() and not (a / "twin_b").exists()
    assert (b / "twin_b").exists() and not (b / "twin_a").exists()
    for folder in (a, b):
        control.delete_agent_runtime(agentRuntimeId=folder.parent.name)
