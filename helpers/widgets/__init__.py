"""Notebook widgets: interactive views on the lab's tokens."""

from .equation import WatEquation
from .for_lab import inspect_for, inspector_for
from .jwt_inspector import JwtInspector, TokenReport, inspect_token
from .vault_viewer import VaultViewer, vault_viewer_for

__all__ = [
    "JwtInspector",
    "TokenReport",
    "VaultViewer",
    "WatEquation",
    "inspect_for",
    "inspect_token",
    "inspector_for",
    "vault_viewer_for",
]
