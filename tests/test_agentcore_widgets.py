"""The teaching aids of notebooks 03 and 04: the WAT equation, the vault viewer, and the
checkers. Neither view may ever show a whole token, a plaintext or a whole ciphertext."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from helpers import exercises
from helpers.agentcore.vault import TokenVault
from helpers.agentcore.workload_tokens import WorkloadTokens, user_from_id, user_from_jwt
from helpers.clock import LabClock
from helpers.masking import mask
from helpers.widgets import VaultViewer, WatEquation, vault_viewer_for
from helpers.widgets.equation import UNKNOWN
from helpers.widgets.vault_viewer import NOT_A_WAT, NOTHING, reach_of, rows_of

ISSUER = "http://127.0.0.1:9000"
WAT_ISSUER = "http://127.0.0.1:9001"
ALICE = user_from_jwt(ISSUER, "user-1-alice")
BOB = user_from_jwt(ISSUER, "user-2-bob")
PROVIDER = "lab-fitness-api"

# The same scan tests/test_notebooks.py runs on committed outputs.
WHOLE_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{20,}")
OPAQUE_SECRET = re.compile(r"[A-Za-z0-9_-]{40,}")


def leaks(text: str, *values: str) -> list[str]:
    opaque = [run for run in OPAQUE_SECRET.findall(text) if len(set(run)) > 8]
    return [v for v in values if v in text] + WHOLE_JWT.findall(text) + opaque


@pytest.fixture(scope="module")
def idp_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def clock() -> LabClock:
    return LabClock()


@pytest.fixture
def wats(clock: LabClock) -> WorkloadTokens:
    return WorkloadTokens(WAT_ISSUER, clock)


@pytest.fixture
def alice_jwt(idp_key: rsa.RSAPrivateKey, clock: LabClock) -> str:
    now = int(clock.now())
    claims = {"iss": ISSUER, "sub": "user-1-alice", "aud": "fitness-agent", "iat": now}
    return jwt.encode({**claims, "exp": now + 3600}, idp_key, algorithm="RS256")


def oauth2_record() -> dict:
    return {
        "access_token": "at-" + secrets.token_urlsafe(32),
        "refresh_token": "rt-" + secrets.token_urlsafe(32),
        "expires_at": 0,
        "scope": "activities:read",
    }


@pytest.fixture
def vault(tmp_path: Path, clock: LabClock) -> Iterator[TokenVault]:
    vault = TokenVault(tmp_path / "token-vault.sqlite3", clock)
    yield vault
    vault.close()


@pytest.fixture
def stored(vault: TokenVault) -> list[str]:
    """Fill the vault; returns every plaintext it holds."""
    alice, bob = oauth2_record(), oauth2_record()
    vault.put_oauth2_token("fitness-agent", ALICE, PROVIDER, alice)
    vault.put_oauth2_token("fitness-agent", BOB, "lab-calendar", bob)
    api_key = "wx-" + secrets.token_urlsafe(24)
    vault.put_api_key("weather-api", api_key)
    return [alice["access_token"], alice["refresh_token"], bob["access_token"], api_key]


# -- the equation ------------------------------------------------------------------------


def test_equation_starts_with_three_empty_slots() -> None:
    equation = WatEquation()
    assert [s.value for s in equation.slots] == [UNKNOWN] * 3
    assert not any(s.filled for s in equation.slots)
    title_line = equation.text().splitlines()[0]
    assert re.fullmatch(
        r"workload identity +\+ +inbound user +=  workload access token \(WAT\)", title_line
    )


def test_equation_fills_from_a_jwt_and_a_wat(alice_jwt: str, wats: WorkloadTokens) -> None:
    wat = wats.mint("fitness-agent", ALICE)
    equation = WatEquation().fill(workload="fitness-agent", user_token=alice_jwt, wat=wat)
    workload, user, result = equation.slots
    assert (workload.value, user.value, result.value) == (
        "fitness-agent",
        "user-1-alice",
        mask(wat),
    )
    assert mask(alice_jwt) in user.detail and "iss + sub" in user.detail
    assert f"workload=fitness-agent, user={ALICE}" in result.detail
    assert "15 min" in result.detail
    for shown in (equation.text(), equation.html()):
        assert leaks(shown, wat, alice_jwt) == []


def test_a_changed_term_makes_the_wat_stale(wats: WorkloadTokens) -> None:
    equation = WatEquation().fill(workload="fitness-agent", wat=wats.mint("fitness-agent", ALICE))
    equation.fill(user_id="bob")
    assert equation.user.value == "bob" and "trusted caller" in equation.user.detail
    assert equation.wat.value == UNKNOWN
    equation.fill(wat=wats.mint("fitness-agent", user_from_id("bob")))
    assert "user=id:bob" in equation.wat.detail


def test_equation_wants_one_kind_of_user(alice_jwt: str) -> None:
    with pytest.raises(ValueError, match="not both"):
        WatEquation().fill(user_token=alice_jwt, user_id="alice")


def test_equation_takes_garbage_without_raising_or_echoing_it() -> None:
    garbage = "definitely-not-a-jwt-" + secrets.token_urlsafe(32)
    equation = WatEquation().fill(user_token=garbage, wat=garbage)
    assert equation.user.value == "not a JWT"
    assert equation.wat.value == mask(garbage) and "opaque" in equation.wat.detail
    assert leaks(equation.text(), garbage) == [] and leaks(equation.html(), garbage) == []


def test_equation_text_is_deterministic_and_aligned(alice_jwt: str, wats: WorkloadTokens) -> None:
    wat = wats.mint("fitness-agent", ALICE)
    first = WatEquation().fill(workload="fitness-agent", user_token=alice_jwt, wat=wat)
    second = WatEquation().fill(workload="fitness-agent", user_token=alice_jwt, wat=wat)
    assert first.text() == second.text() == repr(first)
    titles, values, details = first.text().splitlines()
    # Each slot starts at the same column on every line; only the last one is unpadded.
    assert values.index("user-1-alice") == titles.index("inbound user")
    assert (
        values.index(mask(wat)) == titles.index("workload access token") == details.index("binds")
    )


def test_equation_html_escapes_and_bundles_both_views() -> None:
    equation = WatEquation().fill(workload="<script>alert(1)</script>")
    assert "<script>" not in equation.html() and "&lt;script&gt;" in equation.html()
    bundle = equation._repr_mimebundle_()
    assert bundle == {"text/plain": equation.text(), "text/html": equation.html()}


# -- the vault viewer --------------------------------------------------------------------


def test_viewer_rows_match_the_vault(vault: TokenVault, stored: list[str]) -> None:
    raw, rows = vault.raw_rows(), VaultViewer(vault).rows()
    assert len(rows) == len(raw) == 3
    for shown, row in zip(rows, raw, strict=True):
        owner = (row["kind"], row["workloadIdentity"], row["userId"], row["credentialProvider"])
        assert (shown.kind, shown.workload, shown.user, shown.provider) == owner
        assert shown.ciphertext == mask(row["ciphertext"])
        assert shown.wrapped_data_key == mask(row["wrappedDataKey"])
        assert shown.wrapped_by == row["wrappedBy"]
    assert VaultViewer(vault).text().startswith("token vault: 3 records")


def test_viewer_never_shows_a_plaintext_or_a_whole_value(
    vault: TokenVault, stored: list[str], wats: WorkloadTokens
) -> None:
    wat = wats.mint("fitness-agent", ALICE)
    viewer = VaultViewer(vault, {"Alice's WAT": wat})
    whole = [r[k] for r in vault.raw_rows() for k in ("ciphertext", "wrappedDataKey")]
    for shown in (viewer.text(), viewer.html(), repr(viewer)):
        assert leaks(shown, *stored, *whole, wat) == []


def test_each_wat_opens_only_its_own_records(
    vault: TokenVault, stored: list[str], wats: WorkloadTokens
) -> None:
    rows = rows_of(vault)
    alice = reach_of("alice", wats.mint("fitness-agent", ALICE), rows)
    assert (alice.opens, alice.workload, alice.user) == ((PROVIDER,), "fitness-agent", ALICE)
    assert reach_of("bob", wats.mint("fitness-agent", BOB), rows).opens == ("lab-calendar",)
    # Same user, another workload; and a machine WAT: API keys are not counted as "opened".
    assert reach_of("x", wats.mint("billing-agent", ALICE), rows).opens == ()
    machine = reach_of("m", wats.mint("fitness-agent", None), rows)
    assert machine.opens == () and machine.user == "(no user)"
    viewer = VaultViewer(vault, {"carol": wats.mint("fitness-agent", user_from_id("carol"))})
    viewer.watch("junk", "not-a-wat")
    lines = viewer.text().splitlines()
    assert any(line.startswith("carol") and f"  {NOTHING}  " in line for line in lines)
    assert any(line.startswith("junk") and NOT_A_WAT in line for line in lines)


def test_empty_vault_and_html_escaping(vault: TokenVault, wats: WorkloadTokens) -> None:
    viewer = VaultViewer(vault, {"<b>Mallory</b>": wats.mint("fitness-agent", ALICE)})
    assert viewer.text().startswith("token vault: 0 records\n\nWAT")
    assert "&lt;b&gt;Mallory&lt;/b&gt;" in viewer.html() and "<b>Mallory" not in viewer.html()
    assert viewer._repr_mimebundle_() == {"text/plain": viewer.text(), "text/html": viewer.html()}


def test_viewer_shows_which_kms_key_wraps_the_rows() -> None:
    arn = "arn:aws:kms:us-east-1:123456789012:key/0b6c3a8e-1111-4222-8333-944455556666"

    class KmsWrapped:
        def raw_rows(self) -> list[dict]:
            return [
                {
                    "kind": "oauth2-token",
                    "workloadIdentity": "fitness-agent",
                    "userId": ALICE,
                    "credentialProvider": PROVIDER,
                    "ciphertext": "c2VhbGVkLXJlY29yZC1ieXRlcy0wMTIzNDU2Nzg5",
                    "wrappedDataKey": "d3JhcHBlZC1kYXRhLWtleS1ieXRlcy0wMTIzNDU2",
                    "wrappedBy": arn,
                }
            ]

    row = VaultViewer(KmsWrapped()).text().splitlines()[-1]
    assert arn in row and row.endswith(ALICE) and "c2Vh…Nzg5" in row


def test_viewer_for_the_lab_follows_a_restarted_vault(
    tmp_path: Path, clock: LabClock, stored: list[str], vault: TokenVault
) -> None:
    # Just what vault_viewer_for reads: lab.stopped and lab.agentcore.identity.vault
    lab = SimpleNamespace(
        stopped=False, agentcore=SimpleNamespace(identity=SimpleNamespace(vault=vault))
    )
    viewer = vault_viewer_for(lab)
    before = viewer.rows()
    vault.close()  # the restart: the same files, opened by a new vault object
    lab.agentcore.identity.vault = TokenVault(tmp_path / "token-vault.sqlite3", clock)
    try:
        assert viewer.rows() == before and len(before) == 3
    finally:
        lab.agentcore.identity.vault.close()


def test_live_view_rereads_the_vault_on_click(vault: TokenVault, wats: WorkloadTokens) -> None:
    viewer = VaultViewer(vault, {"Alice's WAT": wats.mint("fitness-agent", ALICE)})
    live = viewer.live()
    assert "0 records" in live.output.value
    vault.put_oauth2_token("fitness-agent", ALICE, PROVIDER, oauth2_record())
    assert "0 records" in live.output.value  # a snapshot until asked
    live.reread.click()
    assert "1 record" in live.output.value and live.output.value == viewer.html()
    bundle = live._repr_mimebundle_()
    assert bundle["text/plain"] == viewer.text()  # whole, not cut at 110 characters
    assert "application/vnd.jupyter.widget-view+json" in bundle


# -- the checkers ------------------------------------------------------------------------

WAT_ANSWERS = {1: "allowed", 2: "refused", 3: "refused", 4: "refused", 5: "allowed", 6: "refused"}
VAULT_ANSWERS = {1: "A", 2: "B", 3: "A", 4: "B", 5: "C", 6: "C"}


def test_wat_scenarios_checker() -> None:
    assert exercises.check_wat_scenarios(WAT_ANSWERS)
    assert "dangerous" in repr(exercises.check_wat_scenarios(WAT_ANSWERS))
    loose = {str(k): f" {v.upper()} " for k, v in WAT_ANSWERS.items()}
    assert exercises.check_wat_scenarios(loose)
    wrong = exercises.check_wat_scenarios({**WAT_ANSWERS, 5: "refused"})
    assert not wrong and "scenario 5" in repr(wrong)
    assert not exercises.check_wat_scenarios({1: "allowed"})
    assert not exercises.check_wat_scenarios(["allowed"] * 6)
    assert not exercises.check_wat_scenarios({1: None, 2: 3})
    assert "Replace the placeholder" in repr(exercises.check_wat_scenarios(None))
    assert set(exercises.WAT_SCENARIOS) == {str(k) for k in WAT_ANSWERS}


def test_vault_outcomes_checker(capsys: pytest.CaptureFixture[str]) -> None:
    assert exercises.check_vault_outcomes(VAULT_ANSWERS)
    assert exercises.check_vault_outcomes({str(k): v.lower() for k, v in VAULT_ANSWERS.items()})
    wrong = exercises.check_vault_outcomes({**VAULT_ANSWERS, 4: "A", 6: "A"})
    assert not wrong and "scenarios 4, 6" in repr(wrong)
    assert not exercises.check_vault_outcomes("ABABCC")
    assert "Replace the placeholder" in repr(exercises.check_vault_outcomes(None))
    assert set(VAULT_ANSWERS.values()) <= set(exercises.VAULT_CHOICES)
    exercises.show_vault_scenarios()
    shown = capsys.readouterr().out
    assert all(f"{n}. " in shown for n in exercises.VAULT_SCENARIOS)
