"""``PRIVATE_KEY_JWT`` credential providers: the client assertion signed in KMS (RFC 7523).

Such a provider has no client secret. At each token request the emulator writes the
assertion authlib's ``private_key_jwt`` writes (``iss`` = ``sub`` = the client id, ``aud``
= the token endpoint, a fresh ``jti``, five minutes to live) and has KMS sign it with the
provider's key: the private key never leaves KMS, so neither the service nor anyone who
reads its configuration ever holds something that authenticates as the client.

RS256 and ES256 are emulated (KMS answers ECDSA in DER; JWS wants r‖s, RFC 7518 §3.4).
PS256 answers 501: the lab's KMS (moto) signs PSS with the longest salt, where JWS and AWS
KMS use one as long as the hash, so no verifier would accept it. So does
``AWS_IAM_ID_TOKEN_JWT``.
"""

from __future__ import annotations

import json
import time
import uuid

from authlib.oauth2.rfc7523 import PrivateKeyJWT
from botocore.client import BaseClient
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc.util import urlsafe_b64encode

from .errors import AwsError, validation_error

METHOD = "PRIVATE_KEY_JWT"
KMS_ALGORITHMS = {"RS256": "RSASSA_PKCS1_V1_5_SHA_256", "ES256": "ECDSA_SHA_256"}
P256_BYTES = 32  # each of r and s in an ES256 signature
ASSERTION_TTL = 300
NOT_EMULATED = {"AWS_IAM_ID_TOKEN_JWT": "AWS_IAM_ID_TOKEN_JWT client authentication"}
PSS_SALT = "PS256 assertions are not emulated: the lab's KMS signs PSS with another salt length."


class AssertionSigner:
    """The emulator's way to KMS for client assertions (its own identity, as for the vault)."""

    def __init__(self, kms: BaseClient) -> None:
        self.kms = kms

    def check(self, config: dict) -> None:
        """Refuse, at create or update, a configuration the token requests could not use."""
        method = config.get("clientAuthenticationMethod")
        if method in NOT_EMULATED:
            raise AwsError(
                "NotImplementedException", f"{NOT_EMULATED[method]} is not emulated.", status=501
            )
        settings = config.get("privateKeyJwtConfig")
        if method != METHOD:
            if settings is not None:
                raise _invalid("privateKeyJwtConfig goes with clientAuthenticationMethod "
                               "PRIVATE_KEY_JWT.")  # fmt: skip
            return
        if settings is None or "kmsKeySource" not in settings.get("privateKeySource", {}):
            raise _invalid("PRIVATE_KEY_JWT needs privateKeyJwtConfig with a kmsKeySource.")
        if "clientSecret" in config or "clientSecretConfig" in config:
            raise _invalid("A PRIVATE_KEY_JWT provider has no client secret.")
        algorithm = settings.get("signingAlgorithm", "RS256")
        if algorithm == "PS256":
            raise AwsError("NotImplementedException", PSS_SALT, status=501)
        self._check_key(settings["privateKeySource"]["kmsKeySource"]["kmsKeyArn"], algorithm)

    def _check_key(self, arn: str, algorithm: str) -> None:
        try:
            key = self.kms.describe_key(KeyId=arn)["KeyMetadata"]
        except ClientError as exc:
            raise _invalid(f"KMS key {arn}: {exc.response['Error']['Message']}") from None
        usable = (
            key.get("KeyUsage") == "SIGN_VERIFY"
            and key.get("KeyState") == "Enabled"
            and KMS_ALGORITHMS[algorithm] in key.get("SigningAlgorithms", [])
        )
        if not usable:
            raise _invalid(f"KMS key {arn} cannot sign {algorithm}: it must be an enabled "
                           "asymmetric SIGN_VERIFY key that offers it.")  # fmt: skip

    def auth(self, config: dict) -> KmsSignedJwt:
        settings = config["privateKeyJwtConfig"]
        return KmsSignedJwt(
            self.kms,
            settings["privateKeySource"]["kmsKeySource"]["kmsKeyArn"],
            settings.get("signingAlgorithm", "RS256"),
            headers=settings.get("additionalHeaderClaims"),
            claims=settings.get("additionalPayloadClaims"),
        )


class KmsSignedJwt(PrivateKeyJWT):
    """authlib's ``private_key_jwt`` client authentication, signed by KMS."""

    def __init__(
        self,
        kms: BaseClient,
        key_arn: str,
        alg: str,
        headers: dict | None = None,
        claims: dict | None = None,
    ) -> None:
        super().__init__(headers=headers, claims=claims, alg=alg)
        self.kms, self.key_arn = kms, key_arn

    def sign(self, auth, token_endpoint: str) -> str:  # noqa: ANN001 - authlib's client auth
        # Wall clock, not the lab's: the IdP checks assertions against the wall clock too.
        now = int(time.time())
        # The service's claims come last: additional claims cannot replace them.
        header = {**(self.headers or {}), "alg": self.alg, "typ": "JWT"}
        payload = {
            **(self.claims or {}),
            "iss": auth.client_id,
            "sub": auth.client_id,
            "aud": token_endpoint,
            "jti": uuid.uuid4().hex,
            "iat": now,
            "exp": now + ASSERTION_TTL,
        }
        signing_input = b".".join(urlsafe_b64encode(_json(part)) for part in (header, payload))
        signed = self.kms.sign(
            KeyId=self.key_arn,
            Message=signing_input,
            MessageType="RAW",
            SigningAlgorithm=KMS_ALGORITHMS[self.alg],
        )
        signature = signed["Signature"]
        if self.alg == "ES256":
            r, s = decode_dss_signature(signature)
            signature = r.to_bytes(P256_BYTES, "big") + s.to_bytes(P256_BYTES, "big")
        return (signing_input + b"." + urlsafe_b64encode(signature)).decode()


def _json(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _invalid(message: str) -> AwsError:
    return validation_error(message, [("privateKeyJwtConfig", message)])
