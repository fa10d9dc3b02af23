"""Agent Identity Lab: the services and teaching aids behind the notebooks."""

from .lab import Lab, start_lab

__all__ = ["Lab", "start_lab"]
