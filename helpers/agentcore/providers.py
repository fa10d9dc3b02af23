"""The emulator as an OAuth client of each credential provider's authorization server.

authlib's requests client does the protocol work (client credentials, authorization URL
with PKCE, code exchange, refresh, token exchange, client authentication by secret or by
a KMS-signed assertion); this module only reads the provider's configuration.
"""

from __future__ import annotations

from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from ..jwks import Documents, FetchFailed
from ..rfc8693 import exchange
from .client_assertions import AssertionSigner
from .directory import Resource
from .errors import AwsError
from .managed_secrets import ManagedSecrets

_METADATA_KEYS = {
    "issuer": "issuer",
    "authorizationEndpoint": "authorization_endpoint",
    "tokenEndpoint": "token_endpoint",
}
_AUTH_METHODS = {
    "CLIENT_SECRET_BASIC": "client_secret_basic",
    "CLIENT_SECRET_POST": "client_secret_post",
}


class ProviderClient:
    """OAuth client calls for one OAuth2 credential provider.

    ``discovery`` is the emulator's own cache of discovery documents: read once per URL.
    """

    def __init__(
        self,
        provider: Resource,
        secrets: ManagedSecrets,
        discovery: Documents,
        signer: AssertionSigner,
    ) -> None:
        self.provider = provider
        self._documents = discovery
        config = provider.body["config"]
        self.client_id = config["clientId"]
        self._discovery = config["oauthDiscovery"]
        secret = provider.body["secret"]
        if secret is None:  # PRIVATE_KEY_JWT: an assertion KMS signs, at every request
            self._secret, self._auth = None, signer.auth(config)
        else:
            self._secret = secrets.read(secret["arn"], secret["jsonKey"])  # EXTERNAL: at use
            method = config.get("clientAuthenticationMethod", "CLIENT_SECRET_BASIC")
            self._auth = _AUTH_METHODS[method]

    def metadata(self) -> dict:
        if "authorizationServerMetadata" in self._discovery:
            given = self._discovery["authorizationServerMetadata"]
            return {wire: given[key] for key, wire in _METADATA_KEYS.items()}
        try:
            return self._documents.get(self._discovery["discoveryUrl"])
        except FetchFailed as exc:
            raise AwsError("InternalServerException", str(exc)) from None

    def session(self, **kwargs: object) -> OAuth2Session:
        if isinstance(self._auth, str):
            return OAuth2Session(
                self.client_id, self._secret, token_endpoint_auth_method=self._auth, **kwargs
            )
        session = OAuth2Session(
            self.client_id, token_endpoint_auth_method=self._auth.name, **kwargs
        )
        session.register_client_auth_method(self._auth)
        return session

    def client_credentials(self, scopes: list[str]) -> dict:
        with self.session(scope=" ".join(scopes)) as oauth:
            return self._fetch(
                lambda: oauth.fetch_token(
                    self.metadata()["token_endpoint"], grant_type="client_credentials"
                )
            )

    def authorization_url(
        self, scopes: list[str], redirect_uri: str, state: str, verifier: str, extra: dict[str, str]
    ) -> str:
        with self.session(scope=" ".join(scopes), redirect_uri=redirect_uri) as oauth:
            url, _ = oauth.create_authorization_url(
                self.metadata()["authorization_endpoint"],
                state=state,
                code_challenge=create_s256_code_challenge(verifier),
                code_challenge_method="S256",
                **extra,
            )
            return url

    def exchange_code(self, code: str, redirect_uri: str, verifier: str) -> dict:
        with self.session(redirect_uri=redirect_uri) as oauth:
            return self._fetch(
                lambda: oauth.fetch_token(
                    self.metadata()["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=verifier,
                )
            )

    def on_behalf_of(self, subject_token: str, scopes: list[str], **target: str) -> dict:
        with self.session() as oauth:
            return self._fetch(
                lambda: exchange(
                    oauth, self.metadata()["token_endpoint"], subject_token, scopes, **target
                )
            )

    def refresh(self, refresh_token: str) -> dict:
        with self.session() as oauth:
            return self._fetch(
                lambda: oauth.refresh_token(
                    self.metadata()["token_endpoint"], refresh_token=refresh_token
                )
            )

    @staticmethod
    def _fetch(call: object) -> dict:
        try:
            return dict(call())  # type: ignore[operator]
        except Exception as exc:  # noqa: BLE001 - authlib raises OAuthError and friends
            error = getattr(exc, "error", type(exc).__name__)
            raise AwsError(
                "AccessDeniedException", f"The provider refused the token request: {error}."
            ) from None
