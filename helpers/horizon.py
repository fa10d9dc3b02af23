"""Two horizons: where servers reach a lab service, and where the learner's browser does.

Every service listens on 127.0.0.1:PORT, and server-to-server calls (token requests,
JWKS, the AgentCore APIs) always use that internal URL. A browser on the same machine can
use it too. But when JupyterLab is remote (JupyterHub, Binder, a tunnel to one port), the
browser reaches only the Jupyter server; ``jupyter-server-proxy`` then forwards
``<jupyter>/proxy/PORT/path`` to ``127.0.0.1:PORT/path``. That is the public URL of the
service, and what any page, redirect or link meant for the browser must use.

A service tells which horizon a request came from by the ``X-Forwarded-Prefix`` header the
proxy adds (``helpers.web`` turns it into the request's script root); a request without it
came directly. :class:`Horizon` maps an internal URL to its public one. The issuer of the
lab's identity provider stays its internal URL in every token: only the pages and
redirects a browser follows change horizon (as Keycloak's frontend and back-channel
hostnames do).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .serving import LOOPBACK

# What jupyter-server-proxy adds to a request it forwards: the public path prefix.
PROXY_PREFIX_HEADER = "X-Forwarded-Prefix"
# The Jupyter server's URL as the learner's browser sees it, e.g. http://127.0.0.1:8888/
# or https://class.example.org/user/alice/. Unset: the browser reaches the lab directly.
JUPYTER_URL_VAR = "LAB_JUPYTER_URL"
# What JupyterHub tells a learner's server about itself when the hub knows its public URL
# (JupyterHub.public_url): the same value, so a hub needs no setting of ours.
HUB_PUBLIC_URL_VAR = "JUPYTERHUB_PUBLIC_URL"


def via_proxy(headers: Mapping[str, str]) -> bool:
    """Whether a request reached the service through Jupyter's proxy."""
    return bool(headers.get(PROXY_PREFIX_HEADER))


@dataclass(frozen=True)
class Horizon:
    """Where the learner's browser reaches the lab: directly, or through Jupyter's proxy."""

    jupyter_url: str | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Horizon:
        """The proxy horizon when the environment names the Jupyter server's public URL
        (:data:`JUPYTER_URL_VAR`, else JupyterHub's :data:`HUB_PUBLIC_URL_VAR`), else
        direct."""
        env = os.environ if env is None else env
        url = env.get(JUPYTER_URL_VAR, "").strip() or env.get(HUB_PUBLIC_URL_VAR, "").strip()
        return cls(url or None)

    @property
    def proxied(self) -> bool:
        return self.jupyter_url is not None

    def for_request(self, headers: Mapping[str, str], url: str) -> str:
        """``url`` in the horizon a request came from (:func:`via_proxy`)."""
        return self.public(url) if via_proxy(headers) else url

    def public(self, url: str) -> str:
        """``url`` as the browser must use it: a lab service's internal URL goes through
        the proxy; anything else (another host, the direct horizon) is left as it is."""
        parts = urlsplit(url)
        if self.jupyter_url is None or parts.hostname != LOOPBACK or parts.port is None:
            return url
        base = urlsplit(self.jupyter_url.rstrip("/") + f"/proxy/{parts.port}")
        return urlunsplit((base.scheme, base.netloc, base.path + parts.path, parts.query, ""))

    def public_link(self, url: str) -> str:
        """:meth:`public`, and the same for a ``redirect_uri`` it carries: a link that
        sends the browser somewhere to come back to a lab service must bring it back
        through the same horizon."""
        parts = urlsplit(self.public(url))
        query = [
            (name, self.public(value) if name == "redirect_uri" else value)
            for name, value in parse_qsl(parts.query, keep_blank_values=True)
        ]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def both(self, url: str) -> list[str]:
        """The internal URL and, if it differs, the public one: what to register where a
        redirect URI must match exactly."""
        public = self.public(url)
        return [url] if public == url else [url, public]
