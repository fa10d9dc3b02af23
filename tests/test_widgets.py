"""The teaching aids: token inspector (pure function and widget), masking, diagrams."""

from __future__ import annotations

import io

import jwt
import pytest
from conftest import OFFLINE_KID as KID
from cryptography.hazmat.primitives.asymmetric import rsa
from matplotlib.figure import Figure

from helpers.clock import LabClock
from helpers.diagrams.drawing import LOGIN_STEPS, blast_radius_timeline, login_sequence
from helpers.masking import mask, mask_in_text
from helpers.widgets import JwtInspector, inspect_token
from helpers.widgets.jwt_inspector import ACCESS_TOKEN, ID_TOKEN, PASTE, UNKNOWN

ISSUER = "http://127.0.0.1:9000"
API = "http://127.0.0.1:8001"
CLIENT = "lab-frontend"


@pytest.fixture
def clock() -> LabClock:
    return LabClock()


@pytest.fixture
def access_token(key: rsa.RSAPrivateKey, clock: LabClock) -> str:
    now = int(clock.now())
    claims = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": API,
        "exp": now + 3600,
        "iat": now,
        "jti": "t-1",
        "client_id": CLIENT,
        "scope": "openid fitness:read",
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID, "typ": "at+jwt"})


@pytest.fixture
def id_token(key: rsa.RSAPrivateKey, clock: LabClock) -> str:
    now = int(clock.now())
    claims = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": CLIENT,
        "exp": now + 3600,
        "iat": now,
        "nonce": "n-1",
        "email": "alice@example.org",
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})


def inspect(token: str, jwks: dict, clock: LabClock, **kwargs: object):
    options = {"audience": API, "typ": None, **kwargs}
    return inspect_token(token, jwks=jwks, issuer=ISSUER, now=clock.now(), **options)


def test_inspect_valid_access_token(access_token, jwks, clock):
    report = inspect(access_token, jwks, clock, typ="at+jwt")
    assert (report.kind, report.verdict) == (ACCESS_TOKEN, "valid")
    assert 3590 < report.expires_in <= 3600
    assert "exp: expires in 59 min" in report.claim_lines[3]
    assert len(report.claim_lines) == len(report.claims)
    assert report.masked == mask(access_token)


def test_inspect_id_token_at_the_api(id_token, jwks, clock):
    report = inspect(id_token, jwks, clock, typ="at+jwt")
    assert (report.kind, report.verdict) == (ID_TOKEN, "wrong_type")
    assert any(line.startswith("email: ") for line in report.claim_lines)


def test_inspect_without_audience_skips_the_aud_check(id_token, jwks, clock):
    report = inspect(id_token, jwks, clock, audience=None)
    assert report.verdict == "valid"
    assert "not checked" in report.notes[0]


def test_inspect_uses_the_lab_clock(access_token, jwks, clock):
    clock.advance(3600 + 125)
    report = inspect(access_token, jwks, clock)
    assert report.verdict == "expired"
    assert report.expires_in < 0
    assert "2 min" in report.explanation


def test_inspect_unknown_claims_get_a_generic_line(key, jwks, clock):
    token = jwt.encode({"tenant": "acme"}, key, algorithm="RS256", headers={"kid": KID})
    report = inspect(token, jwks, clock)
    assert report.kind == UNKNOWN
    assert report.claim_lines == [
        "tenant: a non-standard claim (acme): only its issuer knows the rules"
    ]


def test_inspect_strips_bearer_prefix_and_says_so(access_token, jwks, clock):
    report = inspect(f"  Bearer {access_token}\n", jwks, clock)
    assert report.verdict == "valid"
    assert "Bearer" in report.notes[0]


@pytest.mark.attack
@pytest.mark.parametrize(
    ("garbage", "verdict"),
    [
        ("", "malformed"),
        ("   \n\t", "malformed"),
        ("abc", "malformed"),
        ("a.b.c", "malformed"),
        ("...", "malformed"),
        ("Bearer ", "malformed"),
        ("bm90IGpzb24.bm90IGpzb24.c2ln", "malformed"),
        ("WzEsMl0.e30.", "malformed"),  # header is a JSON array
        ("A" * 100_000, "too_large"),
        ("🔑.ключ.签名", "malformed"),
        ("eyJhbGciOiJub25lIn0.e30.", "alg_none"),
        ("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOiJzb29uIiwiYXVkIjp7fX0.c2ln", "unknown_kid"),
    ],
)
def test_inspect_never_raises_on_garbage(jwks, clock, garbage, verdict):
    report = inspect(garbage, jwks, clock)
    assert report.verdict == verdict
    assert report.explanation.endswith(".")
    assert report.masked in ("<empty>", "…") or "…" in report.masked


def test_inspect_explains_broken_claim_values(jwks, clock):
    # {"alg":"RS256"} . {"exp":"soon","aud":{}}: decodable, but the values are nonsense
    report = inspect("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOiJzb29uIiwiYXVkIjp7fX0.c2ln", jwks, clock)
    assert report.claim_lines[0] == 'exp: should be a time in seconds but is "soon": a broken token'
    assert report.expires_in is None


@pytest.mark.parametrize(
    ("secret", "masked"),
    [
        ("eyJhbGciOiJSUzI1NiJ9xQa", "eyJh…9xQa"),
        ("0123456789abcdef", "0123…cdef"),
        ("0123456789abcde", "…"),
        ("x", "…"),
        ("", "<empty>"),
    ],
)
def test_mask_formats(secret, masked):
    assert mask(secret) == masked


def test_mask_in_text_masks_every_occurrence_longest_first():
    long_secret, inner = "s3cr3t-value-0123456789", "0123456789"
    text = f"a={long_secret} b={inner} again={long_secret}"
    assert mask_in_text(text, [inner, long_secret, ""]) == "a=s3cr…6789 b=… again=s3cr…6789"


def test_mask_in_text_without_secrets_is_identity():
    assert mask_in_text("nothing to hide", []) == "nothing to hide"


@pytest.fixture
def inspector(access_token, id_token, jwks, clock) -> JwtInspector:
    return JwtInspector(
        {"access token": access_token, "ID token": id_token},
        jwks_source=lambda: jwks,
        issuer=ISSUER,
        audiences={"Fitness API": API, "Frontend": CLIENT},
        clock=clock,
    )


def test_widget_starts_on_the_first_token_and_api(inspector):
    assert (inspector.report.kind, inspector.report.verdict) == (ACCESS_TOKEN, "valid")


def test_widget_pasting_switches_to_the_pasted_token(inspector, id_token):
    inspector.text.value = id_token
    assert inspector.picker.value == PASTE
    assert (inspector.report.kind, inspector.report.verdict) == (ID_TOKEN, "wrong_audience")
    inspector.audience.value = "Frontend"
    assert inspector.report.verdict == "valid"


def test_widget_pasting_garbage(inspector):
    inspector.text.value = "Bearer not-a-token"
    assert inspector.report.verdict == "malformed"
    assert "REJECTED (malformed)" in inspector.output.value


def test_widget_never_shows_a_raw_token(inspector, access_token, id_token):
    inspector.text.value = id_token
    shown = inspector.output.value + repr(inspector)
    assert access_token not in shown and id_token not in shown
    assert mask(id_token) in inspector.output.value


def test_widget_recheck_reads_the_lab_clock_again(inspector, clock):
    clock.advance(2 * 3600)
    inspector.recheck.click()
    assert inspector.report.verdict == "expired"


def test_widget_reports_an_unreachable_identity_provider(access_token, clock):
    def down() -> dict:
        raise ConnectionError("connection refused")

    widget = JwtInspector(
        {"t": access_token}, jwks_source=down, issuer=ISSUER, audiences={"API": API}, clock=clock
    )
    assert widget.report.verdict == "unknown_kid"
    assert "connection refused" in widget.output.value


def test_widget_empty_paste_shows_a_prompt(inspector):
    inspector.picker.value = PASTE
    assert inspector.report is None
    assert "Paste a token" in inspector.output.value


def png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=50)
    return buffer.getvalue()


@pytest.mark.parametrize("step", [None, *range(len(LOGIN_STEPS))])
def test_login_sequence_renders_deterministically(step):
    assert png(login_sequence(step)) == png(login_sequence(step))


def test_login_sequence_rejects_unknown_steps():
    with pytest.raises(ValueError):
        login_sequence(len(LOGIN_STEPS))


def test_blast_radius_timeline_takes_lifetimes():
    default, short = blast_radius_timeline(), blast_radius_timeline({"refresh": 86400})
    assert png(default) != png(short)
