"""Look into the token vault the way an operator with database access would.

Each row shows its owner (workload identity, user, credential provider) in the clear — the
vault needs them to find a record — but its contents only as ciphertext, masked, with the
key that wraps the row's data key. A second table answers "what can each WAT open?": a
record belongs to exactly one (workload, user, provider), so a WAT opens the records of its
own workload and user, and nobody else's.

Displaying a :class:`VaultViewer` shows a snapshot, so every notebook cell keeps what the
vault held when it ran; :meth:`VaultViewer.live` is a widget that re-reads it on a click.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import ipywidgets as widgets

from ..display import table
from ..jwt_check import TokenRejected, decode_unverified
from ..masking import mask
from ..stopped import NotInThisLab, OneLine
from .for_lab import running

NOTHING = "nothing"
NOT_A_WAT = "nothing: not a WAT"
API_KEY_KIND = "api-key"


class RawRows(Protocol):
    def raw_rows(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class VaultRow:
    """One stored record, as far as it may be shown."""

    kind: str
    workload: str
    user: str
    provider: str
    ciphertext: str  # masked base64
    wrapped_data_key: str  # masked base64
    wrapped_by: str  # "service:<id>" or a KMS key ARN


@dataclass(frozen=True)
class WatReach:
    """What one WAT can open in the vault."""

    label: str
    workload: str
    user: str
    opens: tuple[str, ...]
    bound_to: tuple[str, str] = ("", "")  # (workload, user) as the WAT says, for can_open

    @property
    def opens_text(self) -> str:
        return ", ".join(self.opens) if self.opens else NOTHING

    def can_open(self, row: VaultRow) -> bool:
        return row.kind != API_KEY_KIND and (row.workload, row.user) == self.bound_to


def rows_of(vault: RawRows) -> list[VaultRow]:
    return [
        VaultRow(
            kind=row["kind"],
            workload=row["workloadIdentity"],
            user=row["userId"],
            provider=row["credentialProvider"],
            ciphertext=mask(row["ciphertext"]),
            wrapped_data_key=mask(row["wrappedDataKey"]),
            wrapped_by=row["wrappedBy"],
        )
        for row in vault.raw_rows()
    ]


def reach_of(label: str, wat: str, rows: list[VaultRow]) -> WatReach:
    """The OAuth2 records keyed by the WAT's (workload, user).

    The WAT is decoded without verification, to *show* what it is bound to; the data
    plane verifies it before it opens anything. API keys belong to a provider, not to a
    user: any WAT of a workload allowed to use the provider gets them, so they are not
    counted here.
    """
    try:
        _, claims = decode_unverified(wat)
    except TokenRejected:
        return WatReach(label, "", "", ())
    workload, user = str(claims.get("workload", "")), str(claims.get("user", ""))
    if not workload:
        return WatReach(label, "", "", ())
    opens = tuple(
        r.provider
        for r in rows
        if r.kind != API_KEY_KIND and (r.workload, r.user) == (workload, user)
    )
    return WatReach(label, workload, user or "(no user)", opens, (workload, user))


class VaultViewer:
    """Rows of the vault as ciphertext, and what each of the given WATs can open.

    ``vault`` is the vault, or a function that returns the current one (an emulator
    restart opens the vault anew: see :func:`vault_viewer_for`).
    """

    def __init__(
        self, vault: RawRows | Callable[[], RawRows], wats: Mapping[str, str] | None = None
    ) -> None:
        self._vault = vault if callable(vault) else (lambda: vault)
        self._wats = dict(wats or {})  # raw WATs stay here, never in any output

    def watch(self, label: str, wat: str) -> VaultViewer:
        """Add (or replace) a WAT whose reach the viewer shows."""
        self._wats[label] = wat
        return self

    def rows(self) -> list[VaultRow]:
        return rows_of(self._vault())

    @property
    def labels(self) -> list[str]:
        return list(self._wats)

    def reach(self, only: str | None = None) -> list[WatReach]:
        """What each WAT (or only the one labelled ``only``) can open."""
        rows = self.rows()
        wats = {only: self._wats[only]} if only else self._wats
        return [reach_of(label, wat, rows) for label, wat in wats.items()]

    def text(self, only: str | None = None) -> str:
        try:
            rows, reach = self.rows(), self.reach(only)
        except OneLine as stopped:  # stopped, or no vault of its own
            return str(stopped)
        parts = [f"token vault: {len(rows)} record{'s' if len(rows) != 1 else ''}"]
        if rows:
            # The user is last: it holds the issuer URL, whose length varies with the port.
            headers = ["provider", "ciphertext", "data key", "wrapped by", "workload", "user"]
            parts.append(
                table(
                    (
                        (r.provider, r.ciphertext, r.wrapped_data_key, r.wrapped_by)
                        + (r.workload or "-", r.user or "-")
                        for r in rows
                    ),
                    headers,
                )
            )
        if reach:
            parts.append("")
            parts.append(
                table(
                    ((w.label, _opens(w), w.workload or "-", w.user or "-") for w in reach),
                    ["WAT", "opens", "workload", "user"],
                )
            )
        return "\n".join(parts)

    def html(self, only: str | None = None) -> str:
        try:
            rows, reach = self.rows(), self.reach(only)
        except OneLine as stopped:  # stopped, or no vault of its own
            return f"<p><i>{html.escape(str(stopped))}</i></p>"
        out = [f"<p><b>Token vault</b>: {len(rows)} record{'s' if len(rows) != 1 else ''}</p>"]
        if rows:
            # Seen with one WAT, each record says whether that WAT opens it.
            opener = reach[0] if only and reach else None
            seen = [f"{only} opens it"] if opener else []
            out.append(
                _html_table(
                    [*seen, "provider", "ciphertext", "data key", "wrapped by", "workload", "user"],
                    [
                        (["yes" if opener.can_open(r) else "no"] if opener else [])
                        + [r.provider, r.ciphertext, r.wrapped_data_key, r.wrapped_by]
                        + [r.workload or "-", r.user or "-"]
                        for r in rows
                    ],
                )
            )
        if reach:
            out.append("<p><b>What each WAT can open</b></p>")
            out.append(
                _html_table(
                    ["WAT", "opens", "workload", "user"],
                    [[w.label, _opens(w), w.workload or "-", w.user or "-"] for w in reach],
                )
            )
        return "\n".join(out)

    def live(self) -> LiveVaultView:
        """A widget that re-reads the vault on a click, seen with one WAT or all of them."""
        return LiveVaultView(self)

    def __repr__(self) -> str:
        return self.text()

    def _repr_mimebundle_(self, **kwargs: object) -> dict[str, str]:
        return {"text/plain": self.text(), "text/html": self.html()}


EVERY_WAT = "every WAT"


class LiveVaultView(widgets.VBox):
    """The vault as it is now: pick whose WAT to look with, re-read after a change."""

    def __init__(self, viewer: VaultViewer) -> None:
        self.viewer = viewer
        self.output = widgets.HTML()
        self.seen_with = widgets.Dropdown(
            options=[EVERY_WAT, *viewer.labels], description="Seen with"
        )
        self.reread = widgets.Button(description="Re-read the vault")
        self.reread.on_click(lambda _: self.refresh())
        self.seen_with.observe(lambda _: self.refresh(), names="value")
        super().__init__([widgets.HBox([self.seen_with, self.reread]), self.output])
        self.refresh()

    @property
    def only(self) -> str | None:
        return None if self.seen_with.value == EVERY_WAT else self.seen_with.value

    def refresh(self) -> None:
        self.output.value = self.viewer.html(self.only)

    def __repr__(self) -> str:
        return "LiveVaultView(pick a WAT, or press the button to re-read the vault)"

    def _repr_mimebundle_(self, **kwargs: Any) -> dict | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle:  # the full snapshot, not ipywidgets' 110-character cut of repr()
            bundle["text/plain"] = self.viewer.text(self.only)
            bundle["text/html"] = self.output.value
        return bundle


def vault_viewer_for(lab: Any, wats: Mapping[str, str] | None = None) -> VaultViewer:
    """A viewer on the running lab's token vault, still right after ``lab.agentcore.restart()``
    (and one line, not an error, once the lab is stopped)."""
    return VaultViewer(lambda: _vault_of(lab), wats)


def _vault_of(lab: Any) -> RawRows:
    agentcore = running(lab).agentcore
    if agentcore is None:
        raise NotInThisLab("The token vault, seen from inside")
    return agentcore.identity.vault


def _opens(reach: WatReach) -> str:
    return reach.opens_text if reach.workload else NOT_A_WAT


def _html_table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td><code>{html.escape(c)}</code></td>" for c in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
