"""A scripted user agent: a cookie jar that follows redirects and fills in HTML forms.

It lets notebooks and tests walk the real login flow unattended. Every hop is recorded,
so a notebook can show the learner each redirect of the OAuth dance.

It acts as a person at a browser does, so that any provider whose pages are plain HTML
forms will do, not only the lab's IdP (Keycloak's, Cognito's hosted UI): the login form is
the one with a password field, the user field its text or email input; hidden inputs go
along, and a submit control sends its name=value when it is clicked. It runs no
JavaScript: a page it cannot act on is said so in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

from .stopped import OneLine

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

# A consent page's controls, by the answer each gives: (name, value), None for any value.
# The lab IdP's buttons are decision=allow|deny; Keycloak's submit inputs accept and cancel.
CONSENT_CONTROLS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "allow": (("decision", "allow"), ("accept", None)),
    "deny": (("decision", "deny"), ("cancel", None)),
}
# Where a login form says which field is the user's: its name, id or autocomplete.
USER_FIELD_HINTS = ("user", "email", "login")
# Inputs a browser sends only when clicked (submit, image), or never.
_NOT_SENT = {"submit", "image", "button", "reset", "file"}
_TICKED = {"checkbox", "radio"}
INTERACTIVE = "sign in with interactive=True, or in your own browser"


class NotScriptable(OneLine):
    """A provider's page the scripted browser cannot act on, said in one line."""


@dataclass
class Hop:
    method: str
    url: str
    status: int
    location: str | None


class ScriptedBrowser:
    def __init__(self, max_redirects: int = 10) -> None:
        self.session = requests.Session()
        self.max_redirects = max_redirects
        self.history: list[Hop] = []

    def request(self, method: str, url: str, data: dict | None = None) -> requests.Response:
        """One HTTP request, no redirect following."""
        resp = self.session.request(method, url, data=data, allow_redirects=False, timeout=10)
        location = resp.headers.get("Location")
        self.history.append(Hop(method, url, resp.status_code, location and urljoin(url, location)))
        return resp

    def visit(
        self, url: str, *, method: str = "GET", data: dict | None = None, stop_at: str | None = None
    ) -> requests.Response:
        """Load a page as a browser would, following redirects.

        ``stop_at``: do not follow a redirect whose target starts with this prefix (lets a
        notebook catch the authorization code on its way back to the app).
        """
        resp = self.request(method, url, data)
        for _ in range(self.max_redirects):
            target = self.history[-1].location
            if not resp.is_redirect or target is None:
                return resp
            if stop_at and target.startswith(stop_at):
                return resp
            resp = self.request("GET", target)
        raise RuntimeError(f"more than {self.max_redirects} redirects from {url}")

    def submit(
        self,
        page: requests.Response,
        fields: dict[str, str] | None = None,
        button: str | None = None,
        stop_at: str | None = None,
    ) -> requests.Response:
        """Fill in the page's form and submit it, as a click on a submit control does.

        ``button``: the value (or name) of the control to click, which picks its form.
        Without it: the form with a password field, else the page's first, submitted by its
        first submit control (the one pressing Enter clicks)."""
        soup = _soup(page)
        control = _control(soup, button, page.url) if button is not None else None
        form = control.find_parent("form") if control else _login_form(soup) or soup.find("form")
        if form is None:
            raise ValueError(f"no form on {page.url}")
        return self._send(page, form, fields or {}, control or _default_control(form), stop_at)

    def sign_in(
        self,
        start_url: str,
        username: str,
        password: str,
        *,
        consent: str = "allow",
        stop_at: str | None = None,
    ) -> requests.Response:
        """Open the app's login link, sign in at the provider and answer its consent page.

        ``stop_at`` holds back any redirect to the app, consent or no consent: the IdP may
        send an error there at once. Returns where the flow ended, back at the app (or the
        redirect held back); a provider's page that is neither a login form, a consent
        form nor the way back raises :class:`NotScriptable`."""
        first_hop = len(self.history)
        page = self.visit(start_url, stop_at=stop_at)
        soup = _soup(page)
        form = _login_form(soup)
        if form is not None:
            page = self._log_in(page, form, username, password, stop_at)
            soup = _soup(page)
        control = _consent_control(soup, consent)
        if control is not None:
            page = self._send(page, control.find_parent("form"), {}, control, stop_at)
        if not (page.is_redirect or self._came_back(first_hop)):
            raise NotScriptable(_why_stuck(page, username))
        return page

    def _log_in(
        self,
        page: requests.Response,
        form: Tag,
        username: str,
        password: str,
        stop_at: str | None,
    ) -> requests.Response:
        """Type the username (if the form asks for it here) and password, click sign in."""
        user = _user_field(form)
        typed = {_password_field(form)["name"]: password}
        if user is not None:
            typed = {user["name"]: username, **typed}
        return self._send(page, form, typed, _default_control(form), stop_at)

    def _send(
        self,
        page: requests.Response,
        form: Tag | None,
        fields: dict[str, str],
        clicked: Tag | None,
        stop_at: str | None,
    ) -> requests.Response:
        if form is None:
            raise ValueError(f"no form around the control on {page.url}")
        data = {**_filled(form), **fields, **_clicked(clicked)}
        action = urljoin(page.url, form.get("action") or page.url)
        method = str(form.get("method") or "get").upper()
        return self.visit(action, method=method, data=data, stop_at=stop_at)

    def _came_back(self, first_hop: int) -> bool:
        return any(_is_authorization_response(hop.url) for hop in self.history[first_hop:])


def _soup(page: requests.Response) -> BeautifulSoup:
    from bs4 import BeautifulSoup  # loaded with the first page read, not on import

    return BeautifulSoup(page.text, "html.parser")


def _kind(control: Tag) -> str:
    """A control's type as a browser reads it: in any case, a <button> submits by default."""
    default = "submit" if control.name == "button" else "text"
    return str(control.get("type") or default).lower()


def _filled(form: Tag) -> dict[str, str]:
    """What a browser sends of ``form`` before any control is clicked: its named inputs,
    hidden ones included, but no submit control and no unticked box."""
    data = {}
    for field in form.find_all("input"):
        kind = _kind(field)
        if not field.get("name") or kind in _NOT_SENT:
            continue
        if kind in _TICKED and not field.has_attr("checked"):
            continue
        data[field["name"]] = field.get("value", "on" if kind in _TICKED else "")
    return data


def _clicked(control: Tag | None) -> dict[str, str]:
    """A submit control sends its own name=value, and only the one clicked."""
    if control is None or not control.get("name"):
        return {}
    return {control["name"]: control.get("value", "")}


def _submits(root: Tag) -> list[Tag]:
    return [c for c in root.find_all(["input", "button"]) if _kind(c) == "submit"]


def _default_control(form: Tag) -> Tag | None:
    return next(iter(_submits(form)), None)


def _control(soup: BeautifulSoup, button: str, url: str) -> Tag:
    """The submit control whose value, or else name, is ``button``."""
    for attribute in ("value", "name"):
        for control in _submits(soup):
            if control.get(attribute) == button:
                return control
    raise ValueError(f"no button {button!r} on {url}")


def _password_field(form: Tag) -> Tag | None:
    fields = form.find_all("input", attrs={"name": True})
    return next((field for field in fields if _kind(field) == "password"), None)


def _login_form(soup: BeautifulSoup) -> Tag | None:
    """The form a person types their password into: a page may hold several forms."""
    return next((form for form in soup.find_all("form") if _password_field(form)), None)


def _user_field(form: Tag) -> Tag | None:
    """The login form's user field: a text or email input, one named for the user first.
    None when the form asks for the password alone (the username came on an earlier page)."""
    inputs = [i for i in form.find_all("input") if i.get("name") and _kind(i) in ("text", "email")]
    named = [i for i in inputs if _names_the_user(i)]
    return next(iter(named or inputs), None)


def _names_the_user(field: Tag) -> bool:
    said = " ".join(str(field.get(a, "")) for a in ("name", "id", "autocomplete")).lower()
    return any(hint in said for hint in USER_FIELD_HINTS)


def _consent_control(soup: BeautifulSoup, answer: str) -> Tag | None:
    """The submit control that gives ``answer`` on a consent page; None on any other page."""
    for name, value in CONSENT_CONTROLS[answer]:
        for control in _submits(soup):
            if control.get("name") == name and (value is None or control.get("value") == value):
                return control
    return None


def _is_authorization_response(url: str) -> bool:
    """The provider's answer on its way back to the client: a code or an error, and the
    state (RFC 6749 §4.1.2), which every client of the course sends."""
    query = parse_qs(urlsplit(url).query)
    return "state" in query and ("code" in query or "error" in query)


def _why_stuck(page: requests.Response, username: str) -> str:
    """One line: where the flow stopped at the provider, and what to do instead."""
    soup = _soup(page)
    title = soup.title.get_text(" ", strip=True) if soup.title else ""
    where = f"HTTP {page.status_code} at {page.url.split('?')[0]}"
    where += f", {title!r}" if title else ""
    if _login_form(soup) is not None:
        return (
            f"Still on the login page after signing in as {username!r} ({where}): a wrong"
            f" password, or a form that needs JavaScript; check it, or {INTERACTIVE}."
        )
    return (
        f"This provider's page cannot be scripted ({where}): no login form with a password"
        f" field, no consent form, no way back to the app; {INTERACTIVE}."
    )
