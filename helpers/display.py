"""Plain-text views of HTTP exchanges for notebooks: short, masked and stable.

Notebook outputs are committed and re-checked by nbval, so everything printed here
masks secrets and one-time values (codes, state, nonce, tokens) and avoids timestamps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit

import requests

from .masking import mask

# Values a learner may see whole: they are neither secret nor single-use.
PUBLIC_PARAMS = {
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "code_challenge_method",
    "grant_type",
    "token_type",
    "expires_in",
    "error",
    "error_description",
    "client_auth",
    "token_type_hint",
    "next",
    "iss",
    "resource",
    "prompt",
    "token_endpoint_auth_method",
    "grant_types",
    "client_assertion_type",
    "OAUTH_CLIENT_ID",
}


def masked_value(name: str, value: object) -> str:
    text = str(value)
    already_masked = "…" in text  # e.g. the IdP's own masked log of /token requests
    return text if name in PUBLIC_PARAMS or already_masked else mask(text)


def table(rows: Iterable[Iterable[object]], headers: Iterable[str]) -> str:
    """A fixed-width text table (no HTML: it must read the same in a terminal)."""
    rows = [[str(c) for c in row] for row in rows]
    headers = list(headers)
    # The last column is not padded and its rule spans only its header, so a value whose
    # length varies between runs (a duration, say) never shifts the rest of the table.
    widths = [max(len(x) for x in col) for col in zip(headers, *rows, strict=False)]
    widths[-1] = len(headers[-1])

    def line(cells: Iterable[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False))

    out = [line(headers), line("-" * w for w in widths), *(line(row) for row in rows)]
    return "\n".join(s.rstrip() for s in out)


def show_params(params: Mapping[str, object], title: str = "") -> None:
    if title:
        print(title)
    print(table(((k, masked_value(k, v)) for k, v in params.items()), ("parameter", "value")))


def show_url(url: str, title: str = "") -> None:
    """A URL split into its address and its (masked) query parameters."""
    parts = urlsplit(url)
    print(f"{title}{parts.scheme}://{parts.netloc}{parts.path}")
    if parts.query:
        show_params(dict(parse_qsl(parts.query)))


def show_response(resp: requests.Response) -> None:
    """Status line plus what matters: redirect target, OAuth error or the JSON body."""
    print(f"HTTP {resp.status_code} {resp.reason}")
    if resp.is_redirect:
        show_url(resp.headers["Location"], "→ redirect to ")
        return
    challenge = resp.headers.get("WWW-Authenticate")
    if challenge:
        print(f"WWW-Authenticate: {challenge}")
    if resp.headers.get("Content-Type", "").startswith("application/json"):
        body = resp.json()
        if isinstance(body, dict) and "error" in body:
            show_params(body)
        else:
            print(body)


def show_page(resp: requests.Response) -> None:
    """The address and visible text of an HTML page, as a user would read it."""
    from bs4 import BeautifulSoup  # only pages need an HTML parser

    parts = urlsplit(resp.url)
    print(f"HTTP {resp.status_code} · {parts.scheme}://{parts.netloc}{parts.path}")
    text = BeautifulSoup(resp.text, "html.parser").get_text(" ", strip=True)
    print(text)
