"""The attack catalogue: every attack the course shows must fail, and fail for the right reason.

Each case asserts the exact outcome the RFCs prescribe (HTTP status, OAuth ``error`` code,
RFC 6750 challenge, redirect or no redirect) against the running lab services. Controls
(unmarked) prove the same request succeeds when the attack is taken out, so a passing
attack case cannot be an accident of some unrelated failure.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from conftest import (
    ALICE,
    BOB,
    FRONTEND,
    Forger,
    Grant,
    auth_request,
    authorize,
    b64json,
    call_api,
    challenge_params,
    idp_signed_in,
    introspect,
    login_tokens,
    new_verifier,
    oauth_error,
    query_of,
    redeem,
    redirect_uri,
    refresh,
    token_request,
)
from cryptography.hazmat.primitives import serialization
from joserfc.errors import InvalidClaimError
from jwt.algorithms import HMACAlgorithm, RSAAlgorithm
from jwt.utils import base64url_encode

from helpers.idp.models import Client
from helpers.idp.seed import FRONTEND_LOGIN_SCOPE

attack = pytest.mark.attack


def assert_invalid_token(resp: requests.Response) -> None:
    """RFC 6750 §3.1: a bad token is 401 with error="invalid_token" in the challenge."""
    assert resp.status_code == 401, resp.text
    assert challenge_params(resp)["error"] == "invalid_token"


def assert_error_redirect(lab, resp: requests.Response, error: str, state: str) -> None:
    """RFC 6749 §4.1.2.1: back to the registered redirect URI, with error and state, no code."""
    assert resp.status_code == 302, resp.text
    location = resp.headers["Location"]
    assert location.split("?")[0] == redirect_uri(lab)
    back = query_of(location)
    assert back["error"] == error
    assert back["state"] == state
    assert "code" not in back
    assert "access_token" not in location


def assert_refused_without_redirect(resp: requests.Response, error: str) -> None:
    assert resp.status_code == 400
    assert "Location" not in resp.headers
    assert resp.headers["Content-Type"].startswith("text/html")
    assert error in resp.text


# -- 1. redirect URI: exact string match, and no redirect to an unregistered URI -------


def _port(lab) -> int:
    return urlsplit(lab.urls.frontend).port


REDIRECT_VARIANTS = {
    "trailing_slash": lambda lab: f"{lab.urls.frontend}/callback/",
    "extra_query_param": lambda lab: f"{lab.urls.frontend}/callback?next=https://evil.example/",
    "path_case": lambda lab: f"{lab.urls.frontend}/Callback",
    "https_scheme": lambda lab: f"https://127.0.0.1:{_port(lab)}/callback",
    "suffix_domain": lambda lab: f"http://127.0.0.1.evil.example:{_port(lab)}/callback",
    "userinfo_at_trick": lambda lab: f"http://127.0.0.1:{_port(lab)}@evil.example/callback",
    "different_port": lambda lab: f"{lab.urls.agent}/callback",
    "path_traversal": lambda lab: f"{lab.urls.frontend}/callback/../evil",
    "encoded_path_traversal": lambda lab: f"{lab.urls.frontend}/callback/..%2F..%2Fevil",
    "prefix_extension": lambda lab: f"{lab.urls.frontend}/callbackevil",
    "fragment": lambda lab: f"{lab.urls.frontend}/callback#x",
    "localhost_alias": lambda lab: f"http://localhost:{_port(lab)}/callback",
    "foreign_site": lambda lab: "https://evil.example/callback",
}


@attack
@pytest.mark.parametrize("variant", REDIRECT_VARIANTS)
def test_redirect_uri_variant_refused_without_redirect(lab, variant):
    browser = idp_signed_in(lab)  # a victim already logged in: nothing else stops a code
    codes_before = len(lab.idp.store.codes)
    req = auth_request(lab, redirect_uri=REDIRECT_VARIANTS[variant](lab))
    resp = browser.visit(req.url)
    assert_refused_without_redirect(resp, "invalid_request")
    assert len(lab.idp.store.codes) == codes_before


@attack
def test_missing_redirect_uri_refused_without_redirect(lab):
    resp = idp_signed_in(lab).visit(auth_request(lab, redirect_uri=None).url)
    assert_refused_without_redirect(resp, "invalid_request")


@attack
def test_unknown_client_refused_without_redirect(lab):
    resp = idp_signed_in(lab).visit(auth_request(lab, client_id="evil-client").url)
    assert_refused_without_redirect(resp, "invalid_client")


def test_control_registered_redirect_uri_reaches_consent(lab):
    resp = idp_signed_in(lab).visit(auth_request(lab).url)
    assert resp.status_code == 200
    assert 'name="decision"' in resp.text


# -- 2. PKCE at the authorization endpoint: S256 or nothing --------------------------


@attack
@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"code_challenge": None, "code_challenge_method": None}, id="no_challenge"),
        pytest.param({"code_challenge": "v" * 43, "code_challenge_method": "plain"}, id="plain"),
        pytest.param({"code_challenge_method": None}, id="method_missing_means_plain"),
        pytest.param({"code_challenge_method": "S512"}, id="unknown_method"),
    ],
)
def test_pkce_authorize_request_refused(lab, overrides):
    req = auth_request(lab, **overrides)
    resp = idp_signed_in(lab).visit(req.url, stop_at=redirect_uri(lab))
    assert_error_redirect(lab, resp, "invalid_request", req.state)


@attack
def test_missing_nonce_refused(lab):
    req = auth_request(lab, nonce=None)
    resp = idp_signed_in(lab).visit(req.url, stop_at=redirect_uri(lab))
    assert_error_redirect(lab, resp, "invalid_request", req.state)


@attack
def test_replayed_nonce_refused(lab):
    first = authorize(lab)
    req = auth_request(lab, nonce=first.request.nonce)
    resp = idp_signed_in(lab).visit(req.url, stop_at=redirect_uri(lab))
    assert_error_redirect(lab, resp, "invalid_request", req.state)


# -- 3. PKCE at the token endpoint -----------------------------------------------------


@attack
@pytest.mark.parametrize(
    ("verifier", "error"),
    [
        pytest.param(lambda g: new_verifier(), "invalid_grant", id="wrong_verifier"),
        pytest.param(lambda g: g.request.verifier[:42], "invalid_request", id="too_short_42"),
        pytest.param(lambda g: "a" * 129, "invalid_request", id="too_long_129"),
        pytest.param(lambda g: g.request.verifier[:-1] + "!", "invalid_request", id="bad_char"),
        pytest.param(
            lambda g: g.request.params["code_challenge"],
            "invalid_grant",
            id="challenge_as_verifier",
        ),
        pytest.param(lambda g: None, "invalid_request", id="missing_verifier"),
    ],
)
def test_pkce_token_request_refused(lab, verifier, error):
    grant = authorize(lab)
    resp = redeem(lab, grant, code_verifier=verifier(grant))
    assert resp.status_code == 400
    assert oauth_error(resp) == error
    assert "access_token" not in resp.json()


def test_control_challenge_is_s256_of_verifier(lab):
    grant = authorize(lab)
    assert grant.request.params["code_challenge"] == create_s256_code_challenge(
        grant.request.verifier
    )
    assert redeem(lab, grant).status_code == 200


# -- 4. authorization code replay: refused, and what the first use bought is revoked --


@pytest.fixture
def replayed(lab):
    """A code redeemed once (tokens kept), then replayed."""
    grant = authorize(lab)
    first = redeem(lab, grant)
    assert first.status_code == 200
    tokens = first.json()
    assert call_api(lab, tokens["access_token"]).status_code == 200  # valid before the replay
    return tokens, redeem(lab, grant)


@attack
def test_code_replay_refused(replayed):
    _, second = replayed
    assert second.status_code == 400
    assert oauth_error(second) == "invalid_grant"


@attack
def test_code_replay_revokes_access_token_at_api(lab, replayed):
    tokens, _ = replayed
    assert_invalid_token(call_api(lab, tokens["access_token"]))


@attack
def test_code_replay_revokes_family_at_introspection(lab, replayed):
    tokens, _ = replayed
    assert introspect(lab, tokens["access_token"]) == {"active": False}
    assert introspect(lab, tokens["refresh_token"]) == {"active": False}


@attack
def test_code_replay_revoked_refresh_token_refused(lab, replayed):
    tokens, _ = replayed
    resp = refresh(lab, tokens["refresh_token"])
    assert resp.status_code == 400
    assert oauth_error(resp) == "invalid_grant"


# -- 5. code lifetime (60 s) -----------------------------------------------------------


@attack
@pytest.mark.parametrize("seconds", [61, 601])
def test_expired_code_refused(lab, seconds):
    grant = authorize(lab)
    lab.clock.advance(seconds)
    resp = redeem(lab, grant)
    assert resp.status_code == 400
    assert oauth_error(resp) == "invalid_grant"


def test_control_code_still_valid_after_59_s(lab):
    grant = authorize(lab)
    lab.clock.advance(59)
    assert redeem(lab, grant).status_code == 200


# -- 6. a code is bound to its client and redirect URI ----------------------------------


@attack
def test_code_redeemed_by_machine_client_refused(lab):
    # reporting-job may not use this grant type at all: RFC 6749 §5.2 unauthorized_client.
    grant = authorize(lab)
    resp = redeem(lab, grant, auth=("reporting-job", lab.client_secret("reporting-job")))
    assert resp.status_code == 400
    assert oauth_error(resp) == "unauthorized_client"


@attack
def test_code_redeemed_by_other_web_client_refused(lab):
    # A second web client that does hold the code grant: the code was not issued to it.
    secret = secrets.token_urlsafe(32)
    other = Client(
        client_id="other-web-app",
        client_secret=secret,
        client_name="Some other web app",
        redirect_uris=[redirect_uri(lab)],
        grant_types=["authorization_code"],
        scope="openid profile activities:read",
    )
    lab.idp.store.add_client(other)
    try:
        grant = authorize(lab)
        resp = redeem(lab, grant, auth=("other-web-app", secret))
        assert resp.status_code == 400
        assert oauth_error(resp) == "invalid_grant"
    finally:
        del lab.idp.store.clients["other-web-app"]


@attack
@pytest.mark.parametrize(
    "uri",
    [
        pytest.param(lambda lab: f"{lab.urls.frontend}/callback/", id="different"),
        pytest.param(lambda lab: None, id="missing"),
    ],
)
def test_code_with_other_redirect_uri_at_token_refused(lab, uri):
    resp = redeem(lab, authorize(lab), redirect_uri=uri(lab))
    assert resp.status_code == 400
    assert oauth_error(resp) == "invalid_grant"


# -- 7. refresh tokens: rotation, reuse detection, scope ------------------------------


@attack
def test_refresh_rotates_refresh_token(lab):
    tokens = login_tokens(lab)
    resp = refresh(lab, tokens["refresh_token"])
    assert resp.status_code == 200
    fresh = resp.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    assert fresh["access_token"] != tokens["access_token"]
    assert call_api(lab, fresh["access_token"]).status_code == 200


@attack
def test_refresh_token_reuse_refused_and_family_revoked(lab):
    tokens = login_tokens(lab)
    fresh = refresh(lab, tokens["refresh_token"]).json()
    reuse = refresh(lab, tokens["refresh_token"])
    assert reuse.status_code == 400
    assert oauth_error(reuse) == "invalid_grant"
    for token in (fresh["refresh_token"], fresh["access_token"], tokens["access_token"]):
        assert introspect(lab, token) == {"active": False}
    assert_invalid_token(call_api(lab, fresh["access_token"]))
    assert oauth_error(refresh(lab, fresh["refresh_token"])) == "invalid_grant"


@attack
def test_refresh_with_wider_scope_refused(lab):
    tokens = login_tokens(lab)
    assert "agent:invoke" not in tokens["scope"].split()
    wider = refresh(lab, tokens["refresh_token"], scope=f"{tokens['scope']} agent:invoke")
    assert wider.status_code == 400
    assert oauth_error(wider) == "invalid_scope"
    # A refused request must not consume the client's refresh token (RFC 6749 §6).
    again = refresh(lab, tokens["refresh_token"])
    assert again.status_code == 200
    assert again.json()["scope"] == tokens["scope"]


def test_narrowed_refresh_keeps_refresh_token_scope(lab):
    # RFC 6749 §6: a new refresh token has the scope of the one it replaces.
    tokens = login_tokens(lab)
    narrow = refresh(lab, tokens["refresh_token"], scope="activities:read").json()
    assert narrow["scope"] == "activities:read"
    back = refresh(lab, narrow["refresh_token"])
    assert back.status_code == 200
    assert back.json()["scope"] == tokens["scope"]


# -- 8. client authentication and unsupported grants ----------------------------------


@attack
def test_wrong_client_secret_refused(lab):
    resp = redeem(lab, authorize(lab), auth=(FRONTEND, "not-the-secret"))
    assert resp.status_code == 401
    assert oauth_error(resp) == "invalid_client"
    # RFC 6749 §5.2: Basic auth was tried, so the challenge names the Basic scheme.
    assert resp.headers["WWW-Authenticate"].startswith("Basic ")


@attack
def test_response_type_token_refused(lab):
    req = auth_request(lab, response_type="token")
    resp = idp_signed_in(lab).visit(req.url, stop_at=redirect_uri(lab))
    assert_error_redirect(lab, resp, "unsupported_response_type", req.state)


@attack
def test_response_type_token_with_foreign_redirect_uri_refused_without_redirect(lab):
    req = auth_request(lab, response_type="token", redirect_uri="https://evil.example/cb")
    resp = idp_signed_in(lab).visit(req.url)
    assert_refused_without_redirect(resp, "unsupported_response_type")


@attack
def test_password_grant_refused(lab):
    data = {"grant_type": "password", "username": ALICE[0], "password": ALICE[1]}
    resp = token_request(lab, data)
    assert resp.status_code == 400
    assert oauth_error(resp) == "unsupported_grant_type"


# -- 9. the frontend: state binds the callback to the browser that started the login ---


def _pending_callback(lab, browser, user):
    """Log in at the frontend in ``browser``; stop before the callback and return its URL."""
    resp = browser.sign_in(f"{lab.urls.frontend}/login", *user, stop_at=redirect_uri(lab))
    assert resp.status_code == 302
    return resp.headers["Location"]


@attack
def test_frontend_callback_with_foreign_state_aborts_before_token_request(lab, browser):
    victim = browser()
    _pending_callback(lab, victim, ALICE)  # the victim's own login is in flight
    attacker_grant: Grant = authorize(lab, BOB)  # the attacker's own code and state
    before = lab.idp.store.token_requests
    params = f"code={attacker_grant.code}&state={attacker_grant.request.state}"
    resp = victim.visit(f"{redirect_uri(lab)}?{params}&iss={lab.urls.issuer}")
    assert resp.status_code == 400
    assert resp.json()["error"] == "mismatching_state"
    assert lab.idp.store.token_requests == before
    assert lab.idp.store.codes[attacker_grant.code].used is False


@attack
def test_frontend_callback_replayed_in_other_browser_aborts(lab, browser):
    callback_url = _pending_callback(lab, browser(), BOB)  # the attacker's genuine callback
    victim = browser()
    victim.visit(f"{lab.urls.frontend}/login", stop_at=lab.urls.issuer)  # own login pending
    before = lab.idp.store.token_requests
    resp = victim.visit(callback_url)
    assert resp.status_code == 400
    assert resp.json()["error"] == "mismatching_state"
    assert lab.idp.store.token_requests == before


@attack
@pytest.mark.parametrize("iss", ["https://attacker.example", None], ids=["other", "missing"])
def test_frontend_callback_from_another_issuer_aborts_before_token_request(lab, browser, iss):
    # RFC 9207: the lab IdP names itself in every answer; one naming another server (or
    # none) is a mix-up, even with the right code and state.
    alice = browser()
    genuine = _pending_callback(lab, alice, ALICE)
    params = {k: v for k, v in query_of(genuine).items() if k != "iss"}
    if iss is not None:
        params["iss"] = iss
    before = lab.idp.store.token_requests
    resp = alice.visit(requests.Request("GET", redirect_uri(lab), params=params).prepare().url)
    assert resp.status_code == 400
    assert resp.json()["error"] == "mismatching_issuer"
    assert lab.idp.store.token_requests == before


def test_control_frontend_callback_in_own_browser_signs_in(lab, browser):
    alice = browser()
    callback_url = _pending_callback(lab, alice, ALICE)
    before = lab.idp.store.token_requests
    resp = alice.visit(callback_url)
    assert lab.idp.store.token_requests == before + 1
    assert resp.status_code == 200
    assert "Signed in as Alice Runner" in resp.text


# -- 10. the ID token's nonce ----------------------------------------------------------


@attack
def test_id_token_with_other_nonce_rejected(lab):
    grant = authorize(lab)
    resp = redeem(lab, grant)
    assert resp.status_code == 200
    token = resp.json()
    relying_party = lab.frontend.idp  # the frontend's own authlib client and its checks
    userinfo = relying_party.parse_id_token(token, nonce=grant.request.nonce)
    assert userinfo["sub"] == "user-1-alice"
    with pytest.raises(InvalidClaimError, match="nonce"):
        relying_party.parse_id_token(token, nonce=secrets.token_urlsafe(16))


# -- 11. the fitness API's bearer-token checks -----------------------------------------


def test_control_real_token_accepted(lab):
    resp = call_api(lab, login_tokens(lab)["access_token"])
    assert resp.status_code == 200
    assert resp.json()["athlete"] == "user-1-alice"


def test_control_forged_token_with_lab_key_accepted(lab, forge: Forger):
    # The baseline every forged case below departs from by exactly one property.
    assert call_api(lab, forge.register(forge.sign())).status_code == 200


def _unsigned(header: dict, claims: dict) -> str:
    return f"{b64json(header)}.{b64json(claims)}."


@attack
@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_rejected(lab, forge: Forger, alg):
    token = forge.register(_unsigned(forge.header(alg=alg), forge.claims()))
    assert_invalid_token(call_api(lab, token))


@attack
def test_hs256_with_public_key_as_secret_rejected(lab, forge: Forger):
    pem = forge.lab_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{b64json(forge.header(alg='HS256'))}.{b64json(forge.claims())}"
    # HMACAlgorithm.sign skips PyJWT's PEM guard, as a naive verifier's HMAC would.
    mac = HMACAlgorithm(HMACAlgorithm.SHA256).sign(signing_input.encode(), pem)
    token = forge.register(f"{signing_input}.{base64url_encode(mac).decode()}")
    assert_invalid_token(call_api(lab, token))


@attack
def test_unknown_kid_rejected(lab, forge: Forger):
    token = forge.register(forge.sign(forge.header(kid="lab-key-999")))
    assert_invalid_token(call_api(lab, token))


@attack
def test_attacker_key_with_lab_kid_rejected(lab, forge: Forger, attacker_key):
    token = forge.register(forge.sign(key=attacker_key))
    assert_invalid_token(call_api(lab, token))


@attack
def test_attacker_key_embedded_as_jwk_header_rejected(lab, forge: Forger, attacker_key):
    jwk = RSAAlgorithm.to_jwk(attacker_key.public_key(), as_dict=True)
    token = forge.register(forge.sign(forge.header(jwk=jwk), key=attacker_key))
    assert_invalid_token(call_api(lab, token))


@attack
def test_tampered_claims_rejected(lab, forge: Forger):
    head, _, signature = forge.sign().split(".")
    token = forge.register(f"{head}.{b64json(forge.claims(sub='user-2-bob'))}.{signature}")
    assert_invalid_token(call_api(lab, token))


@attack
def test_expired_real_token_rejected(lab):
    token = login_tokens(lab)["access_token"]
    assert call_api(lab, token).status_code == 200
    lab.clock.advance(3601)  # access tokens live one hour
    assert_invalid_token(call_api(lab, token))


@attack
def test_expired_token_rejected_even_if_idp_calls_it_active(lab, forge: Forger):
    now = int(lab.clock.now())
    token = forge.register(forge.sign(claims=forge.claims(iat=now - 600, nbf=now - 600, exp=now)))
    assert introspect(lab, token)["active"] is True
    assert_invalid_token(call_api(lab, token))


@attack
def test_not_yet_valid_token_rejected(lab, forge: Forger):
    now = int(lab.clock.now())
    token = forge.register(forge.sign(claims=forge.claims(nbf=now + 600, exp=now + 900)))
    assert_invalid_token(call_api(lab, token))


@attack
def test_wrong_issuer_rejected(lab, forge: Forger):
    token = forge.register(forge.sign(claims=forge.claims(iss="http://127.0.0.1:1")))
    assert_invalid_token(call_api(lab, token))


@attack
def test_token_for_other_audience_rejected(lab):
    token = login_tokens(lab, scope="openid agent:invoke")["access_token"]
    assert introspect(lab, token)["active"] is True  # a good token, just not for this API
    assert_invalid_token(call_api(lab, token))


@attack
def test_frontend_users_token_is_for_the_agent_alone(lab, browser):
    # The web app asks only for what it needs to call the agent: a token stolen from it
    # (or misused by the agent) opens nothing at the fitness API.
    alice = browser()
    alice.sign_in(f"{lab.urls.frontend}/login", *ALICE)
    token = lab.frontend.session_tokens(alice.session.cookies["frontend_session"])
    assert token["scope"] == FRONTEND_LOGIN_SCOPE
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["aud"] == ["fitness-agent", f"{lab.urls.issuer}/userinfo"]
    resp = call_api(lab, token["access_token"])
    assert_invalid_token(resp)
    assert "not for us ('fitness-api')" in resp.json()["error_description"]
    at_agent = requests.post(
        f"{lab.urls.agent}/invocations",
        json={"prompt": "How should I train this week?"},
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=10,
    )
    assert at_agent.status_code == 200 and at_agent.json()["acting_for"] == "user-1-alice"


@attack
def test_id_token_as_access_token_rejected(lab):
    assert_invalid_token(call_api(lab, login_tokens(lab)["id_token"]))


@attack
def test_token_with_jwt_typ_rejected(lab, forge: Forger):
    # Everything right for this API except typ: only the RFC 9068 typ check can refuse it.
    token = forge.register(forge.sign(forge.header(typ="JWT")))
    assert_invalid_token(call_api(lab, token))


@attack
def test_oversized_token_rejected(lab, forge: Forger):
    token = forge.register(forge.sign(claims=forge.claims(pad="x" * 8192)))
    assert len(token) > 8192
    assert_invalid_token(call_api(lab, token))


@attack
@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: t.rsplit(".", 1)[0], id="two_segments"),
        pytest.param(lambda t: f"{t}.{t.rsplit('.', 1)[1]}", id="four_segments"),
        pytest.param(lambda t: t.replace(".", ".!!!", 1), id="non_base64"),
        pytest.param(lambda t: f"{b64json('not an object')}.{t.split('.', 1)[1]}", id="non_json"),
    ],
)
def test_malformed_token_rejected(lab, forge: Forger, mangle):
    token = forge.register(mangle(forge.sign()))
    assert_invalid_token(call_api(lab, token))


@attack
def test_unknown_crit_header_rejected(lab, forge: Forger):
    header = forge.header(crit=["https://evil.example/ext"], **{"https://evil.example/ext": 1})
    token = forge.register(forge.sign(header))
    assert_invalid_token(call_api(lab, token))


@attack
@pytest.mark.parametrize(
    ("token", "scheme"),
    [
        pytest.param(None, "Bearer", id="no_header"),
        pytest.param("", "Bearer", id="empty_bearer"),
        pytest.param("YWxpY2U6cHc=", "Basic", id="other_scheme"),
    ],
)
def test_no_token_gets_challenge_without_error_code(lab, token, scheme):
    resp = call_api(lab, token, scheme)
    assert resp.status_code == 401
    # RFC 6750 §3.1: no credentials, so no error code in the challenge.
    assert challenge_params(resp) == {"realm": "fitness-api"}
    assert "error" not in resp.json()


@attack
def test_insufficient_scope_is_403(lab, forge: Forger):
    token = forge.register(forge.sign(claims=forge.claims(scope="activities:write")))
    resp = call_api(lab, token)
    assert resp.status_code == 403
    assert challenge_params(resp)["error"] == "insufficient_scope"


@attack
def test_refresh_token_as_bearer_rejected(lab):
    tokens = login_tokens(lab)
    assert introspect(lab, tokens["refresh_token"])["active"] is True
    assert_invalid_token(call_api(lab, tokens["refresh_token"]))


# -- clickjacking and cross-site requests -------------------------------------------------


def assert_unframed_and_uncached(resp: requests.Response) -> None:
    """RFC 6749 §10.13 / RFC 9700 §4.16: no other site may frame the page with our buttons."""
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Cache-Control"] == "no-store"


@attack
def test_login_page_cannot_be_framed_or_cached(lab):
    resp = requests.get(f"{lab.urls.issuer}/login", timeout=10)
    assert resp.status_code == 200 and 'name="password"' in resp.text
    assert_unframed_and_uncached(resp)


@attack
def test_consent_page_cannot_be_framed_or_cached(lab):
    browser = idp_signed_in(lab)
    page = browser.visit(auth_request(lab).url)
    assert 'name="decision"' in page.text  # the page with the Allow button on it
    assert_unframed_and_uncached(page)


@attack
def test_error_page_cannot_be_framed_either(lab):
    resp = requests.get(auth_request(lab, redirect_uri="https://evil.example/cb").url, timeout=10)
    assert resp.status_code == 400 and 'id="error"' in resp.text
    assert_unframed_and_uncached(resp)


@attack
@pytest.mark.parametrize("service", ["idp", "frontend"])
def test_session_cookies_say_samesite_and_httponly(lab, service):
    """A cross-site POST (a forged consent, a forged /ask) must arrive without the cookie."""
    if service == "idp":
        signed_in = requests.post(
            f"{lab.urls.issuer}/login",
            data={"username": ALICE[0], "password": ALICE[1], "next": "/authorize"},
            allow_redirects=False,
            timeout=10,
        )
    else:
        browser = lab.browser()
        callback = f"{lab.urls.frontend}/callback"
        browser.sign_in(f"{lab.urls.frontend}/login", *ALICE, stop_at=callback)
        signed_in = browser.request("GET", browser.history[-1].location)
    assert signed_in.status_code == 302, signed_in.text
    raw = signed_in.headers["Set-Cookie"]
    attributes = {part.strip().split("=")[0].lower(): part for part in raw.split(";")}
    assert attributes["samesite"].strip().lower() == "samesite=lax", raw
    assert "httponly" in attributes, raw
