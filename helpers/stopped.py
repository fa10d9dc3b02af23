"""A stopped lab says so in one line, wherever it is used: never a library's traceback.

Widgets built on a lab outlive it (a re-run start cell stops the old lab, the kernel may
be restarting): what they would fetch is gone. They raise or show :class:`LabStopped`,
whose one-line message IPython prints instead of a traceback.
"""

from __future__ import annotations

MESSAGE = "The lab is stopped — run the first code cell again."


class OneLine(RuntimeError):
    """What a widget cannot show, said in one line: its message is all IPython prints."""

    def _render_traceback_(self) -> list[str]:  # IPython shows this instead of a traceback
        return [str(self)]


class LabStopped(OneLine):
    def __init__(self) -> None:
        super().__init__(MESSAGE)


class NotInThisLab(OneLine):
    """What only the lab's own service can show (the token vault from inside), asked of a
    lab that has none: AWS mode, or a lab started without it."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what}: only the lab's own AgentCore shows it, and this lab has none"
            " (AWS mode, or start_lab() without agentcore=True)."
        )
