"""Look inside a token: decoded header and claims, a plain-language line per claim, and
the verdict of the same validator the lab's APIs use.

``inspect_token`` is pure and never raises, so it works on anything a learner pastes;
``JwtInspector`` is the notebook widget around it. Raw tokens are only ever shown masked.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import ipywidgets as widgets

from ..clock import LabClock
from ..jwks import FetchFailed
from ..jwt_check import (
    TokenRejected,
    claim_time,
    decode_unverified,
    describe_duration,
    typ_matches,
    verify_jwt,
)
from ..masking import mask
from ..stopped import LabStopped

ACCESS_TOKEN = "access token (RFC 9068)"
ID_TOKEN = "ID token (OIDC)"
UNKNOWN = "unknown"
PASTE = "paste your own…"
_ID_TOKEN_CLAIMS = ("nonce", "at_hash", "c_hash", "auth_time", "azp")
_BEARER_PREFIX = re.compile(r"bearer\s+", re.IGNORECASE)

_CLAIM_TEXT = {
    "iss": "issued and signed by {v}",
    "sub": "the user (subject) it is about: {v}",
    "aud": "meant only for {v}; any other service must refuse it",
    "nonce": "echoes the random value the app sent when starting the login, "
    "so a replayed ID token is caught",
    "jti": "unique token id {v}: lets servers spot replays and revoke single tokens",
    "client_id": "the app (OAuth client) that asked for this token: {v}",
    "scope": "what it lets the holder do: {v}",
    "azp": "authorized party: the app this ID token was issued to ({v})",
    "at_hash": "hash of the access token issued with it, tying the two together",
    "c_hash": "hash of the authorization code, tying the code to this ID token",
    "sid": "the user's login session at the identity provider ({v}), used for logout",
    "email": "the user's email address ({v}): personal data, so keep ID tokens in the app",
    "email_verified": "whether the identity provider checked that email: {v}",
    "name": "the user's display name: {v}",
    "preferred_username": "the user's login name: {v}",
    "act": "actor: {v} is acting on behalf of the subject (token exchange, RFC 8693)",
    "typ": "a token-type label some identity providers add as a claim: {v}",
    "acr": "how strongly the user authenticated (assurance level): {v}",
    "amr": "how the user authenticated (methods): {v}",
    "cnf": "binds the token to a key (proof of possession): a stolen copy alone is useless",
}
_HEADER_TEXT = {
    "alg": "signature algorithm (the lab's APIs accept only RS256)",
    "kid": "which of the identity provider's keys signed it",
    "typ": "what kind of token it says it is (at+jwt = access token)",
    "crit": "extensions the reader must understand or else refuse the token",
}


@dataclass(frozen=True)
class TokenReport:
    """Everything the inspector shows about one token (the token itself only masked)."""

    kind: str
    header: dict
    claims: dict
    claim_lines: list[str]
    verdict: str
    explanation: str
    expires_in: float | None
    masked: str
    notes: list[str] = field(default_factory=list)


def inspect_token(
    token: str,
    *,
    jwks: dict,
    issuer: str,
    audience: str | None,
    now: float,
    typ: str | None = None,
) -> TokenReport:
    """Decode and judge ``token`` on the lab clock ``now``; ``audience=None`` skips aud."""
    token, notes = _clean(token)
    try:
        header, claims = decode_unverified(token)
    except TokenRejected:
        header, claims = {}, {}
    if audience is None:
        notes.append("No audience chosen, so the aud claim was not checked.")
    try:
        verify_jwt(
            token,
            jwks=jwks,
            issuer=issuer,
            audience=_own_audience(claims) if audience is None else audience,
            now=now,
            typ=typ,
        )
        verdict, explanation = "valid", "Signature, issuer, audience, time, claims: all fine."
    except TokenRejected as exc:
        verdict, explanation = exc.reason, exc.explanation
    return TokenReport(
        kind=_guess_kind(header, claims),
        header=header,
        claims=claims,
        claim_lines=[_claim_line(name, value, now) for name, value in claims.items()],
        verdict=verdict,
        explanation=explanation,
        expires_in=_expires_in(claims, now),
        masked=mask(token),
        notes=notes,
    )


def _claims_or_empty(token: str) -> dict:
    try:
        return decode_unverified(_clean(token)[0])[1]
    except TokenRejected:
        return {}


def _clean(token: str) -> tuple[str, list[str]]:
    notes = []
    text = token.strip()
    if _BEARER_PREFIX.match(text):
        text = _BEARER_PREFIX.sub("", text, count=1)
        notes.append(
            'Removed the "Bearer " prefix: it belongs to the Authorization header, '
            "not to the token."
        )
    if any(ch.isspace() for ch in text):
        text = "".join(text.split())
        notes.append("Removed whitespace inside the token (line breaks from copying?).")
    return text, notes


def _own_audience(claims: dict) -> str:
    aud = claims.get("aud")
    if isinstance(aud, list) and aud:
        aud = aud[0]
    return aud if isinstance(aud, str) else ""


def _guess_kind(header: dict, claims: dict) -> str:
    if typ_matches(header.get("typ"), "at+jwt"):
        return ACCESS_TOKEN
    if any(name in claims for name in _ID_TOKEN_CLAIMS):
        return ID_TOKEN
    return UNKNOWN


def _expires_in(claims: dict, now: float) -> float | None:
    try:
        exp = claim_time(claims, "exp")
    except TokenRejected:
        return None
    return None if exp is None else exp - now


def _show(value: object) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, list):
        text = ", ".join(_show(item) for item in value)
    else:
        text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _claim_line(name: str, value: object, now: float) -> str:
    return f"{name}: {_claim_text(name, value, now)}"


def _claim_text(name: str, value: object, now: float) -> str:
    if name in ("exp", "iat", "nbf", "auth_time"):
        return _time_text(name, value, now)
    if name == "scope" and isinstance(value, str):
        value = value.split()
    if name == "act" and isinstance(value, dict):
        value = value.get("sub", value)
    template = _CLAIM_TEXT.get(name, "a non-standard claim ({v}): only its issuer knows the rules")
    return template.format(v=_show(value))


def _time_text(name: str, value: object, now: float) -> str:
    try:
        seconds = claim_time({name: value}, name)
    except TokenRejected:
        shown = _show(json.dumps(value, default=str))  # quoted, so "soon" reads as text
        return f"should be a time in seconds but is {shown}: a broken token"
    delta = describe_duration(seconds - now)
    future = seconds > now
    texts = {
        "exp": (f"expires in {delta}", f"expired {delta} ago"),
        "iat": (f"issued in {delta}?! (the issuer's clock is ahead)", f"issued {delta} ago"),
        "nbf": (f"not valid for another {delta}", f"valid since {delta} ago"),
        "auth_time": (f"the user logs in in {delta}?!", f"the user logged in {delta} ago"),
    }
    return texts[name][0 if future else 1] + " (lab clock)"


class JwtInspector(widgets.VBox):
    """Pick or paste a token, choose the API it is shown to, read the verdict."""

    def __init__(
        self,
        tokens: dict[str, str],
        *,
        jwks_source: Callable[[], dict],
        issuer: str,
        audiences: dict[str, str],
        clock: LabClock,
        typ: str | None = None,
    ) -> None:
        self._tokens = dict(tokens)
        self._jwks_source, self._issuer, self._clock, self._typ = jwks_source, issuer, clock, typ
        self._audiences: dict[str, str | None] = {"(don't check the audience)": None, **audiences}
        self._report: TokenReport | None = None
        self.picker = widgets.Dropdown(options=[*self._tokens, PASTE], description="Token")
        self.text = widgets.Textarea(placeholder="Paste a token here", rows=3)
        self.audience = widgets.Dropdown(options=list(self._audiences), description="Shown to")
        self.recheck = widgets.Button(description="Re-check now")
        self.output = widgets.HTML()
        super().__init__(
            [self.picker, self.text, widgets.HBox([self.audience, self.recheck]), self.output]
        )
        self.picker.observe(lambda _: self._show_to_its_audience(), names="value")
        self.audience.observe(lambda _: self.refresh(), names="value")
        self.text.observe(self._on_paste, names="value")
        self.recheck.on_click(lambda _: self.refresh())
        self._show_to_its_audience()

    @property
    def report(self) -> TokenReport | None:
        """The last report shown (None only when there was nothing to inspect)."""
        return self._report

    def __repr__(self) -> str:
        # The default widget repr would print the Textarea value: a raw token.
        return f"JwtInspector(tokens={list(self._tokens)}, audiences={list(self._audiences)})"

    def _repr_mimebundle_(self, **kwargs: object) -> dict | None:
        """The live widget, and for static viewers (GitHub, nbviewer) the verdict it shows."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle and self._report is not None:
            bundle["text/plain"] = (
                f"JWT inspector · {self.picker.value} · shown to {self.audience.value}: "
                f"{self._report.verdict} — {self._report.explanation}"
            )
            bundle["text/html"] = render_summary_html(self._report)
        return bundle

    def _current_token(self) -> str:
        return self.text.value if self.picker.value == PASTE else self._tokens[self.picker.value]

    def _show_to_its_audience(self) -> None:
        """A token picked from the list is first shown to the service it is meant for (its
        first known audience), so the view opens on a verdict about the token, not about a
        mix-up. A pasted one is judged for the service chosen: that is the question asked."""
        if self.picker.value == PASTE:
            self.refresh()
            return
        claims = _claims_or_empty(self._current_token())
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        for label, audience in self._audiences.items():
            if audience is not None and audience in auds:
                if self.audience.value != label:
                    self.audience.value = label  # its observer refreshes
                    return
                break
        self.refresh()

    def _on_paste(self, change: dict) -> None:
        if change["new"].strip() and self.picker.value != PASTE:
            self.picker.value = PASTE  # its observer refreshes
        elif self.picker.value == PASTE:
            self.refresh()

    def refresh(self) -> None:
        """Inspect the current choice again, e.g. after the lab clock moved on."""
        token = self._current_token()
        if not token.strip():
            self._report = None
            self.output.value = "<i>Paste a token above.</i>"
            return
        jwks, problem = self._fetch_jwks()
        self._report = inspect_token(
            token,
            jwks=jwks,
            issuer=self._issuer,
            audience=self._audiences[self.audience.value],
            now=self._clock.now(),
            typ=self._typ,
        )
        self.output.value = render_html(self._report, problem)

    def _fetch_jwks(self) -> tuple[dict, str | None]:
        try:
            return self._jwks_source(), None
        except (FetchFailed, LabStopped) as exc:  # one sentence already: the lab or the IdP
            return {"keys": []}, str(exc)
        except Exception as exc:  # anything else: say so in the widget, don't raise
            return {"keys": []}, f"Could not fetch the identity provider's keys ({exc!r})."


def render_html(report: TokenReport, problem: str | None = None) -> str:
    """The report as an HTML fragment; every value from the token is escaped."""
    ok = report.verdict == "valid"
    colour = "#1a7f37" if ok else "#cf222e"
    verdict = "VALID" if ok else f"REJECTED ({report.verdict})"
    notes = [problem] if problem else []
    parts = [
        f"<p><b>Token</b> <code>{html.escape(report.masked)}</code> &middot; "
        f"<b>kind:</b> {html.escape(report.kind)}</p>",
        *(f"<p><i>{html.escape(note)}</i></p>" for note in [*notes, *report.notes]),
        f'<p style="color:{colour}"><b>{html.escape(verdict)}</b>: '
        f"{html.escape(report.explanation)}</p>",
    ]
    if report.expires_in is not None and report.verdict != "expired":
        parts.append(f"<p>{html.escape(_expiry_words(report.expires_in))}</p>")
    header = [(name, _show(v), _HEADER_TEXT.get(name, "")) for name, v in report.header.items()]
    parts.append(_table("Header", header))
    rows = [
        (name, _show(value), line.removeprefix(f"{name}: "))
        for (name, value), line in zip(report.claims.items(), report.claim_lines, strict=True)
    ]
    parts.append(_table("Claims", rows))
    return "\n".join(parts)


def render_summary_html(report: TokenReport) -> str:
    """The verdict and what each claim means, without the raw values: what a static viewer
    of a saved notebook shows in place of the live widget."""
    ok = report.verdict == "valid"
    verdict = "VALID" if ok else f"REJECTED ({report.verdict})"
    lines = "".join(f"<li>{html.escape(line)}</li>" for line in report.claim_lines)
    return (
        f"<p><b>JWT inspector</b> · {html.escape(report.kind)} · "
        f"<b>{html.escape(verdict)}</b>: {html.escape(report.explanation)}</p><ul>{lines}</ul>"
    )


def _expiry_words(expires_in: float) -> str:
    if expires_in > 0:
        return f"Expires in {describe_duration(expires_in)} on the lab clock."
    return f"Expired {describe_duration(expires_in)} ago on the lab clock."


def _table(title: str, rows: list[tuple[str, str, str]]) -> str:
    if not rows:
        return f"<p><b>{title}</b>: (nothing readable)</p>"
    body = "".join(
        f"<tr><td><code>{html.escape(name)}</code></td><td><code>{html.escape(value)}</code>"
        f"</td><td>{html.escape(meaning)}</td></tr>"
        for name, value, meaning in rows
    )
    return f"<p><b>{title}</b></p><table>{body}</table>"
