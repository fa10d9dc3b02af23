"""Where credential providers keep their secrets: AWS Secrets Manager (moto in the lab).

MANAGED: the service writes the API key or client secret into a secret it owns and hands
back its ARN. EXTERNAL: the customer owns the secret; the service only reads one JSON key
of it when the credential is needed, so rotating the secret needs no provider update.
"""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from .errors import AwsError

MANAGED_PREFIX = "bedrock-agentcore-identity!default"


class ManagedSecrets:
    def __init__(self, client: object) -> None:
        self.client = client  # a boto3 secretsmanager client

    def put(self, path: str, json_key: str, value: str) -> str:
        """Create or overwrite the service-owned secret at ``path``; returns its ARN."""
        name = f"{MANAGED_PREFIX}/{path}"
        payload = json.dumps({json_key: value})
        try:
            return self.client.create_secret(Name=name, SecretString=payload)["ARN"]
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceExistsException":
                raise
        return self.client.put_secret_value(SecretId=name, SecretString=payload)["ARN"]

    def delete(self, path: str) -> None:
        try:
            self.client.delete_secret(
                SecretId=f"{MANAGED_PREFIX}/{path}", ForceDeleteWithoutRecovery=True
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise

    def arn_of(self, secret_id: str) -> str:
        try:
            return self.client.describe_secret(SecretId=secret_id)["ARN"]
        except ClientError as exc:
            raise _as_aws_error(exc, secret_id) from None

    def read(self, secret_id: str, json_key: str) -> str:
        """The value under ``json_key`` of a JSON secret, or the error the service gives."""
        try:
            raw = self.client.get_secret_value(SecretId=secret_id)["SecretString"]
        except ClientError as exc:
            raise _as_aws_error(exc, secret_id) from None
        try:
            return str(json.loads(raw)[json_key])
        except (ValueError, KeyError, TypeError):
            raise AwsError(
                "ValidationException",
                f"Secret {secret_id} has no JSON key {json_key!r}.",
                reason="FieldValidationFailed",
            ) from None


def _as_aws_error(exc: ClientError, secret_id: str) -> AwsError:
    code = exc.response["Error"]["Code"]
    if code == "ResourceNotFoundException":
        return AwsError("ResourceNotFoundException", f"Secret {secret_id} not found.")
    if code in ("AccessDeniedException", "AccessDenied"):
        return AwsError("AccessDeniedException", f"Not allowed to read secret {secret_id}.")
    return AwsError("InternalServerException", f"Could not read secret {secret_id}: {code}.")
