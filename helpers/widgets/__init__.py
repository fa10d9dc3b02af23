"""Notebook widgets: interactive views on the lab's tokens."""

from .for_lab import inspect_for, inspector_for
from .jwt_inspector import JwtInspector, TokenReport, inspect_token

__all__ = ["JwtInspector", "TokenReport", "inspect_for", "inspect_token", "inspector_for"]
