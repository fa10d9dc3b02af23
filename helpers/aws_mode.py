"""AWS mode's configuration: the one file that points the notebooks away from the lab.

``LAB_AWS_MODE`` names a TOML file. AWS itself is configured the standard way
(``AWS_PROFILE``, ``AWS_REGION``, ``AWS_ENDPOINT_URL_*``, the shared config and
credentials files); the file says what AWS settings cannot: the OIDC provider, where the
course's own app (the cast) listens, and in which environment variables the secrets of
the provider's clients are (never the secrets themselves), and which AWS profile acts as
each of the course's principals. README.md's "AWS mode" shows a whole file: every client
and every principal the notebooks use.

``python -m helpers serve --aws-mode-config FILE`` plays the provider's administrator for
the lab: its IdP registers the same clients with the same secrets and redirect URI.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .lab_only import MODE_VAR


class AwsModeError(RuntimeError):
    """The AWS-mode configuration is missing something: the message says what and where."""


# The course's own servers that AWS calls: runtimes read the fitness API and Stride's API,
# and AgentCore Identity calls Stride's authorization server (discovery, token endpoint).
# On 127.0.0.1 AWS cannot reach them: the file may name a port each binds and the URL
# that reaches that port from the internet (an HTTPS tunnel, a reverse proxy).
REACHABLE_SERVERS = ("fitness_api", "stride_auth", "stride_api")

# The wheels a runtime's code zip carries (helpers.cast.deployable): AgentCore Runtime
# runs Linux on Graviton (arm64) unless the file's [runtime_code] platform says otherwise.
RUNTIME_PLATFORM = "manylinux2014_aarch64"
_WHEEL_PLATFORM = re.compile(r"manylinux(1|2010|2014|_\d+_\d+)_(aarch64|x86_64)")


@dataclass(frozen=True)
class Reachable:
    """A course server on a port of this machine, and the URL AWS reaches it at."""

    port: int
    url: str


def _port(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536


def _url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("https://", "http://"))


@dataclass(frozen=True)
class AwsMode:
    path: Path
    discovery_url: str | None
    frontend_port: int
    client_secrets: dict[str, str]  # client id -> the environment variable with its secret
    principals: dict[str, str]  # the course's principal (helpers.aws.PRINCIPALS) -> profile
    reachable: dict[str, Reachable] = field(default_factory=dict)  # see REACHABLE_SERVERS
    runtime_platform: str = RUNTIME_PLATFORM  # pip's --platform for the runtimes' code

    @classmethod
    def from_env(cls) -> AwsMode | None:
        """The configuration ``LAB_AWS_MODE`` names, or None in the lab."""
        path = os.environ.get(MODE_VAR)
        return cls.load(Path(path)) if path else None

    @classmethod
    def load(cls, path: Path) -> AwsMode:
        try:
            data = tomllib.loads(path.read_text())
        except OSError as exc:
            raise AwsModeError(f"{MODE_VAR}={path}: cannot read it ({exc.strerror})") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise AwsModeError(f"{path} is not TOML: {exc}") from None
        port = data.get("app", {}).get("frontend_port")
        if not _port(port):
            raise AwsModeError(f"{path}: [app] frontend_port must be a port number")
        secrets = data.get("client_secrets", {})
        if not isinstance(secrets, dict) or not all(
            isinstance(v, str) and v for v in secrets.values()
        ):
            raise AwsModeError(f"{path}: [client_secrets] maps client ids to variable names")
        url = data.get("oidc", {}).get("discovery_url")
        if url is not None and not _url(url):
            raise AwsModeError(f"{path}: [oidc] discovery_url must be a URL")
        principals = data.get("principals", {})
        if not isinstance(principals, dict) or not all(
            isinstance(v, str) and v for v in principals.values()
        ):
            raise AwsModeError(f"{path}: [principals] maps principals to AWS profile names")
        reachable, platform = _reachable(path, data), _runtime_platform(path, data)
        return cls(path, url, port, dict(secrets), dict(principals), reachable, platform)

    @property
    def frontend_url(self) -> str:
        """The frontend, as the learner's browser and the provider know it. It binds
        127.0.0.1, but is named ``localhost``: the one plain-HTTP redirect URI every
        common provider accepts (Cognito, for one, requires HTTPS for any other)."""
        return f"http://localhost:{self.frontend_port}"

    @property
    def redirect_uri(self) -> str:
        return f"{self.frontend_url}/callback"

    def oidc_discovery_url(self) -> str:
        if self.discovery_url is None:
            raise AwsModeError(f"{self.path}: [oidc] discovery_url is missing")
        return self.discovery_url

    def client_secret(self, client_id: str) -> str:
        """The secret of ``client_id`` at the provider, from the variable the file names."""
        variable = self.client_secrets.get(client_id)
        if variable is None:
            raise AwsModeError(f"{self.path}: [client_secrets] names no variable for {client_id}")
        value = os.environ.get(variable)
        if not value:
            raise AwsModeError(f"{variable} is not set: it holds the secret of {client_id}")
        return value

    def profile_for(self, principal: str) -> str:
        """The AWS profile that acts as ``principal`` (a role of the course's cast)."""
        profile = self.principals.get(principal)
        if profile is None:
            raise AwsModeError(f"{self.path}: [principals] names no AWS profile for {principal}")
        return profile


def _reachable(path: Path, data: dict) -> dict[str, Reachable]:
    section = data.get("reachable_from_aws", {})
    if not isinstance(section, dict):
        raise AwsModeError(f"{path}: [reachable_from_aws] maps servers to a port and a URL")
    reachable = {}
    for name, entry in section.items():
        if name not in REACHABLE_SERVERS:
            known = ", ".join(REACHABLE_SERVERS)
            raise AwsModeError(f"{path}: [reachable_from_aws] {name}: not one of {known}")
        if not (isinstance(entry, dict) and _port(entry.get("port")) and _url(entry.get("url"))):
            raise AwsModeError(
                f"{path}: [reachable_from_aws] {name} needs a port number and a URL,"
                ' e.g. {port = 8401, url = "https://fitness-api.example.net"}'
            )
        reachable[name] = Reachable(entry["port"], entry["url"].rstrip("/"))
    return reachable


def _runtime_platform(path: Path, data: dict) -> str:
    section = data.get("runtime_code", {})
    platform = section.get("platform", RUNTIME_PLATFORM) if isinstance(section, dict) else None
    if not (isinstance(platform, str) and _WHEEL_PLATFORM.fullmatch(platform)):
        raise AwsModeError(
            f"{path}: [runtime_code] platform must be a Linux wheel platform for arm64 or"
            f" x86_64, such as {RUNTIME_PLATFORM}"
        )
    return platform
