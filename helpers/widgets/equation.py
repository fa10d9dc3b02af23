"""The equation of agent identity, as a view that fills in while a notebook goes on:

    workload identity + inbound user = workload access token (WAT)

Each of the three slots shows what is known so far, or ``?``. Displaying the equation shows
a snapshot (HTML, with the same content as plain text for terminals and nbval), so every
cell keeps the state it had when it ran. Tokens are shown masked only: the view keeps no
raw token, just what it read from one.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from ..jwt_check import TokenRejected, decode_unverified, describe_duration
from ..masking import mask

WORKLOAD = "workload identity"
USER = "inbound user"
WAT = "workload access token (WAT)"
UNKNOWN = "?"


@dataclass(frozen=True)
class Slot:
    """One term of the equation: a title, what fills it (or "?"), one line of detail."""

    title: str
    value: str = UNKNOWN
    detail: str = ""

    @property
    def filled(self) -> bool:
        return self.value != UNKNOWN


def workload_slot(name: str) -> Slot:
    return Slot(WORKLOAD, name, "the agent's name in the directory")


def user_slot_from_jwt(token: str) -> Slot:
    """The user a JWT names: its subject, which counts together with its issuer."""
    try:
        _, claims = decode_unverified(token)
    except TokenRejected:
        return Slot(USER, "not a JWT", f"{mask(token)} cannot name a user")
    return Slot(USER, str(claims.get("sub", UNKNOWN)), f"iss + sub of a JWT {mask(token)}")


def user_slot_from_id(user_id: str) -> Slot:
    return Slot(USER, user_id, "a user id, vouched for by a trusted caller")


def wat_slot(token: str) -> Slot:
    """What a WAT binds, read without verifying it (only AgentCore Identity verifies)."""
    try:
        _, claims = decode_unverified(token)
    except TokenRejected:
        return Slot(WAT, mask(token), "opaque: nothing to read")
    lifetime = ""
    if isinstance(claims.get("exp"), int) and isinstance(claims.get("iat"), int):
        lifetime = f", lives {describe_duration(claims['exp'] - claims['iat'])}"
    user = claims.get("user", "(no user)")
    return Slot(WAT, mask(token), f"binds workload={claims.get('workload')}, user={user}{lifetime}")


class WatEquation:
    """``workload identity + inbound user = WAT``; :meth:`fill` the slots as they are known."""

    def __init__(self) -> None:
        self.workload = Slot(WORKLOAD)
        self.user = Slot(USER)
        self.wat = Slot(WAT)

    def fill(
        self,
        *,
        workload: str | None = None,
        user_token: str | None = None,
        user_id: str | None = None,
        wat: str | None = None,
    ) -> WatEquation:
        """Fill the given slots (a user comes from a JWT or from an id, not both)."""
        if user_token is not None and user_id is not None:
            raise ValueError("give the user as a JWT or as an id, not both")
        if workload is not None:
            self.workload = workload_slot(workload)
        if user_token is not None:
            self.user = user_slot_from_jwt(user_token)
        if user_id is not None:
            self.user = user_slot_from_id(user_id)
        if wat is not None:
            self.wat = wat_slot(wat)
        elif workload is not None or user_token is not None or user_id is not None:
            self.wat = Slot(WAT)  # a changed term makes the old result stale
        return self

    @property
    def slots(self) -> tuple[Slot, Slot, Slot]:
        return (self.workload, self.user, self.wat)

    def text(self) -> str:
        """Three aligned lines; the last column is not padded, so its width may vary."""
        rows = [
            [s.title for s in self.slots],
            [s.value for s in self.slots],
            [s.detail for s in self.slots],
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(2)]
        signs = [("+", "="), ("", ""), ("", "")]
        lines = []
        for row, (plus, equals) in zip(rows, signs, strict=True):
            line = f"{row[0]:<{widths[0]}}  {plus:1}  {row[1]:<{widths[1]}}  {equals:1}  {row[2]}"
            lines.append(line.rstrip())
        return "\n".join(lines)

    def html(self) -> str:
        boxes = [_box(slot) for slot in self.slots]
        sign = '<div style="font-size:1.6em;padding:0 0.6em;align-self:center">{}</div>'
        return (
            '<div style="display:flex;align-items:stretch;font-family:sans-serif">'
            f"{boxes[0]}{sign.format('+')}{boxes[1]}{sign.format('=')}{boxes[2]}</div>"
        )

    def __repr__(self) -> str:
        return self.text()

    def _repr_mimebundle_(self, **kwargs: object) -> dict[str, str]:
        return {"text/plain": self.text(), "text/html": self.html()}


def _box(slot: Slot) -> str:
    colour, border = ("#1a7f37", "solid") if slot.filled else ("#8c959f", "dashed")
    return (
        f'<div style="border:2px {border} {colour};border-radius:6px;padding:0.4em 0.8em;'
        'min-width:12em;max-width:28em">'
        f'<div style="color:{colour};font-size:0.85em">{html.escape(slot.title)}</div>'
        f'<div style="font-weight:bold;font-family:monospace">{html.escape(slot.value)}</div>'
        f'<div style="font-size:0.8em;overflow-wrap:anywhere">{html.escape(slot.detail)}</div>'
        "</div>"
    )
