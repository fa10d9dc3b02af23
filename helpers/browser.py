"""A scripted user agent: a cookie jar that follows redirects and fills in HTML forms.

It lets notebooks and tests walk the real login flow unattended. Every hop is recorded,
so a notebook can show the learner each redirect of the OAuth dance.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

import requests


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
        """Fill in the page's form and submit it (optionally pressing a named button value)."""
        from bs4 import BeautifulSoup  # loaded with the first form filled in, not before

        form = BeautifulSoup(page.text, "html.parser").find("form")
        if form is None:
            raise ValueError(f"no form on {page.url}")
        data = {i["name"]: i.get("value", "") for i in form.find_all("input") if i.get("name")}
        data.update(fields or {})
        if button is not None:
            chosen = form.find("button", attrs={"value": button})
            if chosen is None:
                raise ValueError(f"no button {button!r} on {page.url}")
            data[chosen["name"]] = button
        action = urljoin(page.url, form.get("action") or page.url)
        return self.visit(
            action, method=(form.get("method") or "get").upper(), data=data, stop_at=stop_at
        )

    def sign_in(
        self,
        start_url: str,
        username: str,
        password: str,
        *,
        consent: str = "allow",
        stop_at: str | None = None,
    ) -> requests.Response:
        """Open the app's login link, sign in at the IdP and answer the consent page.

        ``stop_at`` holds back any redirect to the app, consent or no consent: the IdP may
        send an error there at once."""
        page = self.visit(start_url, stop_at=stop_at)
        if 'name="password"' in page.text:
            page = self.submit(page, {"username": username, "password": password}, stop_at=stop_at)
        if 'name="decision"' in page.text:
            page = self.submit(page, button=consent, stop_at=stop_at)
        return page
