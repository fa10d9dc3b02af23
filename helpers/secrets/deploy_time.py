"""Pattern 1, secrets at deploy time: a template renders them into the agent's environment.

A CloudFormation template (``Parameters``, and an ``AWS::BedrockAgentCore::Runtime``
whose ``EnvironmentVariables`` refer to them with ``{"Ref": ...}``) is rendered once, at
deploy time, into the environment of a real child process,
:mod:`helpers.secrets.deployed_agent`: the lab renders the variables, not the resource. That is how
Lambda environment variables and AgentCore Runtime's ``environmentVariables`` reach code.
What the plaintext variable costs:

- every process the agent spawns inherits it (unless spawned with an allow-list:
  ``agent.spawn_child(allow=[...])``);
- ``del os.environ[...]`` hides it from the agent and its later children, but the
  operating system keeps the environment the process started with and shows it to any
  process of the same user (:func:`environ_of`: ``/proc/<pid>/environ`` on Linux,
  ``ps eww`` on macOS);
- a naive log of the config writes it to the log (:class:`RedactingFilter` masks it);
- the running agent keeps the value it started with: rotating means redeploying.

Sealing with KMS before injection (what Lambda's "encryption helpers" do) puts only a
ciphertext in the environment; the agent decrypts it at start-up under an encryption
context that names the app and the parameter, so a ciphertext copied from another
parameter, or decrypted by another app, fails instead of yielding a key.

Deploying and redeploying the agent: :func:`helpers.secrets.deployed_agent.deploy` and
:func:`~helpers.secrets.deployed_agent.redeploy`.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ..aws import AGENT_RUNTIME, CODE_BUCKET, LabCredentials, acting_as, client
from ..masking import mask_in_text

if TYPE_CHECKING:  # the agent imports this module: botocore only once it decrypts
    from botocore.client import BaseClient

APP = "fitness-agent"
WEATHER_PARAM = "WeatherApiKey"
PLAIN_VAR = "WEATHER_API_KEY"  # the key itself
SEALED_VAR = "WEATHER_API_KEY_KMS"  # base64 of a KMS ciphertext of the key
LOG_REDACTION_VAR = "LOG_REDACTION"  # "1": the agent's log handler masks its secrets
AGENT_RESOURCE = "Agent"  # the template's runtime resource


def _template(key_var: str) -> dict[str, Any]:
    """A CloudFormation template with one ``AWS::BedrockAgentCore::Runtime``: the agent,
    whose ``EnvironmentVariables`` take the parameters (cfn-lint checks it against the
    resource's published schema in the tests)."""
    code = {
        "S3": {"Bucket": {"Fn::Sub": f"{CODE_BUCKET}-${{AWS::AccountId}}"}, "Prefix": "weather.zip"}
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            # NoEcho: CloudFormation shows the value as asterisks in the console and in
            # DescribeStacks. It still lands in the runtime's environment in plaintext.
            WEATHER_PARAM: {"Type": "String", "NoEcho": True},
            "LogRedaction": {"Type": "String", "Default": "0", "AllowedValues": ["0", "1"]},
        },
        "Resources": {
            AGENT_RESOURCE: {
                "Type": "AWS::BedrockAgentCore::Runtime",
                "Properties": {
                    "AgentRuntimeName": "fitness_weather_agent",
                    "RoleArn": {
                        "Fn::Sub": "arn:aws:iam::${AWS::AccountId}:role/fitness-agent-runtime"
                    },
                    "NetworkConfiguration": {"NetworkMode": "PUBLIC"},
                    "AgentRuntimeArtifact": {
                        "CodeConfiguration": {
                            "Code": code,
                            "Runtime": "PYTHON_3_11",
                            "EntryPoint": ["main.py"],
                        }
                    },
                    "EnvironmentVariables": {
                        key_var: {"Ref": WEATHER_PARAM},
                        LOG_REDACTION_VAR: {"Ref": "LogRedaction"},
                    },
                },
            }
        },
    }


TEMPLATE = _template(PLAIN_VAR)
SEALED_TEMPLATE = _template(SEALED_VAR)  # render it with seal_parameters(...) output


class TemplateError(ValueError):
    """The parameters do not fit the template (unknown, missing, or a dangling Ref)."""


def render(template: Mapping[str, Any], parameters: Mapping[str, str]) -> dict[str, str]:
    """The agent's environment: every ``{"Ref": name}`` replaced by the parameter's value."""
    declared = template.get("Parameters", {})
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        raise TemplateError(f"parameters not declared by the template: {unknown}")
    values = {name: parameters.get(name, spec.get("Default")) for name, spec in declared.items()}
    missing = sorted(name for name, value in values.items() if value is None)
    if missing:
        raise TemplateError(f"parameters without a value or a Default: {missing}")
    environment = template["Resources"][AGENT_RESOURCE]["Properties"]["EnvironmentVariables"]
    return {var: _resolve(value, values) for var, value in environment.items()}


def _resolve(value: str | Mapping[str, str], values: Mapping[str, str]) -> str:
    if isinstance(value, str):
        return value
    name = value["Ref"]
    if name not in values:
        raise TemplateError(f"Ref to an undeclared parameter: {name!r}")
    return values[name]


# -- sealing with KMS -----------------------------------------------------------------


class SealError(RuntimeError):
    """KMS refused to decrypt a sealed parameter."""


def encryption_context(param: str, app: str = APP) -> dict[str, str]:
    """What a ciphertext is bound to: KMS only decrypts it when given the same pairs."""
    return {"app": app, "param": param}


def seal(kms: BaseClient, key_id: str, param: str, value: str, app: str = APP) -> str:
    """``value`` encrypted under ``key_id``, bound to (app, param); base64 to fit an env var."""
    blob = kms.encrypt(
        KeyId=key_id, Plaintext=value.encode(), EncryptionContext=encryption_context(param, app)
    )["CiphertextBlob"]
    return base64.b64encode(blob).decode()


def seal_parameters(
    kms: BaseClient, key_id: str, parameters: Mapping[str, str], app: str = APP
) -> dict[str, str]:
    """Every parameter sealed under its own name: ready for ``render(SEALED_TEMPLATE, ...)``."""
    return {name: seal(kms, key_id, name, value, app) for name, value in parameters.items()}


def unseal(kms: BaseClient, param: str, sealed: str, app: str = APP) -> str:
    """The plaintext of ``sealed``, if it was sealed for this app and this parameter."""
    from botocore.exceptions import ClientError

    context = encryption_context(param, app)
    try:
        answer = kms.decrypt(CiphertextBlob=base64.b64decode(sealed), EncryptionContext=context)
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code != "InvalidCiphertextException":
            raise
        # KMS's own message is empty: say which binding did not match and why it might not.
        raise SealError(
            f"{code}: KMS will not decrypt {param} under context {context}; it was sealed "
            "for another app or another parameter (a swapped ciphertext), or altered"
        ) from exc
    return answer["Plaintext"].decode()


def runtime_env(aws_url: str, credentials: LabCredentials = AGENT_RUNTIME) -> dict[str, str]:
    """What the runtime gives the agent to reach KMS: its role's credentials, its region
    and the endpoint. In AWS mode the role is the AWS profile acting as that principal."""
    role, region = acting_as(credentials)
    token = {"AWS_SESSION_TOKEN": role.session_token} if role.session_token else {}
    return {
        "AWS_ENDPOINT_URL": aws_url,
        "AWS_ACCESS_KEY_ID": role.access_key_id,
        "AWS_SECRET_ACCESS_KEY": role.secret_access_key,
        **token,
        "AWS_DEFAULT_REGION": region,
    }


def kms_from_env(env: Mapping[str, str]) -> BaseClient:
    """The agent's side of :func:`runtime_env`: a KMS client from its own environment."""
    credentials = LabCredentials(
        env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN")
    )
    region = env["AWS_DEFAULT_REGION"]
    return client("kms", env["AWS_ENDPOINT_URL"], credentials, region_name=region)


# -- what leaks, and the mitigations ----------------------------------------------------


def environ_of(pid: int) -> dict[str, str]:
    """The environment ``pid`` started with, read as any process of the same user can
    (psutil reads it where each OS keeps it: /proc on Linux, the kernel's process
    arguments on macOS)."""
    import psutil

    return psutil.Process(pid).environ()


class RedactingFilter(logging.Filter):
    """Masks every known secret in a record's message before any handler writes it.

    Add it to the handler, not to a logger: a logger's filters skip records that
    propagate up from its child loggers, a handler sees every record it writes.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = tuple(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        # Format first: a secret usually arrives in the args, not in the format string.
        record.msg = mask_in_text(record.getMessage(), self._secrets)
        record.args = None
        return True
