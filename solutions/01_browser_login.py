"""Notebook 01 · The browser login, step by step: worked solutions."""

import secrets

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from helpers.exercises import (
    Verdict,
    check_bobs_access_token,
    check_login_guards,
    check_pkce_pair,
)
from helpers.lab import Lab


def pkce_pair(lab: Lab) -> Verdict:
    """A verifier of 64 URL-safe characters and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    return check_pkce_pair(verifier, create_s256_code_challenge(verifier))


def bobs_access_token(lab: Lab) -> Verdict:
    """A new scripted browser (an empty cookie jar, so nobody is signed in) opens the app's
    login link of step 1, signs in at the IdP as bob and allows the consent. The frontend
    redeemed the code server to server and keeps the tokens in Bob's session; the browser
    holds only the session cookie, which is how the frontend finds them again (step 4)."""
    browser = lab.browser()
    browser.sign_in(lab.urls.frontend + "/login", "bob", "bob-lab-password")
    tokens = lab.frontend.session_tokens(browser.session.cookies["frontend_session"])
    return check_bobs_access_token(lab, tokens["access_token"])


def login_guards(lab: Lab) -> Verdict:
    """state must come back to the browser that started the login (login CSRF); the nonce
    must reappear inside the id token (replay); the code is worthless without the verifier
    whose hash, the code_challenge, was sent (interception); and the IdP only sends a code
    to a redirect_uri that matches the registered one exactly."""
    return check_login_guards(
        {
            "login CSRF": "state",
            "a replayed id token": "nonce",
            "an intercepted authorization code": "code_challenge",
            "a code delivered to the attacker's site": "redirect_uri",
        }
    )
