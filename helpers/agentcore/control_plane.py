"""Handlers of the Identity operations of ``bedrock-agentcore-control``.

Input arrives parsed and validated against the model; each handler applies the service's
rules (uniqueness, quotas, MANAGED vs EXTERNAL secrets) and returns the output members.
"""

from __future__ import annotations

from collections.abc import Callable

from . import client_assertions
from .client_assertions import AssertionSigner
from .directory import PROVIDER_QUOTA, Directory, Resource
from .errors import AwsError, validation_error
from .managed_secrets import ManagedSecrets
from .protocol import Handler, without_call
from .vault import TokenVault, VaultConfigError

API_KEY_JSON_KEY = "api_key_value"
CLIENT_SECRET_JSON_KEY = "client_secret"
OFFLINE_VENDORS = {"CustomOauth2"}  # every other vendor lives on the internet
# The member that references an EXTERNAL secret, by the member that carries a MANAGED one.
REFERENCE_FIELDS = {"apiKey": "apiKeySecretConfig", "clientSecret": "clientSecretConfig"}


class ControlPlane:
    def __init__(
        self,
        directory: Directory,
        secrets: ManagedSecrets,
        vault: TokenVault,
        callback_url: str,
        signer: AssertionSigner,
    ) -> None:
        self.directory, self.secrets, self.vault = directory, secrets, vault
        self.callback_url = callback_url  # where providers send users back (data plane)
        self.signer = signer  # checks a PRIVATE_KEY_JWT provider's KMS key

    def handlers(self) -> dict[str, Handler]:
        ops: dict[str, Callable[[dict], dict]] = {
            "CreateWorkloadIdentity": self.create_workload,
            "GetWorkloadIdentity": self.get_workload,
            "UpdateWorkloadIdentity": self.update_workload,
            "DeleteWorkloadIdentity": self.delete("workload"),
            "ListWorkloadIdentities": self.list_workloads,
            "CreateOauth2CredentialProvider": self.create_oauth2,
            "GetOauth2CredentialProvider": self.get_oauth2,
            "UpdateOauth2CredentialProvider": self.update_oauth2,
            "DeleteOauth2CredentialProvider": self.delete("oauth2"),
            "ListOauth2CredentialProviders": self.list_providers("oauth2"),
            "CreateApiKeyCredentialProvider": self.create_api_key,
            "GetApiKeyCredentialProvider": self.get_api_key,
            "UpdateApiKeyCredentialProvider": self.update_api_key,
            "DeleteApiKeyCredentialProvider": self.delete("apikey"),
            "ListApiKeyCredentialProviders": self.list_providers("apikey"),
            "GetTokenVault": self.get_vault,
            "SetTokenVaultCMK": self.set_vault_cmk,
            "ResetTokenVaultKeyMaterial": self.reset_vault_key,
            "TagResource": self.tag,
            "UntagResource": self.untag,
            "ListTagsForResource": self.list_tags,
        }
        return {name: without_call(fn) for name, fn in ops.items()}

    # -- workload identities ------------------------------------------------------------
    def create_workload(self, p: dict) -> dict:
        body = {"allowedResourceOauth2ReturnUrls": p.get("allowedResourceOauth2ReturnUrls", [])}
        return _workload(
            self.directory.create("workload", p["name"], body, p.get("tags")), timestamps=False
        )

    def get_workload(self, p: dict) -> dict:
        return _workload(self.directory.get("workload", p["name"]))

    def update_workload(self, p: dict) -> dict:
        # Only the return URLs are the caller's to change: lab-internal members (the link
        # to the runtime that made the identity) stay as they are.
        body = {
            **self.directory.get("workload", p["name"]).body,
            "allowedResourceOauth2ReturnUrls": p.get("allowedResourceOauth2ReturnUrls", []),
        }
        return _workload(self.directory.update("workload", p["name"], body))

    def list_workloads(self, p: dict) -> dict:
        items, token = self.directory.page("workload", p.get("maxResults"), p.get("nextToken"))
        return {
            "workloadIdentities": [{"name": r.name, "workloadIdentityArn": r.arn} for r in items],
            "nextToken": token,
        }

    # -- OAuth2 credential providers ----------------------------------------------------
    def create_oauth2(self, p: dict) -> dict:
        self.directory.check_new("oauth2", p["name"], PROVIDER_QUOTA)  # before any secret write
        body = self._oauth2_body(p)
        return self._oauth2_out(
            self.directory.create("oauth2", p["name"], body, p.get("tags"), quota=PROVIDER_QUOTA)
        )

    def update_oauth2(self, p: dict) -> dict:
        old = self.directory.get("oauth2", p["name"])
        body = self._oauth2_body(p)
        updated = self.directory.update("oauth2", p["name"], body)
        self._drop_replaced_managed("oauth2", p["name"], old.body["secret"], body["secret"])
        return self._oauth2_out(updated, timestamps=True)

    def get_oauth2(self, p: dict) -> dict:
        return self._oauth2_out(self.directory.get("oauth2", p["name"]), timestamps=True)

    def _oauth2_body(self, p: dict) -> dict:
        vendor = p["credentialProviderVendor"]
        if vendor not in OFFLINE_VENDORS:
            raise validation_error(
                f"{vendor} is not reachable offline: use CustomOauth2.",
                [("credentialProviderVendor", "only CustomOauth2 in the lab")],
            )
        config = p["oauth2ProviderConfigInput"].get("customOauth2ProviderConfig")
        if not config:
            raise validation_error(
                "customOauth2ProviderConfig is required for CustomOauth2.",
                [("oauth2ProviderConfigInput", "missing custom config")],
            )
        discovery = config["oauthDiscovery"]
        if len([k for k in ("discoveryUrl", "authorizationServerMetadata") if k in discovery]) != 1:
            raise validation_error(
                "Give exactly one of discoveryUrl and authorizationServerMetadata.",
                [("oauthDiscovery", "one of")],
            )
        self.signer.check(config)
        secret = None  # a PRIVATE_KEY_JWT client has none: KMS signs its assertions
        if config.get("clientAuthenticationMethod") != client_assertions.METHOD:
            secret = self._secret(
                p["name"],
                "oauth2",
                config.get("clientSecretSource", "MANAGED"),
                config.get("clientSecret"),
                config.get("clientSecretConfig"),
                CLIENT_SECRET_JSON_KEY,
                "clientSecret",
            )
        kept = {
            k: config[k]
            for k in (
                "oauthDiscovery",
                "clientId",
                "clientAuthenticationMethod",
                "onBehalfOfTokenExchangeConfig",
                "privateKeyJwtConfig",
            )
            if k in config
        }
        return {"vendor": vendor, "config": kept, "secret": secret}

    def _oauth2_out(self, r: Resource, timestamps: bool = False) -> dict:
        out = {
            "name": r.name,
            "credentialProviderArn": r.arn,
            "callbackUrl": self.callback_url,
            "credentialProviderVendor": r.body["vendor"],
            "status": "READY",
            "oauth2ProviderConfigOutput": {"customOauth2ProviderConfig": r.body["config"]},
            **(_secret_out(r.body["secret"], "client") if r.body["secret"] else {}),
        }
        if timestamps:
            out.update(createdTime=r.created, lastUpdatedTime=r.updated)
        return out

    # -- API key credential providers ---------------------------------------------------
    def create_api_key(self, p: dict) -> dict:
        self.directory.check_new("apikey", p["name"], PROVIDER_QUOTA)  # before any secret write
        secret = self._api_key_secret(p)
        self._vault_api_key(p["name"], secret, p.get("apiKey"))
        return _api_key_out(
            self.directory.create(
                "apikey", p["name"], {"secret": secret}, p.get("tags"), quota=PROVIDER_QUOTA
            )
        )

    def update_api_key(self, p: dict) -> dict:
        old = self.directory.get("apikey", p["name"])
        secret = self._api_key_secret(p)
        self._vault_api_key(p["name"], secret, p.get("apiKey"))
        updated = self.directory.update("apikey", p["name"], {"secret": secret})
        self._drop_replaced_managed("apikey", p["name"], old.body["secret"], secret)
        return _api_key_out(updated, timestamps=True)

    def _vault_api_key(self, name: str, secret: dict, value: str | None) -> None:
        """MANAGED keys are read from the token vault, envelope-encrypted under its key;
        the Secrets Manager copy is what the provider's apiKeySecretArn points at."""
        if secret["source"] == "MANAGED":
            self.vault.put_api_key(name, value)
        else:
            self.vault.delete_api_key(name)

    def get_api_key(self, p: dict) -> dict:
        return _api_key_out(self.directory.get("apikey", p["name"]), timestamps=True)

    def _api_key_secret(self, p: dict) -> dict:
        return self._secret(
            p["name"],
            "apikey",
            p.get("apiKeySecretSource", "MANAGED"),
            p.get("apiKey"),
            p.get("apiKeySecretConfig"),
            API_KEY_JSON_KEY,
            "apiKey",
        )

    def _secret(
        self,
        name: str,
        kind: str,
        source: str,
        value: str | None,
        reference: dict | None,
        json_key: str,
        value_field: str,
    ) -> dict:
        """Store a MANAGED secret, or check an EXTERNAL reference: never both, never neither."""
        _check_secret_source(source, value_field, value is not None, reference is not None)
        if source == "MANAGED":
            arn = self.secrets.put(f"{kind}/{name}", json_key, value)
            return {"source": "MANAGED", "arn": arn, "jsonKey": json_key}
        arn = self.secrets.arn_of(reference["secretId"])
        return {"source": "EXTERNAL", "arn": arn, "jsonKey": reference["jsonKey"]}

    def _drop_replaced_managed(
        self, kind: str, name: str, old: dict | None, new: dict | None
    ) -> None:
        """Switched to EXTERNAL (or to no secret): the service-owned copy of the old secret
        must not linger."""
        if (old or {}).get("source") == "MANAGED" and (new or {}).get("source") != "MANAGED":
            self.secrets.delete(f"{kind}/{name}")

    # -- shared -------------------------------------------------------------------------
    def delete(self, kind: str) -> Callable[[dict], dict]:
        def handler(p: dict) -> dict:
            resource = self.directory.get(kind, p["name"])
            secret = resource.body.get("secret") or {}
            if secret.get("source") == "MANAGED":  # ours to clean up; EXTERNAL is the customer's
                self.secrets.delete(f"{kind}/{p['name']}")
                if kind == "apikey":
                    self.vault.delete_api_key(p["name"])
            self.directory.delete(kind, p["name"])
            return {}

        return handler

    def list_providers(self, kind: str) -> Callable[[dict], dict]:
        def handler(p: dict) -> dict:
            items, token = self.directory.page(kind, p.get("maxResults"), p.get("nextToken"))
            rows = []
            for r in items:
                row = {
                    "name": r.name,
                    "credentialProviderArn": r.arn,
                    "createdTime": r.created,
                    "lastUpdatedTime": r.updated,
                }
                if kind == "oauth2":
                    row["credentialProviderVendor"] = r.body["vendor"]
                rows.append(row)
            return {"credentialProviders": rows, "nextToken": token}

        return handler

    # -- token vault --------------------------------------------------------------------
    def get_vault(self, p: dict) -> dict:
        _check_vault_id(p.get("tokenVaultId", "default"))
        return self.vault.describe()

    def set_vault_cmk(self, p: dict) -> dict:
        _check_vault_id(p.get("tokenVaultId", "default"))
        config = p["kmsConfiguration"]
        try:
            if config["keyType"] == "ServiceManagedKey":
                if "kmsKeyArn" in config:
                    raise VaultConfigError("ServiceManagedKey takes no kmsKeyArn.")
                self.vault.set_service_managed()
            else:
                if "kmsKeyArn" not in config:
                    raise VaultConfigError("CustomerManagedKey needs a kmsKeyArn.")
                self.vault.set_cmk(config["kmsKeyArn"])
        except VaultConfigError as exc:
            raise validation_error(str(exc), [("kmsConfiguration", str(exc))]) from None
        return self.vault.describe()

    def reset_vault_key(self, p: dict) -> dict:
        _check_vault_id(p["tokenVaultId"])
        self.vault.reset_key_material()
        return self.vault.describe()

    # -- tags ---------------------------------------------------------------------------
    def tag(self, p: dict) -> dict:
        tags = {**self.directory.by_arn(p["resourceArn"]).tags, **p["tags"]}
        if len(tags) > 50:
            raise AwsError("ServiceQuotaExceededException", "A resource can have 50 tags.")
        self.directory.set_tags(p["resourceArn"], tags)
        return {}

    def untag(self, p: dict) -> dict:
        tags = self.directory.by_arn(p["resourceArn"]).tags
        self.directory.set_tags(
            p["resourceArn"], {k: v for k, v in tags.items() if k not in p["tagKeys"]}
        )
        return {}

    def list_tags(self, p: dict) -> dict:
        return {"tags": self.directory.by_arn(p["resourceArn"]).tags}


def _workload(r: Resource, timestamps: bool = True) -> dict:
    out = {
        "name": r.name,
        "workloadIdentityArn": r.arn,
        "allowedResourceOauth2ReturnUrls": r.body["allowedResourceOauth2ReturnUrls"],
    }
    if timestamps:
        out.update(createdTime=r.created, lastUpdatedTime=r.updated)
    return out


def _check_secret_source(source: str, value_field: str, has_value: bool, has_ref: bool) -> None:
    """MANAGED takes the value, EXTERNAL the reference; the error names the member at fault."""
    reference_field = REFERENCE_FIELDS[value_field]
    if source == "MANAGED":
        wrong = [(value_field, "required for MANAGED")] if not has_value else []
        wrong += [(reference_field, "not allowed for MANAGED")] if has_ref else []
    else:
        wrong = [(reference_field, "required for EXTERNAL")] if not has_ref else []
        wrong += [(value_field, "not allowed for EXTERNAL")] if has_value else []
    if wrong:
        raise validation_error(
            f"{source} needs {value_field if source == 'MANAGED' else reference_field} only.",
            wrong,
        )


def _secret_out(secret: dict, prefix: str) -> dict:
    """``apiKeySecretArn``/``clientSecretArn`` and friends, as the model names them."""
    return {
        f"{prefix}SecretArn": {"secretArn": secret["arn"]},
        f"{prefix}SecretJsonKey": secret["jsonKey"],
        f"{prefix}SecretSource": secret["source"],
    }


def _api_key_out(r: Resource, timestamps: bool = False) -> dict:
    out = {
        "name": r.name,
        "credentialProviderArn": r.arn,
        **_secret_out(r.body["secret"], "apiKey"),
    }
    if timestamps:
        out.update(createdTime=r.created, lastUpdatedTime=r.updated)
    return out


def _check_vault_id(vault_id: str) -> None:
    if vault_id != "default":
        raise AwsError("ResourceNotFoundException", f"Token vault {vault_id} not found.")
