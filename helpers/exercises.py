"""The "check yourself" exercises at the end of each notebook, and their checkers.

A checker never raises on a learner's answer: it returns a :class:`Verdict`, truthy or
not, that shows itself as a one-line message with a hint.
"""

from __future__ import annotations

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from .lab import Lab


class Verdict:
    def __init__(self, ok: bool, message: str) -> None:
        self.ok, self.message = ok, message

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return self.message


UNANSWERED = Verdict(False, "✏️  Replace the placeholder with your answer, then run the cell again.")


def _verdict(ok: bool, praise: str, hint: str) -> Verdict:
    return Verdict(ok, f"✅ {praise}" if ok else f"❌ Not yet. Hint: {hint}")


def _unanswered(answer: object) -> bool:
    return answer is None or answer is Ellipsis


def check_issuer(lab: Lab, issuer: object) -> Verdict:
    """00: find the issuer by reading the discovery document the lab exports."""
    if _unanswered(issuer):
        return UNANSWERED
    return _verdict(
        issuer == lab.urls.issuer,
        "That is the issuer every token of this lab carries in its `iss` claim.",
        "GET the URL in os.environ['LAB_OIDC_DISCOVERY_URL'] and read its 'issuer' field.",
    )


def check_pkce_pair(verifier: object, challenge: object) -> Verdict:
    """01: build a valid S256 PKCE pair yourself."""
    if _unanswered(verifier) or _unanswered(challenge):
        return UNANSWERED
    if not isinstance(verifier, str) or not 43 <= len(verifier) <= 128:
        return _verdict(False, "", "RFC 7636 wants a verifier of 43 to 128 characters.")
    return _verdict(
        create_s256_code_challenge(verifier) == challenge,
        "The IdP will accept this verifier for this challenge, and nobody can go backwards.",
        "challenge = BASE64URL(SHA256(verifier)) without '=' padding.",
    )


# What a thief can do with each stolen credential (notebook 02), offered as lettered
# choices in an order that does not give the pairing away.
LEAK_CHOICES = {
    "A": "mint new access tokens until the family is revoked",
    "B": "learn who the user is, but call no API",
    "C": "act as the app until the secret is rotated by a redeploy",
    "D": "nothing without the client secret and the PKCE verifier",
    "E": "call the APIs in its audience until it expires",
}
_LEAK_KEY = {
    "authorization code": "D",
    "id token": "B",
    "access token": "E",
    "refresh token": "A",
    "client secret": "C",
}


def show_leak_choices() -> None:
    for letter, outcome in LEAK_CHOICES.items():
        print(f"{letter}. {outcome}")


def check_leak_costs(answers: object) -> Verdict:
    """02: match each credential to what its theft allows (a letter each)."""
    if _unanswered(answers):
        return UNANSWERED
    if not isinstance(answers, dict):
        return _verdict(False, "", "Answer with a dict: credential name → letter.")
    given = {str(k).lower(): str(v).strip().upper() for k, v in answers.items()}
    wrong = sorted(k for k, letter in _LEAK_KEY.items() if given.get(k) != letter)
    return _verdict(
        not wrong,
        "You know what each credential is worth to an attacker.",
        f"look again at: {', '.join(wrong)}",
    )


def _numbered_answers(answers: dict) -> dict[str, str]:
    """{1: "Allowed "} and {"1": "allowed"} alike: keys as strings, values normalised."""
    return {str(k).strip(): str(v).strip().lower() for k, v in answers.items()}


# Lettered exercises: a list of outcomes (A, B, …) and numbered scenarios, each scenario
# answered with the letter of its outcome.


def _show_lettered(choices: dict[str, str], scenarios: dict[str, str]) -> None:
    for letter, outcome in choices.items():
        print(f"{letter}. {outcome}")
    print()
    for number, scenario in scenarios.items():
        print(f"{number}. {scenario}")


def _check_lettered(answers: object, key: dict[str, str], praise: str, clue: str) -> Verdict:
    """Every scenario of ``key`` (number -> letter) answered right; else name the wrong ones."""
    if _unanswered(answers):
        return UNANSWERED
    if not isinstance(answers, dict):
        return _verdict(False, "", "Answer with a dict: scenario number → letter.")
    given = {k: v.upper() for k, v in _numbered_answers(answers).items()}
    wrong = sorted(n for n, letter in key.items() if given.get(n) != letter)
    return _verdict(
        not wrong,
        praise,
        f"look again at scenario{'s' if len(wrong) > 1 else ''} {', '.join(wrong)} ({clue})",
    )


# Who may get a workload access token, and how (notebook 03).
WAT_SCENARIOS = {
    "1": "The runtime's execution role trades Alice's access token for a WAT of fitness-agent.",
    "2": "The runtime's execution role trades Alice's ID token for a WAT of fitness-agent.",
    "3": "The runtime's execution role asks for a WAT of another workload, billing-agent.",
    "4": "A partner app whose role may only InvokeAgentRuntime sends a runtime user id.",
    "5": "A backend whose role may InvokeAgentRuntimeForUser copies the user id from the"
    " request body into the runtime user id.",
}
_WAT_KEY = {"1": "allowed", "2": "refused", "3": "refused", "4": "refused", "5": "allowed"}


def show_wat_scenarios() -> None:
    for number, scenario in WAT_SCENARIOS.items():
        print(f"{number}. {scenario}")


def check_wat_scenarios(answers: object) -> Verdict:
    """03: for each scenario, does AgentCore Identity answer "allowed" or "refused"?"""
    if _unanswered(answers):
        return UNANSWERED
    if not isinstance(answers, dict):
        return _verdict(False, "", 'Answer with a dict: scenario number → "allowed" or "refused".')
    given = _numbered_answers(answers)
    wrong = sorted(n for n, outcome in _WAT_KEY.items() if given.get(n) != outcome)
    return _verdict(
        not wrong,
        "Right. And 5 is the dangerous one: AgentCore allows it, because a signed call from a"
        " trusted backend is all it sees — the user id must come from that backend's own login.",
        f"look again at scenario{'s' if len(wrong) > 1 else ''} {', '.join(wrong)}"
        " (who signs the call, which token, which workload?)",
    )


# What GetResourceOauth2Token (or the return page) answers (notebook 04).
VAULT_CHOICES = {
    "A": "an access token, straight away",
    "B": "an authorization URL: a user must consent first",
    "C": "AccessDeniedException: nothing is handed out or stored",
}
VAULT_SCENARIOS = {
    "1": "M2M flow, with the agent's own WAT (no user).",
    "2": "USER_FEDERATION with Alice's WAT, before she ever consented.",
    "3": "USER_FEDERATION with Alice's WAT, after she consented.",
    "4": "USER_FEDERATION with Bob's WAT, after Alice (not Bob) consented.",
    "5": "Bob, signed in as himself, finishes the authorization URL of Alice's session.",
    "6": "USER_FEDERATION with Alice's WAT while the vault's KMS key is disabled.",
}
_VAULT_KEY = {"1": "A", "2": "B", "3": "A", "4": "B", "5": "C", "6": "C"}


def show_vault_scenarios() -> None:
    _show_lettered(VAULT_CHOICES, VAULT_SCENARIOS)


def check_vault_outcomes(answers: object) -> Verdict:
    """04: match each scenario to what AgentCore Identity answers (a letter each)."""
    return _check_lettered(
        answers,
        _VAULT_KEY,
        "You know what the vault hands out, to whom, and when it fails closed.",
        "a record belongs to one workload, one user and one provider",
    )


# Where a token meets its end along the request chain (notebook 05).
CHAIN_CHOICES = {
    "A": "accepted: the call goes through",
    "B": "refused by the MCP runtime's front door: wrong audience",
    "C": "refused by the fitness API: wrong audience",
    "D": "refused by the identity provider: no such exchange",
}
CHAIN_SCENARIOS = {
    "1": "The coach sends Alice's own access token (aud fitness-agent) to the MCP runtime.",
    "2": "The MCP server sends the token it received (aud fitness-mcp) on to the fitness API.",
    "3": "The MCP server has AgentCore Identity exchange its token for aud fitness-api, scope"
    " activities:read, and calls the fitness API with the result.",
    "4": "The coach asks AgentCore Identity to exchange Alice's token for scope"
    " activities:write, which she never granted.",
    "5": "The coach asks AgentCore Identity for a token for payroll-api, an audience the"
    " identity provider does not know.",
}
_CHAIN_KEY = {"1": "B", "2": "C", "3": "A", "4": "D", "5": "D"}


def show_chain_scenarios() -> None:
    _show_lettered(CHAIN_CHOICES, CHAIN_SCENARIOS)


def check_chain_outcomes(answers: object) -> Verdict:
    """05: match each hop's token to where it is accepted or refused (a letter each)."""
    return _check_lettered(
        answers,
        _CHAIN_KEY,
        "Each hop gets its own token, for one audience and no more scope than the user gave.",
        "whose audience is in the token, and who is asked to widen it?",
    )


# What ends up where when the weather API key is deployed as a variable (notebook 06).
DEPLOY_TIME_CHOICES = {
    "A": "the plaintext key",
    "B": "nothing usable: the key is absent, or masked",
    "C": "a KMS ciphertext: useless without kms:Decrypt under its encryption context",
    "D": "no key at all: the agent does not start, KMS refuses to decrypt",
    "E": "the old key, until the agent is redeployed",
}
DEPLOY_TIME_SCENARIOS = {
    "1": "Another process reads the start-up environment (/proc/<pid>/environ, ps eww) of"
    " the agent deployed with the sealed template (WEATHER_API_KEY_KMS).",
    "2": "Someone reads the log of the agent deployed with LogRedaction=1.",
    "3": "The running agent is asked for its key after a new key was set as the template's"
    " WeatherApiKey parameter.",
    "4": "Another process of the same user reads the start-up environment of the plaintext"
    ' agent, after it ran del os.environ["WEATHER_API_KEY"].',
    "5": "The sealed template is deployed with the ciphertext of StravaClientSecret as its"
    " WeatherApiKey parameter.",
    "6": 'A tool the plaintext agent runs with subprocess.run(cmd, env={"PATH": ...}).',
    "7": "A tool the plaintext agent runs with subprocess.run(cmd).",
}
_DEPLOY_TIME_KEY = {"1": "C", "2": "B", "3": "E", "4": "A", "5": "D", "6": "B", "7": "A"}


def show_deploy_time_scenarios() -> None:
    _show_lettered(DEPLOY_TIME_CHOICES, DEPLOY_TIME_SCENARIOS)


def check_deploy_time_exposure(answers: object) -> Verdict:
    """06: match each scenario to what it yields of the key (a letter each)."""
    return _check_lettered(
        answers,
        _DEPLOY_TIME_KEY,
        "You know where an environment variable goes, and what sealing and redeploying change.",
        "what does a process start with, who inherits it, and what is a ciphertext bound to?",
    )


# What an app reads from a secret volume the operator keeps in sync (notebook 07).
VOLUME_CHOICES = {
    "A": "the new value, on its next read, without a restart",
    "B": "the old value, until the pod is restarted",
    "C": "values from two versions at once (a torn read)",
    "D": "every key from one complete version",
    "E": "nothing: the platform mounts no secret volume",
}
VOLUME_SCENARIOS = {
    "1": "The app reads two keys through their top-level links, and the operator's swap"
    " lands between the two reads.",
    "2": "The app reads weather_api_key through its top-level link, once the operator has"
    " synced a rotation from the store.",
    "3": "The app reads a key mounted on its own, with subPath, after a rotation.",
    "4": "The app resolves ..data once, reads both keys from that directory and starts over"
    " on FileNotFoundError, while a swap lands.",
    "5": "An agent deployed on AgentCore Runtime looks for its key in a mounted volume.",
    "6": "The app read the file once at start-up into a global variable, and a rotation followed.",
}
_VOLUME_KEY = {"1": "C", "2": "A", "3": "B", "4": "D", "5": "E", "6": "B"}


def show_volume_scenarios() -> None:
    _show_lettered(VOLUME_CHOICES, VOLUME_SCENARIOS)


def check_volume_reads(answers: object) -> Verdict:
    """07: match each scenario to what the app reads (a letter each)."""
    return _check_lettered(
        answers,
        _VOLUME_KEY,
        "You know when a volume rotates for free, and the two ways to lose that.",
        "which path does each read go through, and when is it resolved?",
    )


# Which way a secret should reach the agent (notebook 09).
PATTERN_CHOICES = {
    "A": "1 · deploy time: an environment variable, sealed with KMS",
    "B": "2 · a mounted volume that an operator keeps in sync",
    "C": "3 · a direct API call to the store, through a cache",
    "D": "none of the three: AgentCore Identity's token vault",
}
PATTERN_SCENARIOS = {
    "1": "An agent on AgentCore Runtime calls a weather API whose key is rotated every 30"
    " days; a rotation must reach the running agents without a redeploy.",
    "2": "A service on EKS reads a database password rotated every day; the team wants"
    " neither an AWS SDK nor a credential for the store in the app.",
    "3": "A Lambda function uses a partner's API key that changes once a year, always with a"
    " new release of the function.",
    "4": "The coach reads Alice's Strava activities with the OAuth token she granted it.",
    "5": "A nightly batch job is deployed afresh for every run and exits after five minutes.",
}
_PATTERN_KEY = {"1": "C", "2": "B", "3": "A", "4": "D", "5": "A"}


def show_pattern_scenarios() -> None:
    _show_lettered(PATTERN_CHOICES, PATTERN_SCENARIOS)


def check_pattern_choices(answers: object) -> Verdict:
    """09: match each scenario to the way its secret should reach the agent (a letter each)."""
    return _check_lettered(
        answers,
        _PATTERN_KEY,
        "You pick a pattern from whose secret it is, how it rotates and where the agent runs.",
        "whose secret is it, must a rotation reach a running agent, does the platform mount"
        " volumes?",
    )


# What the agent's code should do, or gets, when it reads secrets by API call (notebook 08).
API_SECRET_CHOICES = {
    "A": "give up at once and say why: asking again changes nothing",
    "B": "the cached value, at once; a refresh is tried in the background",
    "C": "retry after a random sleep in [0, min(cap, base · 2ⁿ)]",
    "D": "the store's error: nothing is served past the hard TTL",
    "E": "the new key, with no change to the provider",
    "F": "HTTP 402 ServiceQuotaExceededException",
}
API_SECRET_SCENARIOS = {
    "1": "GetSecretValue answers ThrottlingException.",
    "2": "The agent reads secret/data/billing/stripe-key from OpenBao; its policy covers"
    " secret/data/fitness/*.",
    "3": "A cached key is past its TTL (60 s) and the store is up.",
    "4": "The store went down right after the cache fetched the key, four minutes ago;"
    " TTL 60 s, hard TTL 5 minutes.",
    "5": "The store is still down, six minutes after that fetch.",
    "6": "The MCP server's role calls GetResourceApiKey with the coach's WAT.",
    "7": "The Secrets Manager secret behind an EXTERNAL provider is rotated; then the agent"
    " calls GetResourceApiKey.",
    "8": "The account creates its 51st API-key credential provider in the Region.",
}
_API_SECRET_KEY = {"1": "C", "2": "A", "3": "B", "4": "B", "5": "D", "6": "A", "7": "E", "8": "F"}


def show_api_secret_scenarios() -> None:
    _show_lettered(API_SECRET_CHOICES, API_SECRET_SCENARIOS)


def check_api_secret_handling(answers: object) -> Verdict:
    """08: match each scenario to what the agent should do or gets (a letter each)."""
    return _check_lettered(
        answers,
        _API_SECRET_KEY,
        "You know which errors to retry, what a cache may still serve, and what the platform"
        " does for you.",
        "is the error permanent or transient, and how old is the cached value?",
    )
