"""Check yourself, notebook 00 · Start here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import UNANSWERED, Verdict, hands_on, lacking, unanswered, verdict

if TYPE_CHECKING:
    from ..lab import Lab

__all__ = ["check_issuer", "check_signing_kid"]


@hands_on
def check_issuer(lab: Lab, issuer: object) -> Verdict:
    """00: find the issuer by reading the discovery document the lab exports."""
    if unanswered(issuer):
        return UNANSWERED
    if not isinstance(issuer, str):
        return verdict(
            False, "", "Answer with the issuer as a string: the URL in the 'issuer' field."
        )
    if issuer.strip() == lab.urls.discovery:
        return verdict(
            False,
            "",
            "that is the discovery document's own address: GET it and read the 'issuer' field "
            "inside the JSON it returns.",
        )
    if issuer != lab.urls.issuer and issuer.strip().rstrip("/") == lab.urls.issuer:
        return verdict(
            False,
            "",
            "almost: an issuer is compared character for character, so copy the 'issuer' field "
            "exactly, without adding or dropping a slash or a space.",
        )
    return verdict(
        issuer == lab.urls.issuer,
        "That is the issuer every token of this lab carries in its `iss` claim.",
        "GET the URL in os.environ['LAB_OIDC_DISCOVERY_URL'] and read its 'issuer' field.",
    )


@hands_on
def check_signing_kid(lab: Lab, kid: object) -> Verdict:
    """00: follow the discovery document to the signing keys and name the key in use."""
    if unanswered(kid):
        return UNANSWERED
    if (missing := lacking(lab, "idp")) is not None:
        return missing
    published = [key.get("kid") for key in lab.idp.keys.jwks()["keys"]]
    if isinstance(kid, dict):
        return verdict(
            False,
            "",
            "that is a whole JSON object (the key set, or one key in it): answer with the "
            "string in its key's 'kid' field.",
        )
    if not isinstance(kid, str):
        return verdict(False, "", "Answer with the key id as a string: a key's 'kid' field.")
    if kid.strip().startswith(("http://", "https://")):
        return verdict(
            False,
            "",
            "that is a URL: GET the 'jwks_uri' of the discovery document, and read the 'kid' "
            "of the key in the 'keys' list it returns.",
        )
    if kid in published and kid != lab.idp.keys.current_kid:
        return verdict(
            False,
            "",
            "that key is still published, but the identity provider no longer signs with it: "
            "look for the newest key in the list.",
        )
    return verdict(
        kid == lab.idp.keys.current_kid,
        "Tokens name this key in their `kid` header; a service looks it up in the JWKS to "
        "check their signature. One discovery URL led you to it.",
        "no key of the identity provider's key set has that id: GET the URL in the discovery "
        "document's 'jwks_uri' field; the JSON is {'keys': [...]}, and each key's 'kid' names it.",
    )
