"""Notebook widgets: interactive views on the lab's tokens."""

from .equation import WatEquation
from .for_lab import inspect_for, inspector_for
from .jwt_inspector import JwtInspector, TokenReport, inspect_token
from .own_browser import SignedIn, consent, sign_in
from .vault_viewer import VaultViewer, vault_viewer_for

__all__ = [
    "JwtInspector",
    "SignedIn",
    "TokenReport",
    "VaultViewer",
    "WatEquation",
    "inspect_for",
    "inspect_token",
    "consent",
    "inspector_for",
    "sign_in",
    "vault_viewer_for",
]
