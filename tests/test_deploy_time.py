"""Secrets at deploy time: what a plaintext environment variable exposes, and what helps.

Every agent here is a real child process; KMS is moto behind a real HTTP server. Each
deployed environment carries a tag, so the module can check at the end that no agent,
nor any process one spawned, outlives the tests.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from botocore.client import BaseClient
from cfnlint.api import lint as cfn_lint

from helpers.aws import (
    AGENT_RUNTIME,
    OPERATOR,
    REGION,
    LabCredentials,
    MotoServer,
    client,
    code_bucket,
    session,
)
from helpers.lab_only import MODE_VAR
from helpers.masking import mask
from helpers.secrets.deploy_time import (
    PLAIN_VAR,
    SEALED_TEMPLATE,
    SEALED_VAR,
    TEMPLATE,
    WEATHER_PARAM,
    RedactingFilter,
    SealError,
    TemplateError,
    environ_of,
    kms_from_env,
    render,
    runtime_env,
    seal,
    seal_parameters,
    unseal,
)
from helpers.secrets.deployed_agent import DeployedAgent, DeployError, deploy, redeploy

TAG_VAR = "LAB_TEST_TAG"
TAG = uuid.uuid4().hex


def new_key() -> str:
    return f"wk-{secrets.token_hex(16)}"


def tagged(env: dict[str, str]) -> dict[str, str]:
    return env | {TAG_VAR: TAG}


def plain_env(key: str, **parameters: str) -> dict[str, str]:
    return tagged(render(TEMPLATE, {WEATHER_PARAM: key, **parameters}))


def children() -> set[int]:
    """Pids whose parent is this test process."""
    return {child.pid for child in psutil.Process().children()}


def tagged_processes() -> set[int]:
    found = set()
    for proc in psutil.process_iter():
        try:
            if environ_of(proc.pid).get(TAG_VAR) == TAG:
                found.add(proc.pid)
        except psutil.Error:  # gone meanwhile, or another user's: not one of ours
            continue
    return found


@pytest.fixture(scope="module", autouse=True)
def no_stray_processes() -> Iterator[None]:
    before = children()
    yield
    assert children() <= before
    assert tagged_processes() == set()


@pytest.fixture(scope="module")
def kms() -> Iterator[BaseClient]:
    with MotoServer() as moto:
        kms = client("kms", moto.url, OPERATOR)
        yield kms
        kms.close()


@pytest.fixture(scope="module")
def key_id(kms: BaseClient) -> str:
    return kms.create_key(Description="deploy-time parameters")["KeyMetadata"]["KeyId"]


@pytest.fixture(scope="module")
def weather_key() -> str:
    return new_key()


@pytest.fixture(scope="module")
def agent(weather_key: str) -> Iterator[DeployedAgent]:
    """One plaintext agent for the tests that only look (nothing here changes its state)."""
    with deploy(plain_env(weather_key)) as agent:
        yield agent


# -- the template ---------------------------------------------------------------------


def test_render_resolves_refs_and_defaults(weather_key: str) -> None:
    assert render(TEMPLATE, {WEATHER_PARAM: weather_key}) == {
        PLAIN_VAR: weather_key,
        "LOG_REDACTION": "0",
    }


@pytest.mark.parametrize(
    ("template", "parameters", "message"),
    [
        (TEMPLATE, {WEATHER_PARAM: "k", "Typo": "v"}, "not declared"),
        (TEMPLATE, {}, "without a value"),
        (
            {
                "Parameters": {},
                "Resources": {
                    "Agent": {"Properties": {"EnvironmentVariables": {"X": {"Ref": "N"}}}}
                },
            },
            {},
            "undeclared parameter",
        ),
    ],
)
def test_render_rejects_parameters_that_do_not_fit(
    template: dict, parameters: dict[str, str], message: str
) -> None:
    with pytest.raises(TemplateError, match=message):
        render(template, parameters)


# -- what the plaintext variable exposes ----------------------------------------------


def test_agent_reports_its_key_masked(agent: DeployedAgent, weather_key: str) -> None:
    assert agent.current_key() == mask(weather_key)


def test_spawned_child_inherits_the_key(agent: DeployedAgent, weather_key: str) -> None:
    assert agent.spawn_child()[PLAIN_VAR] == weather_key


def test_child_spawned_with_an_allow_list_does_not_see_it(agent: DeployedAgent) -> None:
    seen = agent.spawn_child(allow=["PATH"])
    assert PLAIN_VAR not in seen
    assert set(seen) <= {"PATH", "LC_CTYPE"}  # Python may add LC_CTYPE (PEP 538)


def test_proc_environ_still_holds_the_key_after_del() -> None:
    key = new_key()
    with deploy(plain_env(key)) as agent:
        left = agent.forget_env()
        assert PLAIN_VAR not in left  # gone from the agent's os.environ ...
        assert PLAIN_VAR not in agent.spawn_child()  # ... and from its later children ...
        assert environ_of(agent.pid)[PLAIN_VAR] == key  # ... but not from /proc


def test_naive_log_writes_the_key(agent: DeployedAgent, weather_key: str) -> None:
    assert weather_key in agent.log_text()


def test_redacting_filter_leaves_only_the_mask_in_the_agent_log() -> None:
    key = new_key()
    with deploy(plain_env(key, LogRedaction="1")) as agent:
        log = agent.log_text()
    assert key not in log
    assert mask(key) in log


def test_redacting_filter_on_a_handler_catches_child_loggers() -> None:
    key = new_key()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter([key]))
    parent = logging.getLogger(f"lab-test-{TAG}")
    parent.addHandler(handler)
    parent.setLevel(logging.INFO)
    try:
        parent.getChild("http").info("calling weather API with key=%s", key)
    finally:
        parent.removeHandler(handler)
    assert stream.getvalue() == f"calling weather API with key={mask(key)}\n"


# -- sealed with KMS ------------------------------------------------------------------


def test_kms_round_trip(kms: BaseClient, key_id: str) -> None:
    key = new_key()
    sealed = seal(kms, key_id, WEATHER_PARAM, key)
    assert key not in sealed
    assert unseal(kms, WEATHER_PARAM, sealed) == key


def test_sealed_agent_decrypts_at_startup_and_its_environ_holds_ciphertext(
    kms: BaseClient, key_id: str, weather_key: str
) -> None:
    sealed = seal_parameters(kms, key_id, {WEATHER_PARAM: weather_key})
    env = tagged(render(SEALED_TEMPLATE, sealed) | runtime_env(kms.meta.endpoint_url))
    with deploy(env) as agent:
        assert agent.current_key() == mask(weather_key)
        environ = environ_of(agent.pid)
    assert environ[SEALED_VAR] == sealed[WEATHER_PARAM]
    assert weather_key not in "".join(environ.values())


@pytest.mark.attack
def test_wrong_encryption_context_does_not_decrypt(kms: BaseClient, key_id: str) -> None:
    sealed = seal(kms, key_id, WEATHER_PARAM, new_key())
    with pytest.raises(SealError, match="InvalidCiphertextException.*billing-agent"):
        unseal(kms, WEATHER_PARAM, sealed, app="billing-agent")


@pytest.mark.attack
def test_ciphertext_swapped_from_another_parameter_fails_the_deploy(
    kms: BaseClient, key_id: str
) -> None:
    other = seal(kms, key_id, "StravaClientSecret", "strava-secret-never-for-weather")
    env = tagged(render(SEALED_TEMPLATE, {WEATHER_PARAM: other}))
    with pytest.raises(DeployError, match="InvalidCiphertextException.*WeatherApiKey"):
        deploy(env | runtime_env(kms.meta.endpoint_url))


# -- the runtime's role, in the lab and in AWS mode -------------------------------------
ROLE = LabCredentials("AKIAROLEPROFILE00001", "roleProfileSecretNotARealAwsKey000000001", "tok")


def test_in_the_lab_the_agent_gets_the_lab_role_and_region() -> None:
    assert runtime_env("http://kms.lab") == {
        "AWS_ENDPOINT_URL": "http://kms.lab",
        "AWS_ACCESS_KEY_ID": AGENT_RUNTIME.access_key_id,
        "AWS_SECRET_ACCESS_KEY": AGENT_RUNTIME.secret_access_key,
        "AWS_DEFAULT_REGION": REGION,
    }


def enter_aws_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS mode whose agent_runtime principal is a profile with temporary credentials, in
    another region than the lab's; nothing else in the environment names AWS settings."""
    config = tmp_path / "aws-mode.toml"
    config.write_text('[app]\nfrontend_port = 8400\n[principals]\nagent_runtime = "role"\n')
    (tmp_path / "credentials").write_text(
        f"[role]\naws_access_key_id = {ROLE.access_key_id}\n"
        f"aws_secret_access_key = {ROLE.secret_access_key}\n"
        f"aws_session_token = {ROLE.session_token}\n"
    )
    (tmp_path / "config").write_text("[profile role]\nregion = eu-west-1\n")
    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv(MODE_VAR, str(config))


@pytest.fixture
def aws_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    enter_aws_mode(tmp_path, monkeypatch)


def test_in_aws_mode_the_agent_gets_its_profile_credentials_and_region(aws_mode: None) -> None:
    env = runtime_env("https://kms.eu-west-1.amazonaws.com")
    assert env == {
        "AWS_ENDPOINT_URL": "https://kms.eu-west-1.amazonaws.com",
        "AWS_ACCESS_KEY_ID": ROLE.access_key_id,
        "AWS_SECRET_ACCESS_KEY": ROLE.secret_access_key,
        "AWS_SESSION_TOKEN": ROLE.session_token,
        "AWS_DEFAULT_REGION": "eu-west-1",
    }


class Sent(Exception):
    """Raised instead of sending: the request as signed is all a test needs."""


def test_the_agent_signs_with_the_token_and_in_the_region_it_was_given() -> None:
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": ROLE.access_key_id,
           "AWS_SECRET_ACCESS_KEY": ROLE.secret_access_key, "AWS_SESSION_TOKEN": "tok",
           "AWS_DEFAULT_REGION": "eu-west-1"}  # fmt: skip
    kms, signed = kms_from_env(env), []

    def stop(request: object, **_: object) -> None:
        signed.append(request.headers)
        raise Sent

    kms.meta.events.register("before-send.kms", stop)
    with pytest.raises(Sent):
        kms.list_keys()
    assert signed[0]["X-Amz-Security-Token"] in ("tok", b"tok")
    assert b"/eu-west-1/kms/" in _as_bytes(signed[0]["Authorization"])


def _as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


def test_in_aws_mode_a_sealed_agent_decrypts_in_its_profile_region(
    kms: BaseClient, weather_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key is in eu-west-1, the profile's region: an agent sent to the lab's
    us-east-1, or without the profile's credentials, would not find it."""
    url = kms.meta.endpoint_url
    regional = client("kms", url, OPERATOR, region_name="eu-west-1")
    key_id = regional.create_key(Description="in the profile's region")["KeyMetadata"]["KeyId"]
    sealed = seal_parameters(regional, key_id, {WEATHER_PARAM: weather_key})
    enter_aws_mode(tmp_path, monkeypatch)
    with deploy(tagged(render(SEALED_TEMPLATE, sealed) | runtime_env(url))) as agent:
        assert agent.current_key() == mask(weather_key)


# -- rotation -------------------------------------------------------------------------


def test_rotation_is_not_seen_until_redeploy() -> None:
    old, new = new_key(), new_key()
    with deploy(plain_env(old)) as first:
        new_env = plain_env(new)  # the parameters have the new key ...
        assert first.current_key() == mask(old)  # ... the running agent does not
        second, seconds = redeploy(first, new_env)
        with second:
            assert second.current_key() == mask(new)
        with pytest.raises(DeployError, match="stopped"):
            first.current_key()
    assert seconds > 0
    assert not Path(f"/proc/{first.pid}").exists()


@pytest.mark.parametrize("template", [TEMPLATE, SEALED_TEMPLATE], ids=["plain", "sealed"])
def test_the_template_is_a_runtime_cfn_lint_accepts(template: dict) -> None:
    # cfn-lint checks the resource against AWS::BedrockAgentCore::Runtime's published schema.
    assert template["Resources"]["Agent"]["Type"] == "AWS::BedrockAgentCore::Runtime"
    assert [str(match) for match in cfn_lint(json.dumps(template))] == []


def test_cfn_lint_catches_a_template_that_is_not_a_runtime() -> None:
    broken = copy.deepcopy(TEMPLATE)
    code = broken["Resources"]["Agent"]["Properties"]["AgentRuntimeArtifact"]["CodeConfiguration"]
    code["EntryPoints"] = code.pop("EntryPoint")
    rules = {match.rule.id for match in cfn_lint(json.dumps(broken))}
    assert {"E3002", "E3003"} <= rules  # an unknown property, a missing required one


def test_runtime_code_goes_to_the_accounts_bucket_in_the_clients_region() -> None:
    # S3 bucket names are global, and outside us-east-1 CreateBucket must name the Region.
    with MotoServer() as moto:
        s3 = session(OPERATOR).client("s3", endpoint_url=moto.url, region_name="eu-west-1")
        name = code_bucket(s3, moto.account_id)
        assert name == f"fitness-runtime-code-{moto.account_id}"
        assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
        assert code_bucket(s3, moto.account_id) == name  # made once; found the second time
        s3.close()
