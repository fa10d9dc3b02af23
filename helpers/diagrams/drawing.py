"""The teaching diagrams as matplotlib figures, drawn the same way on every run.

Notebooks get them as PNG pictures through :mod:`helpers.diagrams`, which runs
``python -m helpers.diagrams.drawing NAME ARGUMENTS PATH`` (the arguments as a JSON
object) and shows the PNG file it writes. Figures are closed in pyplot before they
are returned, so code that draws them in process shows each one once.
"""

from __future__ import annotations

import io
import json
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # drawn to a file, never to a window

from matplotlib import pyplot as plt  # noqa: E402 - after the backend is chosen
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from . import BAD_ARGUMENTS, keep, kept_at  # noqa: E402

LOGIN_STEPS: list[str] = [
    "The user opens the app (the frontend) in the browser.",
    "The frontend redirects the browser to the identity provider to log in and consent, "
    "sending client_id, state, nonce and a PKCE code_challenge (S256).",
    "The identity provider redirects the browser back to the frontend with a one-time code "
    "and the same state.",
    "The frontend swaps the code for tokens, proving itself with its client secret and the "
    "PKCE code_verifier.",
    "The identity provider returns an ID token, an access token and a refresh token.",
    "The frontend calls the agent with Authorization: Bearer <access token>.",
]

_LANES = {"browser": 1.0, "frontend": 4.2, "idp": 7.4, "agent": 10.2}
_LANE_TITLES = {
    "browser": "User / Browser",
    "frontend": "Frontend",
    "idp": "Identity provider",
    "agent": "Agent",
}
# (step, from, to, label); a step can take two hops through the browser (redirects).
_MESSAGES = [
    (0, "browser", "frontend", "open the app"),
    (1, "frontend", "browser", "302 redirect to the identity provider"),
    (1, "browser", "idp", "GET /authorize?client_id, state, nonce, code_challenge (S256)"),
    (2, "idp", "browser", "302 redirect back: ?code=…&state=…"),
    (2, "browser", "frontend", "GET /callback?code=…&state=…"),
    (3, "frontend", "idp", "POST /token: client_id + client_secret + code + code_verifier"),
    (4, "idp", "frontend", "id_token, access_token, refresh_token"),
    (5, "frontend", "agent", "Authorization: Bearer <access token>"),
]
_HIGHLIGHT = "#c2410c"
_NORMAL = "#1f2937"
_MUTED = "#b8bcc4"


def login_sequence(step: int | None = None) -> Figure:
    """The browser login as a numbered sequence diagram; ``step`` is highlighted."""
    _check_step(step, 0, len(LOGIN_STEPS) - 1)
    fig, ax = plt.subplots(figsize=(11, 5))
    plt.close(fig)
    top = len(_MESSAGES) + 0.9
    y = float(len(_MESSAGES))
    for number, source, target, label in _MESSAGES:
        if (number, source) == (2, "idp"):
            # login is step 1
            _note(ax, _LANES["idp"], y, "user logs in + consents", _colour(1, step), 9)
            y -= 0.5
        _draw_message(ax, y, number, source, target, label, step)
        y -= 0.85
    bottom = y + 0.45
    _lifelines(ax, _LANES, _LANE_TITLES, top, bottom, fontsize=11)
    caption = "Log in with OAuth 2.0 authorization code + PKCE"
    if step is not None:
        caption = f"Step {step}: {LOGIN_STEPS[step]}"
    caption_y = bottom - 0.45
    ax.text(5.6, caption_y, textwrap.fill(caption, 100), ha="center", va="center", fontsize=10.5)
    ax.set_xlim(0, 11.2)
    ax.set_ylim(caption_y - 0.4, top + 0.4)
    ax.axis("off")
    fig.subplots_adjust(left=0.01, right=0.99, top=0.98, bottom=0.02)
    return fig


def _check_step(step: object, first: int, last: int) -> None:
    whole = isinstance(step, int) and not isinstance(step, bool)
    if step is not None and not (whole and first <= step <= last):  # type: ignore[operator]
        raise ValueError(f"step must be between {first} and {last}")


def _colour(number: int, step: int | None) -> str:
    if step is None:
        return _NORMAL
    return _HIGHLIGHT if number == step else _MUTED


def _lifelines(
    ax: Axes,
    lanes: dict[str, float],
    titles: dict[str, str],
    top: float,
    bottom: float,
    fontsize: float,
) -> None:
    """Dashed lifelines under a titled box per participant (both sequence diagrams)."""
    for lane, x in lanes.items():
        ax.plot([x, x], [bottom, top], color="#9ca3af", linestyle="--", linewidth=1, zorder=0)
        ax.text(
            x,
            top,
            titles[lane],
            ha="center",
            va="center",
            fontsize=fontsize,
            fontweight="bold",
            bbox={"boxstyle": "round,pad=0.4", "facecolor": "#e5e7eb", "edgecolor": "#6b7280"},
        )


def _note(ax: Axes, x: float, y: float, text: str, colour: str, fontsize: float) -> None:
    ax.text(
        x,
        y,
        text,
        ha="center",
        va="center",
        fontsize=fontsize,
        color=colour,
        bbox={"boxstyle": "round,pad=0.3", "facecolor": "#fffbeb", "edgecolor": colour},
    )


def _arrow(
    ax: Axes,
    y: float,
    x0: float,
    x1: float,
    label: str,
    colour: str,
    bold: bool,
    *,
    lift: float,
    fontsize: float,
    widths: tuple[float, float],
) -> None:
    """A labelled message arrow; ``widths`` = (normal, highlighted) line width."""
    ax.annotate(
        "",
        xy=(x1, y),
        xytext=(x0, y),
        arrowprops={
            "arrowstyle": "-|>",
            "color": colour,
            "linewidth": widths[1] if bold else widths[0],
        },
    )
    ax.text(
        (x0 + x1) / 2,
        y + lift,
        label,
        ha="center",
        va="bottom",
        fontsize=fontsize,
        color=colour,
        fontweight="bold" if bold else "normal",
        bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
    )


def _draw_message(
    ax: Axes, y: float, number: int, source: str, target: str, label: str, step: int | None
) -> None:
    colour = _colour(number, step)
    bold = step is not None and number == step
    _arrow(
        ax,
        y,
        _LANES[source],
        _LANES[target],
        label,
        colour,
        bold,
        lift=0.1,
        fontsize=9.5,
        widths=(1.4, 2.4),
    )
    # step numbers sit in a margin left of the browser, clear of every arrow
    _step_badge(ax, y, number, colour, x=0.3, lift=0.2)


_DEFAULT_LIFETIMES = {"code": 60.0, "access": 3600.0, "refresh": 30 * 86400.0, "id": 3600.0}
_AXIS_END = 365 * 86400.0
_TICKS = {
    1: "1 s",
    60: "1 min",
    3600: "1 h",
    86400: "1 day",
    30 * 86400: "30 days",
    _AXIS_END: "1 year",
}


def blast_radius_timeline(lifetimes: dict[str, float] | None = None) -> Figure:
    """How long each leaked credential stays useful to an attacker, and for what."""
    life = {**_DEFAULT_LIFETIMES, **(lifetimes or {})}
    if set(life) != set(_DEFAULT_LIFETIMES) or not all(_seconds(v) for v in life.values()):
        raise ValueError(f"lifetimes: {', '.join(_DEFAULT_LIFETIMES)} in seconds, each > 0")
    rows = [
        ("Authorization code", life["code"], "#15803d",
         "single use, and useless without the client secret + PKCE code_verifier"),
        ("ID token", life["id"], "#ca8a04",
         "who the user is (name, email): a privacy leak, but no API access"),
        ("Access token", life["access"], "#ea580c",
         "call the APIs as the user, until it expires"),
        ("Refresh token", life["refresh"], "#dc2626",
         "mint new access tokens until revoked or expired"),
        ("Client secret", _AXIS_END, "#7f1d1d",
         "exchange stolen codes for tokens, until someone rotates it (redeploy)"),
    ]  # fmt: skip
    fig, ax = plt.subplots(figsize=(11, 5.2))
    plt.close(fig)
    for y, (name, seconds, colour, text) in enumerate(reversed(rows)):
        ax.barh(y, seconds - 1, left=1, height=0.38, color=colour)
        ax.text(1.15, y + 0.26, text, va="bottom", fontsize=9.5)
        ax.text(seconds * 1.12, y, _ttl_words(name, seconds), va="center", fontsize=9)
    _mark_rotation(ax, y=1, cut=life["access"], end=life["refresh"])
    ax.set_yticks(range(len(rows)), [name for name, *_ in reversed(rows)], fontsize=10.5)
    ax.set_xscale("log")
    ax.set_xlim(1, _AXIS_END * 12)
    ax.set_xticks(list(_TICKS), list(_TICKS.values()))
    ax.minorticks_off()
    ax.set_ylim(-0.6, len(rows) - 0.2)
    ax.set_xlabel("how long after the leak it still works (log scale)")
    ax.set_title("Blast radius: what a leaked credential lets an attacker do, and for how long")
    ax.grid(axis="x", color="#e5e7eb")
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def _seconds(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _ttl_words(name: str, seconds: float) -> str:
    if name == "Client secret":
        return "no expiry"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def _mark_rotation(ax: Axes, y: int, cut: float, end: float) -> None:
    """Refresh-token rotation: the next legitimate refresh reveals the reuse and kills it."""
    ax.barh(y, end - cut, left=cut, height=0.38, color="white", alpha=0.55)
    ax.plot([cut, cut], [y - 0.3, y + 0.3], color="black", linewidth=2)
    ax.text(
        cut,
        y - 0.24,
        "with rotation: dies at the next real refresh (reuse detected)",
        ha="left",
        va="top",
        fontsize=8.5,
        style="italic",
    )


# -- the request chain (notebook 05) --------------------------------------------------------

CHAIN_STEPS: list[str] = [
    "The frontend invokes the coach's runtime with Alice's access token (aud fitness-agent); "
    "the front door checks the audience and mints a WAT for (fitness-agent, Alice).",
    "With its WAT the coach asks AgentCore Identity for a token on Alice's behalf; AgentCore "
    "exchanges her token at the IdP (RFC 8693, as client fitness-agent): aud fitness-mcp.",
    "The coach calls the MCP runtime with that token; its front door accepts only aud "
    "fitness-mcp and mints a WAT for (fitness-mcp, Alice).",
    "The MCP server exchanges in turn (as client fitness-mcp): aud fitness-api, and act "
    "names both intermediaries.",
    "The MCP server calls the fitness API with that token; the API checks aud fitness-api "
    "and answers with Alice's activities, which travel back along the chain.",
]
_CHAIN_LANES = {"frontend": 1.0, "coach": 3.7, "identity": 6.4, "mcp": 9.1, "api": 11.6}
_CHAIN_TITLES = {
    "frontend": "Frontend\n(Alice signed in)",
    "coach": "Coach agent\n(runtime)",
    "identity": "AgentCore Identity\n→ IdP (RFC 8693)",
    "mcp": "MCP server\n(runtime)",
    "api": "Fitness API",
}
# Each token drawn in the colour of its audience; AgentCore calls (WAT in hand) in grey.
AUDIENCE_COLOURS = {"fitness-agent": "#2563eb", "fitness-mcp": "#7c3aed", "fitness-api": "#059669"}
_AGENTCORE_CALL = "#4b5563"
# (step, from, to, label, audience of the token it carries); a note has no target.
_CHAIN = [
    (1, "frontend", "coach", "InvokeAgentRuntime · Bearer aud=fitness-agent, …", "fitness-agent"),
    (1, "coach", None, "front door: aud ✓ → WAT (fitness-agent, Alice)", None),
    (2, "coach", "identity", "GetResourceOauth2Token(WAT, ON_BEHALF_OF, [fitness-mcp])", None),
    (2, "identity", "coach", "token aud=fitness-mcp · act: fitness-agent", "fitness-mcp"),
    (3, "coach", "mcp", "InvokeAgentRuntime (MCP tools/call) · Bearer aud=fitness-mcp",
     "fitness-mcp"),
    (3, "mcp", None, "front door: aud ✓ → WAT (fitness-mcp, Alice)", None),
    (4, "mcp", "identity", "GetResourceOauth2Token(WAT, ON_BEHALF_OF, [fitness-api])", None),
    (4, "identity", "mcp", "token aud=fitness-api · act: fitness-mcp ← fitness-agent",
     "fitness-api"),
    (5, "mcp", "api", "GET /activities · Bearer aud=fitness-api", "fitness-api"),
]  # fmt: skip


def request_chain(step: int | None = None) -> Figure:
    """User → frontend → agent → MCP server → API, one audience per token; ``step`` (1–5)
    is highlighted."""
    _check_step(step, 1, len(CHAIN_STEPS))
    fig, ax = plt.subplots(figsize=(12.5, 5.6))
    plt.close(fig)
    top = len(_CHAIN) * 0.8 + 0.9
    y = top - 1.0
    for number, source, target, label, audience in _CHAIN:
        colour = _chain_colour(number, audience, step)
        bold = number == step
        if target is None:
            _note(ax, _CHAIN_LANES[source], y, label, colour, 8.5)
        else:
            _arrow(
                ax,
                y,
                _CHAIN_LANES[source],
                _CHAIN_LANES[target],
                label,
                colour,
                bold,
                lift=0.08,
                fontsize=9,
                widths=(1.5, 2.6),
            )
            _step_badge(ax, y, number, colour)
        y -= 0.8
    bottom = y + 0.4
    _lifelines(ax, _CHAIN_LANES, _CHAIN_TITLES, top, bottom, fontsize=10)
    caption = "One token per hop, each bound to the audience of the next service"
    if step is not None:
        caption = f"Step {step}: {CHAIN_STEPS[step - 1]}"
    ax.text(6.3, bottom - 0.4, textwrap.fill(caption, 110), ha="center", va="center", fontsize=10)
    _audience_legend(ax)
    ax.set_xlim(0, 12.6)
    ax.set_ylim(bottom - 1.3, top + 0.5)
    ax.axis("off")
    fig.subplots_adjust(left=0.01, right=0.99, top=0.98, bottom=0.02)
    return fig


def _chain_colour(number: int, audience: str | None, step: int | None) -> str:
    if step is not None and number != step:
        return _MUTED
    return AUDIENCE_COLOURS.get(audience or "", _AGENTCORE_CALL)


def _step_badge(
    ax: Axes, y: float, number: int, colour: str, *, x: float = 0.25, lift: float = 0.15
) -> None:
    """A numbered circle in the left margin, clear of every arrow (both diagrams)."""
    ax.text(
        x,
        y + lift,
        str(number),
        ha="center",
        va="center",
        fontsize=9,
        color="white",
        fontweight="bold",
        bbox={"boxstyle": "circle,pad=0.25", "facecolor": colour, "edgecolor": colour},
    )


def _audience_legend(ax: Axes) -> None:
    handles = [
        Line2D([], [], color=colour, linewidth=2.5, label=f"token for {audience}")
        for audience, colour in AUDIENCE_COLOURS.items()
    ]
    handles.append(Line2D([], [], color=_AGENTCORE_CALL, linewidth=2.5, label="AgentCore call"))
    ax.legend(handles=handles, loc="lower center", fontsize=9, frameon=False, ncols=4)


# -- MCP authorization: a client that knows only a URL (notebook 10) ----------------------

_MCP_LANES = {"client": 1.0, "browser": 4.3, "runtime": 7.6, "idp": 10.9}
_MCP_TITLES = {
    "client": "MCP client\n(mcp SDK)",
    "browser": "Alice's browser",
    "runtime": "MCP server\n(runtime)",
    "idp": "Identity provider",
}
# (step, from, to, label); steps 6 and 7 carry the token, in the colour of its audience.
_MCP_DISCOVERY = [
    (1, "client", "runtime", "POST …/invocations · no token"),
    (1, "runtime", "client", "401 · WWW-Authenticate: resource_metadata, scope"),
    (2, "client", "runtime", "GET /.well-known/oauth-protected-resource/…  (RFC 9728)"),
    (2, "runtime", "client", "resource · authorization_servers: [IdP]"),
    (3, "client", "idp", "GET /.well-known/oauth-authorization-server  (RFC 8414)"),
    (4, "client", "idp", "POST /register → client_id, no secret  (RFC 7591)"),
    (5, "client", "browser", "/authorize · PKCE, resource  (RFC 8707)"),
    (5, "browser", "idp", "Alice signs in and consents"),
    (5, "idp", "browser", "302 → code, state, iss"),
    (5, "browser", "client", "code · iss checked  (RFC 9207)"),
    (6, "client", "idp", "POST /token · code + code_verifier + resource"),
    (6, "idp", "client", "access token · aud=fitness-mcp"),
    (7, "client", "runtime", "POST …/invocations · Bearer → tools/list, tools/call"),
]


def mcp_discovery() -> Figure:
    """How an MCP client finds out where and how to log in, from one URL to the tools."""
    return _sequence(
        _MCP_LANES,
        _MCP_TITLES,
        [(n, a, b, text, AUDIENCE_COLOURS["fitness-mcp"] if n >= 6 else _NORMAL)
         for n, a, b, text in _MCP_DISCOVERY],
        "MCP authorization: from one URL to a token bound to that server",
        width=12.5,
    )  # fmt: skip


_STRIDE_LANES = {
    "browser": 0.9, "frontend": 3.0, "coach": 5.1, "mcp": 7.2, "agentcore": 9.3, "stride": 11.4
}  # fmt: skip
_STRIDE_TITLES = {
    "browser": "Alice's browser",
    "frontend": "Frontend\n(return page)",
    "coach": "Coach\n(runtime)",
    "mcp": "MCP server\n(runtime)",
    "agentcore": "AgentCore\nIdentity",
    "stride": "Stride\n(its own AS + API)",
}
_STRIDE_TOKEN = "#ea580c"  # Stride's token, from Stride's own authorization server
# (step, from, to, label, colour)
_STRIDE_CONSENT = [
    (1, "coach", "mcp", "tools/call list_stride_activities", AUDIENCE_COLOURS["fitness-mcp"]),
    (1, "mcp", "agentcore", "GetResourceOauth2Token · USER_FEDERATION", _NORMAL),
    (1, "agentcore", "mcp", "no token in the vault: authorizationUrl", _NORMAL),
    (2, "mcp", "coach", "InputRequiredResult · URL elicitation", _NORMAL),
    (2, "coach", "browser", "the consent URL, via the frontend", _NORMAL),
    (3, "browser", "stride", "/authorize · signs in as alice.runs, allows", _NORMAL),
    (3, "stride", "browser", "302 → AgentCore's callback · code", _NORMAL),
    (4, "browser", "agentcore", "callback · code", _NORMAL),
    (4, "agentcore", "stride", "POST /token · code + verifier + client secret", _NORMAL),
    (4, "agentcore", "browser", "302 → return page · session_id", _NORMAL),
    (5, "browser", "frontend", "return page, signed in as Alice", _NORMAL),
    (5, "frontend", "agentcore", "CompleteResourceTokenAuth · Alice's own token", _NORMAL),
    (6, "coach", "mcp", "tools/call again", AUDIENCE_COLOURS["fitness-mcp"]),
    (6, "mcp", "agentcore", "GetResourceOauth2Token → from the vault", _NORMAL),
    (6, "mcp", "stride", "GET activities · Bearer from Stride", _STRIDE_TOKEN),
]


def stride_consent() -> Figure:
    """USER_FEDERATION behind an MCP server: the URL goes to the user, the token to the vault."""
    return _sequence(
        _STRIDE_LANES,
        _STRIDE_TITLES,
        _STRIDE_CONSENT,
        "Consent at Stride: bound to Alice at the return page, kept in the vault, never "
        "seen by the coach",
        width=13.5,
    )


def _sequence(
    lanes: dict[str, float],
    titles: dict[str, str],
    messages: list[tuple[int, str, str, str, str]],
    caption: str,
    width: float,
) -> Figure:
    """A numbered sequence diagram: one arrow per message, lifelines under titled boxes."""
    fig, ax = plt.subplots(figsize=(width, len(messages) * 0.4 + 1.2))
    plt.close(fig)
    top = len(messages) * 0.62 + 0.9
    y = top - 0.95
    for number, source, target, label, colour in messages:
        x0, x1 = lanes[source], lanes[target]
        _arrow(ax, y, x0, x1, label, colour, False, lift=0.06, fontsize=9, widths=(1.4, 1.4))
        _step_badge(ax, y, number, colour)
        y -= 0.62
    bottom = y + 0.3
    _lifelines(ax, lanes, titles, top, bottom, fontsize=10)
    left, right = min(lanes.values()) - 1.0, max(lanes.values()) + 1.1
    ax.text((left + right) / 2, bottom - 0.35, caption, ha="center", va="center", fontsize=10.5)
    ax.set_xlim(left, right)
    ax.set_ylim(bottom - 0.7, top + 0.5)
    ax.axis("off")
    fig.subplots_adjust(left=0.01, right=0.99, top=0.98, bottom=0.02)
    return fig


# -- the atomic writer of a secret volume (notebook 07) -----------------------------------

VOLUME_SWAP_STEPS: list[str] = [
    "Before: ..data names the only version; the app reads weather_api_key through "
    "..data, so it gets v1.",
    "The operator writes v2 into a new timestamped directory, files mode 0400. The app "
    "still reads v1: nothing points at v2 yet.",
    "It makes ..data_tmp point at v2 and renames it over ..data: rename(2) is atomic, so "
    "every read gets v1 or v2 whole, never a missing link.",
    "It deletes the old version. A reader that resolved ..data before the swap and is "
    "still reading from v1's directory now gets FileNotFoundError, and must start over.",
]
_OLD, _NEW = "..2025_01_31_12_00_00.x8k2/", "..2025_01_31_12_05_00.q4m7/"
# The volume's entries, one row each, at the same height in every panel.
_VOLUME_ROWS = {"old": 4.0, "old_file": 3.4, "new": 2.6, "new_file": 2.0, "data": 1.2, "key": 0.5}
_CHANGED = "#c2410c"
_VOLUME_SWAP_TITLES = [
    "before",
    "1 · write the new version",
    "2 · swap ..data",
    "3 · delete the old version",
]


def volume_swap() -> Figure:
    """How the atomic writer publishes a new version of a secret volume, in four panels."""
    fig, axes = plt.subplots(1, 4, figsize=(14, 4.2))
    plt.close(fig)
    for stage, (ax, title) in enumerate(zip(axes, _VOLUME_SWAP_TITLES, strict=True)):
        _volume_panel(ax, stage)
        ax.set_title(title, fontsize=11, fontweight="bold", loc="left")
        caption = textwrap.fill(VOLUME_SWAP_STEPS[stage], 46)
        ax.text(0.0, -0.35, caption, ha="left", va="top", fontsize=8.5, color=_NORMAL)
        ax.set_xlim(-0.1, 2.95)
        ax.set_ylim(-1.6, 4.6)
        ax.axis("off")
    fig.subplots_adjust(left=0.01, right=0.99, top=0.92, bottom=0.02, wspace=0.08)
    return fig


def _volume_panel(ax: Axes, stage: int) -> None:
    """One state of the mount: which entries exist, and where ..data points."""
    target = "new" if stage >= 2 else "old"
    entries = {
        "old": (_OLD, stage < 3, stage == 3),
        "old_file": ("   weather_api_key   v1  r--------", stage < 3, stage == 3),
        "new": (_NEW, stage >= 1, stage == 1),
        "new_file": ("   weather_api_key   v2  r--------", stage >= 1, stage == 1),
        "data": (f"..data → {(_NEW if target == 'new' else _OLD).rstrip('/')}", True, stage == 2),
        "key": ("weather_api_key → ..data/weather_api_key", True, False),
    }
    ax.text(0.0, 4.45, "mount/", ha="left", va="center", fontsize=9, family="monospace")
    for row, (text, present, changed) in entries.items():
        if not present and not changed:
            continue
        colour = _CHANGED if changed else _NORMAL
        y = _VOLUME_ROWS[row]
        ax.text(
            0.08,
            y,
            text,
            ha="left",
            va="center",
            fontsize=8,
            family="monospace",
            color=colour,
            fontweight="bold" if changed and present else "normal",
        )
        if not present:  # deleted in this step: struck through
            ax.plot([0.08, 2.35], [y, y], color=_CHANGED, linewidth=1.2)
    arrow = {"arrowstyle": "-|>", "linewidth": 1.6, "connectionstyle": "arc3,rad=0.45"}
    colour = _CHANGED if stage == 2 else _NORMAL
    ax.annotate(
        "",
        xy=(2.05, _VOLUME_ROWS[target]),
        xytext=(2.3, _VOLUME_ROWS["data"]),
        arrowprops={**arrow, "color": colour},
    )
    ax.annotate(
        "",
        xy=(2.3, _VOLUME_ROWS["data"] - 0.12),
        xytext=(2.5, _VOLUME_ROWS["key"]),
        arrowprops={**arrow, "color": _NORMAL},
    )
    ax.add_patch(
        Rectangle((-0.05, -0.15), 2.95, 4.9, facecolor="#f9fafb", edgecolor="#d1d5db", zorder=-1)
    )


# -- choosing a secret-delivery pattern (notebook 09) --------------------------------------

# (question, where "yes" leads, its colour, the label of "no"); "no" leads to the next
# question, and after the last one to _LAST_PATTERN.
_DECISIONS = [
    (
        "Is it a token a user granted the agent,\nfor an outside service (OAuth)?",
        "AgentCore Identity's token vault (04):\nper workload, user and provider",
        "#e5e7eb",
        "no: the agent's own secret",
    ),
    (
        "Is a redeploy on every rotation fine\n(rare rotations, cheap deploys)?",
        "1 · deploy time (06):\nsealed with KMS, in the environment",
        "#dbeafe",
        "no: rotations must reach running agents",
    ),
    (
        "Does the platform mount secret volumes\n(Kubernetes), with an operator to sync them?",
        "2 · mounted volume (07):\nan operator syncs the store to a file",
        "#ede9fe",
        "no: AgentCore Runtime, Lambda, …",
    ),
]
_LAST_PATTERN = (
    "3 · direct API call (08): the store, through a cache;\n"
    "on AgentCore Runtime also the API-key provider"
)
_QUESTION_X, _ANSWER_X, _ROW_STEP = 2.4, 7.9, 1.3


def pattern_decision() -> Figure:
    """Which way a secret should reach an agent: three questions, four answers."""
    fig, ax = plt.subplots(figsize=(10, 4.6))
    plt.close(fig)
    rows = len(_DECISIONS) + 1
    ax.set_xlim(0, 10.2)
    ax.set_ylim(0, rows * _ROW_STEP)
    ax.axis("off")
    fig.subplots_adjust(left=0, right=1, top=1, bottom=0)
    for row, (question, answer, colour, no) in enumerate(_DECISIONS):
        y = (rows - row - 0.5) * _ROW_STEP
        _decision_box(ax, _QUESTION_X, y, question, "white")
        _decision_box(ax, _ANSWER_X, y, answer, colour)
        _decision_arrow(ax, (_QUESTION_X + 1.85, y), (_ANSWER_X - 1.5, y), "yes")
        _decision_arrow(ax, (_QUESTION_X, y - 0.4), (_QUESTION_X, y - _ROW_STEP + 0.4), no)
    _decision_box(ax, _QUESTION_X, 0.5 * _ROW_STEP, _LAST_PATTERN, "#d1fae5")
    return fig


def _decision_box(ax: Axes, x: float, y: float, text: str, colour: str) -> None:
    style = {"boxstyle": "round,pad=0.5", "facecolor": colour, "edgecolor": "#9ca3af"}
    ax.text(x, y, text, ha="center", va="center", fontsize=10, color=_NORMAL, bbox=style)


def _decision_arrow(
    ax: Axes, start: tuple[float, float], end: tuple[float, float], label: str
) -> None:
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "-|>", "color": _NORMAL})
    (x0, y0), (x1, y1) = start, end
    style = {"fontsize": 9, "style": "italic", "color": _NORMAL}
    if y0 == y1:  # "yes", to the right: the label above the arrow
        ax.text((x0 + x1) / 2, y0 + 0.12, label, ha="center", **style)
    else:  # "no", downwards: the label beside it
        ax.text(x0 + 0.12, (y0 + y1) / 2, label, va="center", **style)


DIAGRAMS: dict[str, Callable[..., Figure]] = {
    "login_sequence": login_sequence,
    "blast_radius_timeline": blast_radius_timeline,
    "request_chain": request_chain,
    "volume_swap": volume_swap,
    "pattern_decision": pattern_decision,
    "mcp_discovery": mcp_discovery,
    "stride_consent": stride_consent,
}


# The figures a notebook shows step by step, and their steps (None: no step highlighted).
STEPS: dict[str, list[int | None]] = {
    "login_sequence": [None, *range(len(LOGIN_STEPS))],
    "request_chain": [None, *range(1, len(CHAIN_STEPS) + 1)],
}


def png(figure: Figure) -> bytes:
    """The figure as JupyterLab's inline backend shows it: 100 dpi, trimmed to its content."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def main(argv: list[str]) -> None:
    """Draw one diagram to the PNG file its caller named; for a figure with steps, the
    other steps into the cache as well."""
    name, arguments, path = argv[0], json.loads(argv[1]), Path(argv[2])
    try:
        figure = DIAGRAMS[name](**arguments)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        sys.exit(BAD_ARGUMENTS)
    keep(path, png(figure))
    if name in STEPS and set(arguments) == {"step"}:  # matplotlib is loaded: the others
        for step in STEPS[name]:
            path = kept_at(name, {"step": step})
            if not path.is_file():
                keep(path, png(DIAGRAMS[name](step=step)))


if __name__ == "__main__":
    main(sys.argv[1:])
