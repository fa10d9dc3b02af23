"""Notebook 00's checkers: the issuer and the signing key, read from the live lab."""

from __future__ import annotations

import pytest
import requests
from conftest import TIMEOUT

from helpers.exercises import UNANSWERED, check_issuer, check_signing_kid
from helpers.lab import Lab

JUNK = [42, 4.2, True, ["x"], ("a", "b"), {"nested": [{"junk": None}]}, b"bytes", "garbage"]


def served_kid(lab: Lab) -> str:
    """What a learner finds: discovery document → jwks_uri → the key's kid."""
    discovery = requests.get(lab.urls.discovery, timeout=TIMEOUT).json()
    (key,) = requests.get(discovery["jwks_uri"], timeout=TIMEOUT).json()["keys"]
    return key["kid"]


def refused(result: object) -> str:
    """The hint of a refusal (and that it is one, not the placeholder message)."""
    assert result is not UNANSWERED and not result, result
    text = repr(result)
    assert text.startswith("❌ Not yet. Hint: ") and len(text) > len("❌ Not yet. Hint: ") + 20
    return text


# -- Exercise 1 · the issuer -------------------------------------------------------------
def test_issuer_from_the_discovery_document_passes(lab: Lab) -> None:
    issuer = requests.get(lab.urls.discovery, timeout=TIMEOUT).json()["issuer"]
    assert check_issuer(lab, issuer).ok


def test_placeholder_is_unanswered(lab: Lab) -> None:
    assert check_issuer(lab, None) is UNANSWERED
    assert check_issuer(lab, ...) is UNANSWERED
    assert check_signing_kid(lab, None) is UNANSWERED
    assert check_signing_kid(lab, ...) is UNANSWERED


def test_another_service_is_not_the_issuer(lab: Lab) -> None:
    assert "'issuer' field" in refused(check_issuer(lab, lab.urls.frontend))


def test_the_discovery_url_is_not_the_issuer(lab: Lab) -> None:
    assert "discovery document's own address" in refused(check_issuer(lab, lab.urls.discovery))


@pytest.mark.parametrize("spelling", ["{}/", " {}", "{}/ "])
def test_an_issuer_must_match_exactly(lab: Lab, spelling: str) -> None:
    assert "character for character" in refused(check_issuer(lab, spelling.format(lab.urls.issuer)))


@pytest.mark.parametrize("junk", JUNK, ids=repr)
def test_malformed_issuers_are_refused_without_raising(lab: Lab, junk: object) -> None:
    hint = refused(check_issuer(lab, junk))
    assert "string" in hint or "'issuer' field" in hint


# -- Exercise 2 · the signing key ----------------------------------------------------------
def test_kid_from_the_jwks_passes(lab: Lab) -> None:
    assert check_signing_kid(lab, served_kid(lab)).ok


def test_an_unknown_kid_is_refused_with_where_to_look(lab: Lab) -> None:
    for wrong in ["lab-key-0", served_kid(lab) + "x", "RS256", "sig"]:
        assert "jwks_uri" in refused(check_signing_kid(lab, wrong))


def test_a_url_is_not_a_kid(lab: Lab) -> None:
    discovery = requests.get(lab.urls.discovery, timeout=TIMEOUT).json()
    for url in [discovery["jwks_uri"], lab.urls.discovery]:
        assert "that is a URL" in refused(check_signing_kid(lab, url))


def test_the_whole_key_set_or_key_is_not_a_kid(lab: Lab) -> None:
    jwks = requests.get(f"{lab.urls.issuer}/jwks", timeout=TIMEOUT).json()
    for whole in [jwks, jwks["keys"][0]]:
        assert "'kid' field" in refused(check_signing_kid(lab, whole))


@pytest.mark.parametrize("junk", JUNK, ids=repr)
def test_malformed_kids_are_refused_without_raising(lab: Lab, junk: object) -> None:
    hint = refused(check_signing_kid(lab, junk))
    assert "'kid'" in hint


def test_after_a_rotation_only_the_new_key_passes() -> None:
    with Lab() as own:
        old = served_kid(own)
        new = own.rotate_signing_key(keep_previous=True)
        assert check_signing_kid(own, new).ok
        assert "no longer signs with it" in refused(check_signing_kid(own, old))


def test_checkers_are_marked_hands_on() -> None:
    assert check_issuer.hands_on and check_signing_kid.hands_on
