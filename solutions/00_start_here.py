"""Notebook 00 · Start here: worked solutions."""

import os

import requests

from helpers.exercises import Verdict, check_issuer
from helpers.lab import Lab


def issuer(lab: Lab) -> Verdict:
    """Read the issuer from the discovery document the lab exports."""
    discovery = requests.get(os.environ["LAB_OIDC_DISCOVERY_URL"], timeout=5).json()
    return check_issuer(lab, discovery["issuer"])
