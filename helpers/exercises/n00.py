"""Check yourself, notebook 00 · Start here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import UNANSWERED, Verdict, hands_on, unanswered, verdict

if TYPE_CHECKING:
    from ..lab import Lab

__all__ = ["check_issuer"]


@hands_on
def check_issuer(lab: Lab, issuer: object) -> Verdict:
    """00: find the issuer by reading the discovery document the lab exports."""
    if unanswered(issuer):
        return UNANSWERED
    return verdict(
        issuer == lab.urls.issuer,
        "That is the issuer every token of this lab carries in its `iss` claim.",
        "GET the URL in os.environ['LAB_OIDC_DISCOVERY_URL'] and read its 'issuer' field.",
    )
