"""Signing in, and consenting, in the learner's own browser instead of the scripted one.

By default the notebooks drive the lab with the scripted browser, so that they run
unattended (nbval, CI). With ``interactive=True`` the same step is the learner's: a link
to open, a progress bar while the lab waits, and the notebook carries on with what the
learner did. A timeout or a Deny is one line, and leaves nothing half-made: a login that
arrives after the notebook gave up is not taken, a consent session is ended.

The links are in the learner's horizon (``lab.public``): the lab's own address locally,
Jupyter's proxy when JupyterLab runs on a hub.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import ipywidgets as widgets
from IPython.display import HTML, display

if TYPE_CHECKING:  # the lab itself is never imported here: it loads every server library
    from ..browser import ScriptedBrowser
    from ..lab import Lab

TIMEOUT_S = 300.0
POLL_S = 0.2


@dataclass
class SignedIn:
    """Who signed in at the frontend, and the tokens the frontend holds for them."""

    name: str
    tokens: dict = field(repr=False)
    browser: ScriptedBrowser | None = field(default=None, repr=False)  # None: the learner's
    credentials: tuple[str, str] | None = field(default=None, repr=False)  # the scripted one's

    def __repr__(self) -> str:
        how = "the scripted browser" if self.browser else "your own browser"
        return f"Signed in as {self.name}, with {how}"


def sign_in(
    lab: Lab,
    username: str = "alice",
    password: str = "alice-lab-password",
    *,
    interactive: bool = False,
    timeout_s: float = TIMEOUT_S,
) -> SignedIn | None:
    """Sign in at the lab's frontend; the tokens it holds afterwards.

    Scripted (the default): the scripted browser signs in as ``username``. Interactive:
    you do, in your browser, as anyone you like; None if you deny or time runs out.
    """
    if not interactive:
        browser = lab.browser()
        browser.sign_in(lab.urls.frontend + "/login", username, password)
        tokens = lab.frontend.session_tokens(browser.session.cookies["frontend_session"])
        return SignedIn(_name(tokens), tokens, browser, (username, password))
    ticket = lab.frontend.expect_login()
    link = lab.public(f"{lab.urls.frontend}/login?ticket={ticket}")
    try:
        outcome = _wait(
            "Sign in to the Fitness Coach in your browser",
            link,
            timeout_s,
            lambda: lab.frontend.logins.get(ticket),
        )
    finally:
        lab.frontend.logins.pop(ticket, None)  # settled or abandoned: nothing left pending
    if outcome is None:
        print(f"No sign-in within {timeout_s:.0f} s: nothing was kept. Run the cell again.")
        return None
    if outcome.error:
        print(f"The sign-in ended with {outcome.error!r}: no tokens were issued.")
        return None
    tokens = lab.frontend.sessions[outcome.session_id]
    print(f"Signed in as {_name(tokens)} in your browser.")
    return SignedIn(_name(tokens), tokens)


def consent(
    lab: Lab,
    user: SignedIn,
    started: dict,
    *,
    interactive: bool = False,
    timeout_s: float = TIMEOUT_S,
) -> str:
    """Answer a USER_FEDERATION authorization (``started``: what GetResourceOauth2Token
    returned) as ``user``, and say how the session ended.

    Scripted: ``user``'s scripted browser opens the authorization URL, signs in at the
    IdP and allows. Interactive: you open it, in the browser you signed in with.
    """
    # The app's return page completes the session: what it saw is how the consent ended.
    uri, consents = started["sessionUri"], lab.frontend.consents
    if not interactive:
        if user.browser is None or user.credentials is None:
            raise ValueError("this user signed in with their own browser: consent with it too")
        user.browser.sign_in(started["authorizationUrl"], *user.credentials)
        return _ended(consents.get(uri) or "IN_PROGRESS")
    if user.browser is not None:
        print("Note: you signed in with the scripted browser; the return page needs your own.")
    status = _wait(
        "Open the consent page in your browser",
        lab.public(started["authorizationUrl"]),
        timeout_s,
        lambda: consents.get(uri),
    )
    if status is None:
        lab.frontend.give_up_consent(uri)
        return f"No answer within {timeout_s:.0f} s: the app will not complete it, nothing stored."
    return _ended(status)


def _ended(status: str) -> str:
    return {
        "COMPLETED": "COMPLETED: the token is in the vault, for this user only.",
        "FAILED": "FAILED: refused, or finished by someone else; nothing was stored.",
    }.get(status, f"{status}: the consent has not come back yet.")


def _wait(what: str, link: str, timeout_s: float, outcome: Callable[[], object]) -> object:
    """Show ``link`` and a progress bar until ``outcome()`` is not None, or time runs out."""
    display(
        HTML(
            f'<p>{html.escape(what)}: <a href="{html.escape(link)}" target="_blank" '
            f'rel="noopener">{html.escape(link)}</a></p>'
        )
    )
    bar = widgets.FloatProgress(value=0, min=0, max=timeout_s, description="waiting")
    left = widgets.Label()
    display(widgets.HBox([bar, left]))
    began = time.monotonic()
    try:
        while (waited := time.monotonic() - began) < timeout_s:
            found = outcome()
            if found is not None:
                return found
            bar.value, left.value = waited, f"{timeout_s - waited:.0f} s left"
            time.sleep(POLL_S)
        return None
    finally:
        bar.close()
        left.close()


def _name(tokens: dict) -> str:
    info = tokens.get("userinfo", {})
    return info.get("name") or info.get("sub", "?")
