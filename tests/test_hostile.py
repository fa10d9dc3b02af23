"""Hostile input, generated: every operation of both AgentCore models and every endpoint
of the identity provider, fed requests a client library would never send.

Each request starts plausible (built from the botocore model: its method, its URI with
labels filled in, its body from the input shape) and is then spoiled in at least one way:
a member of the wrong type or unknown to the model, a required member dropped, a body
nested thousands deep, not UTF-8, not JSON or over the size limit, a URI too long, a
signature missing, forged or made with an unknown key, the body swapped after signing.
Every answer must be the service's own error: below 500 (501 for what the lab does not
emulate), JSON, and for AWS the error type in ``x-amzn-ErrorType``; and the emulator and
the IdP must hold exactly what they held before the barrage.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from urllib.parse import quote, urlencode

import botocore.session
import pytest
import requests
from botocore.model import OperationModel, Shape
from conftest import TIMEOUT, sign
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from helpers import aws
from helpers.agentcore.directory import KINDS
from helpers.agentcore.protocol import MAX_BODY_BYTES, MAX_URI_BYTES
from helpers.lab import Lab

hostile = pytest.mark.attack
SETTINGS = settings(  # max_examples: the profile's (tests/conftest.py)
    deadline=None,
    derandomize=True,  # the same requests on every run: a failure in CI replays locally
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
DEEP = 5000  # brackets: Python's JSON parser gives up near 1,000


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with Lab(agentcore=True) as lab:
        control = aws.client("bedrock-agentcore-control", control_url(lab), aws.OPERATOR)
        control.create_workload_identity(name="fitness-agent", tags={"team": "coach"})
        control.create_api_key_credential_provider(name="weather", apiKey="wx-" + "k" * 20)
        yield lab


def control_url(lab: Lab) -> str:
    return lab.agentcore.identity.control_server.url


SERVICES = {
    "bedrock-agentcore-control": lambda lab: lab.agentcore.identity.control_server.url,
    "bedrock-agentcore": lambda lab: lab.agentcore.identity.data_server.url,
}
MODELS = {name: botocore.session.get_session().get_service_model(name) for name in SERVICES}


def emulated(lab: Lab, service: str) -> set[str]:
    ident = lab.agentcore.identity
    aws_service = ident.control_service if service.endswith("control") else ident.data_service
    return set(aws_service.handlers)


# -- a plausible request, from the model ------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=12)


def value_of(shape: Shape, depth: int = 0) -> st.SearchStrategy:
    """A JSON value of the shape's type, within its enum when it has one."""
    kind = shape.type_name
    if shape.metadata.get("document") or depth > 3:
        return st.just({})
    if kind == "string":
        return st.sampled_from(shape.enum) if shape.enum else _TEXT
    if kind in ("integer", "long"):
        return st.integers(0, 200)
    if kind in ("float", "double"):
        return st.floats(0, 10, allow_nan=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "blob":
        return st.just("bGFi")
    if kind == "timestamp":
        return st.integers(0, 2**31)
    if kind == "list":
        return st.lists(value_of(shape.member, depth + 1), max_size=2)
    if kind == "map":
        return st.dictionaries(_TEXT, value_of(shape.value, depth + 1), max_size=2)
    members = shape.members
    required = {n: value_of(members[n], depth + 1) for n in shape.required_members}
    optional = {n: value_of(m, depth + 1) for n, m in members.items() if n not in required}
    return st.fixed_dictionaries(required, optional=optional)


@dataclass
class Wire:
    """One request as it will travel, before and after signing."""

    method: str
    path: str  # with the query string
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    sign_as: aws.LabCredentials | None = aws.OPERATOR
    after_signing: Callable[[dict[str, str], bytes], bytes] | None = None  # -> the body sent

    def __repr__(self) -> str:  # falsifying examples stay readable, even with a 1 MiB body
        signer = self.sign_as.access_key_id if self.sign_as else "unsigned"
        spoiled = self.after_signing.__name__ if self.after_signing else "-"
        return (
            f"Wire({self.method} {self.path[:120]!r}… ({len(self.path)} chars), "
            f"body {self.body[:120]!r}… ({len(self.body)} bytes), headers {self.headers}, "
            f"signed by {signer}, after signing: {spoiled})"
        )


def body_members(op: OperationModel) -> dict[str, Shape]:
    shape = op.input_shape
    if shape is None or shape.serialization.get("payload"):
        return {}
    return {n: m for n, m in shape.members.items() if "location" not in m.serialization}


@st.composite
def plausible(draw: st.DrawFn, op: OperationModel) -> Wire:
    template, _, literal_query = op.http["requestUri"].partition("?")
    members = op.input_shape.members if op.input_shape else {}
    path, query, headers = template, {}, {}
    for name, member in members.items():
        where, wire = member.serialization.get("location"), member.serialization.get("name", name)
        if where == "uri":
            label = draw(st.text("abcXYZ019-_:/", min_size=1, max_size=20))
            path = path.replace(f"{{{wire}+}}", quote(label)).replace(
                f"{{{wire}}}", quote(label, safe="")
            )
        elif where == "querystring" and draw(st.booleans()):
            query[wire] = str(draw(st.integers(1, 5)))
        elif where == "header" and member.type_name == "string" and draw(st.booleans()):
            headers[wire] = "lab"
    body = draw(
        st.fixed_dictionaries({}, optional={n: value_of(m) for n, m in body_members(op).items()})
    )
    query_string = "&".join(filter(None, [literal_query, urlencode(query)]))
    path += f"?{query_string}" if query_string else ""
    return Wire(op.http["method"], path, json.dumps(body).encode(), headers)


# -- ways to spoil it ------------------------------------------------------------------


def _wrong_type(draw: st.DrawFn, op: OperationModel, wire: Wire) -> Wire:
    body = json.loads(wire.body)
    name = draw(st.sampled_from(sorted(body_members(op))))
    current = body_members(op)[name].type_name
    odd = {"string": 12, "list": "x", "structure": [1], "map": 3, "boolean": "yes"}
    body[name] = odd.get(current, {"not": "a number"})
    return replace(wire, body=json.dumps(body).encode())


def _unknown_member(draw: st.DrawFn, op: OperationModel, wire: Wire) -> Wire:
    body = json.loads(wire.body)
    body[draw(st.sampled_from(["lab:unknown", "__proto__", "Name "]))] = draw(_TEXT)
    return replace(wire, body=json.dumps(body).encode())


def _drop_required(draw: st.DrawFn, op: OperationModel, wire: Wire) -> Wire:
    body = json.loads(wire.body)
    required = [n for n in op.input_shape.required_members if n in body_members(op)]
    body.pop(draw(st.sampled_from(required)), None)
    return replace(wire, body=json.dumps(body).encode())


def _deep(draw: st.DrawFn, op: OperationModel, wire: Wire) -> Wire:
    opening = draw(st.sampled_from(['{"a":', "[", '{"name": [']))
    closing = {'{"a":': "}", "[": "]", '{"name": [': "]"}[opening]
    tail = "}" if opening.startswith('{"name"') else ""
    return replace(wire, body=(opening * DEEP + "1" + closing * DEEP + tail).encode())


def _not_utf8(draw: st.DrawFn, op: OperationModel, wire: Wire) -> Wire:
    return replace(wire, body=b'{"name": "' + draw(st.sampled_from([b"\xff", b"\xc3\x28"])) + b'"}')


def _not_json(draw: st.DrawFn, op: OperationModel, wire: Wire) -> Wire:
    return replace(wire, body=draw(st.sampled_from([b"{", b"[1, 2]", b'"text"', b"null", b"{,}"])))


def _huge_body(draw: st.DrawFn, op: OperationModel, wire: Wire) -> Wire:
    return replace(wire, body=b'{"name": "' + b"x" * (MAX_BODY_BYTES + 10) + b'"}')


def _long_uri(draw: st.DrawFn, op: OperationModel, wire: Wire) -> Wire:
    # Past our limit, or past http.server's own (64 KiB), which answers before the app.
    size = draw(st.sampled_from([MAX_URI_BYTES + 1, 70_000]))
    separator = "&" if "?" in wire.path else "?"
    return replace(wire, path=wire.path + separator + "pad=" + "x" * size)


def _unsigned(draw: st.DrawFn, op: OperationModel, wire: Wire) -> Wire:
    return replace(wire, sign_as=None)


def _unknown_key(draw: st.DrawFn, op: OperationModel, wire: Wire) -> Wire:
    return replace(wire, sign_as=aws.LabCredentials("AKIANOTALABPRINCIPAL", "x" * 40))


def _forged_signature(draw: st.DrawFn, op: OperationModel, wire: Wire) -> Wire:
    def forge(headers: dict[str, str], body: bytes) -> bytes:
        auth = headers.get("Authorization", "AWS4-HMAC-SHA256 Signature=1234")
        headers["Authorization"] = auth[:-4] + ("0000" if auth[-4:] != "0000" else "1111")
        return body

    return replace(wire, after_signing=forge)


def _swapped_body(draw: st.DrawFn, op: OperationModel, wire: Wire) -> Wire:
    def swap(headers: dict[str, str], body: bytes) -> bytes:
        return b'{"name": "mallory"}'  # a man in the middle: the signed hash no longer fits

    return replace(wire, after_signing=swap)


def _applies(op: OperationModel) -> list[Callable]:
    """The spoilers that make sense for ``op``, in the order they can be combined: those
    that edit the JSON body, then those that replace it, then those of the transport."""
    on_json: list[Callable] = []
    on_bytes: list[Callable] = []
    if op.input_shape is not None and not op.input_shape.serialization.get("payload"):
        on_json.append(_unknown_member)
        if body_members(op):
            on_json.append(_wrong_type)
        if any(n in body_members(op) for n in op.input_shape.required_members):
            on_json.append(_drop_required)
        on_bytes = [_deep, _not_utf8, _not_json, _huge_body]
    transport = [_long_uri, _unsigned, _unknown_key, _forged_signature, _swapped_body]
    return on_json + on_bytes + transport


@st.composite
def hostile_request(draw: st.DrawFn, service: str, operations: list[str]) -> tuple[str, Wire]:
    op = MODELS[service].operation_model(draw(st.sampled_from(operations)))
    wire = draw(plausible(op))
    spoilers = _applies(op)
    chosen = draw(st.sets(st.sampled_from(spoilers), min_size=1, max_size=2))
    for spoil in sorted(chosen, key=spoilers.index):
        if spoil in (_wrong_type, _unknown_member, _drop_required) and not _is_json(wire.body):
            continue  # a body already replaced by bytes has no members to edit
        wire = spoil(draw, op, wire)
    return op.name, wire


def _is_json(body: bytes) -> bool:
    try:
        return isinstance(json.loads(body), dict)
    except (ValueError, RecursionError):
        return False


def send(url: str, wire: Wire) -> requests.Response:
    headers, body = {"Content-Type": "application/json", **wire.headers}, wire.body
    if wire.sign_as is not None:
        signed = sign(url, wire.path, body, creds=wire.sign_as, method=wire.method, headers=headers)
        headers = dict(signed.headers)
    if wire.after_signing:
        body = wire.after_signing(headers, body)
    headers.pop("Content-Length", None)  # requests sets it for the body actually sent
    return requests.request(
        wire.method, url + wire.path, headers=headers, data=body, timeout=TIMEOUT
    )


def assert_aws_error(resp: requests.Response, operation: str, is_emulated: bool) -> None:
    where = f"{operation}: {resp.status_code} {resp.text[:300]}"
    assert 400 <= resp.status_code < 500 or (resp.status_code == 501 and not is_emulated), where
    assert resp.headers.get("Content-Type", "").startswith("application/json"), where
    assert resp.headers.get("x-amzn-ErrorType"), where
    assert isinstance(resp.json().get("message"), str), where


# -- what the emulator holds -------------------------------------------------------------


def emulator_state(lab: Lab) -> dict:
    ident = lab.agentcore.identity
    resources = {
        kind: [
            (r.arn, r.body, r.tags, r.updated) for r in ident.directory.page(kind, 1000, None)[0]
        ]
        for kind in KINDS
    }
    runtimes = ident.runtimes.list_runtimes({})["agentRuntimes"]
    return {
        "directory": resources,
        "vault": ident.vault.raw_rows(),
        "kms": ident.vault.describe(),
        "runtimes": runtimes,
    }


def idp_state(lab: Lab) -> dict:
    store = lab.idp.store
    return {
        "users": dict(store.users),
        "clients": {cid: vars(c).copy() for cid, c in store.clients.items()},
        "codes": len(store.codes),
        "tokens": len(store.tokens),
    }


# -- the barrages ------------------------------------------------------------------------


@hostile
@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_identity_operation_answers_hostile_input_with_its_error(
    lab: Lab, service: str
) -> None:
    handled = emulated(lab, service)
    url = SERVICES[service](lab)
    before = emulator_state(lab)

    @SETTINGS
    @given(request=hostile_request(service, sorted(handled)))
    def barrage(request: tuple[str, Wire]) -> None:
        operation, wire = request
        assert_aws_error(send(url, wire), operation, is_emulated=True)

    barrage()
    assert emulator_state(lab) == before


@hostile
@pytest.mark.parametrize("service", sorted(SERVICES))
def test_operations_the_lab_does_not_emulate_answer_501_or_an_error(lab: Lab, service: str) -> None:
    handled = emulated(lab, service)
    others = sorted(set(MODELS[service].operation_names) - handled)
    url = SERVICES[service](lab)

    @settings(SETTINGS, max_examples=SETTINGS.max_examples // 2)
    @given(request=hostile_request(service, others))
    def barrage(request: tuple[str, Wire]) -> None:
        operation, wire = request
        assert_aws_error(send(url, wire), operation, is_emulated=False)

    barrage()


# -- the identity provider ---------------------------------------------------------------

IDP_ENDPOINTS = [
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/jwks"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/authorize"),
    ("POST", "/authorize"),
    ("POST", "/token"),
    ("GET", "/userinfo"),
    ("POST", "/userinfo"),
    ("POST", "/revoke"),
    ("POST", "/introspect"),
    ("GET", "/no-such-endpoint"),
    ("DELETE", "/token"),
]
OAUTH_PARAMS = [
    "grant_type",
    "code",
    "redirect_uri",
    "client_id",
    "client_secret",
    "code_verifier",
    "refresh_token",
    "scope",
    "token",
    "response_type",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "subject_token",
    "subject_token_type",
    "audience",
    "username",
    "password",
    "next",
    "csrf",
    "decision",
]
_NASTY = st.one_of(
    _TEXT,
    st.sampled_from(
        [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "fitness-frontend",
            "code",
            "S256",
            "plain",
            "openid agent:invoke",
            "http://127.0.0.1:1/callback",
            "//evil.example/authorize",
            "x" * 70_000,
            "\x00",
            "é" * 30,
            "[" * DEEP,
        ]
    ),
)


@st.composite
def idp_request(draw: st.DrawFn) -> tuple[str, str, dict, bytes | list]:
    method, path = draw(st.sampled_from(IDP_ENDPOINTS))
    pairs = draw(st.lists(st.tuples(st.sampled_from(OAUTH_PARAMS), _NASTY), max_size=6))
    headers = {}
    if draw(st.booleans()):
        headers["Authorization"] = draw(
            st.sampled_from(["Basic Og==", "Basic !!!", "Bearer ", "Bearer x y", "Digest a"])
        )
    body: bytes | list = pairs  # form fields, duplicates included
    if draw(st.integers(0, 4)) == 0:
        body = draw(st.sampled_from([b"\xff\xfe=\xff", b"[" * DEEP, b"a" * 80_000]))
        headers["Content-Type"] = draw(
            st.sampled_from(["application/x-www-form-urlencoded", "application/json"])
        )
    return method, path, headers, body


def assert_oauth_error(resp: requests.Response, what: str) -> None:
    assert resp.status_code < 500, f"{what}: {resp.status_code} {resp.text[:300]}"
    if resp.status_code < 400:
        return  # a login page, a redirect with error=..., revocation's 200 (RFC 7009 §2.2)
    if resp.headers.get("Content-Type", "").startswith("text/html"):
        assert 'id="error"' in resp.text, f"{what}: an HTML page that is not the IdP's own"
        return
    body = resp.json()
    assert isinstance(body.get("error"), str) or "error_description" in body, what


def frontend_at(redirect_uri: str) -> list[tuple[str, str]]:
    return [("client_id", "fitness-frontend"), ("redirect_uri", redirect_uri)]


@hostile
@pytest.mark.parametrize(
    "query, error",
    [
        ({"response_type": '"'}, "unsupported_response_type"),
        (
            {"response_type": "tok\u00e9n", **dict(frontend_at("http://127.0.0.1/cb"))},
            "unsupported_response_type",
        ),
        ({"response_type": "code", **dict(frontend_at('http://127.0.0.1/"x'))}, "invalid_request"),
    ],
)
def test_characters_no_oauth_error_may_repeat_get_an_error_page(
    lab: Lab, query: dict, error: str
) -> None:
    resp = requests.get(
        lab.urls.issuer + "/authorize", params=query, timeout=TIMEOUT, allow_redirects=False
    )
    assert resp.status_code == 400
    assert f'<p class="error" id="error"><code>{error}</code></p>' in resp.text


@hostile
def test_every_idp_endpoint_answers_hostile_input_with_an_oauth_error(lab: Lab) -> None:
    before = idp_state(lab)

    @SETTINGS
    @given(request=idp_request())
    # Found by the barrage: authlib repeats these in an error description, and a character
    # RFC 6749 forbids there made it raise instead of answering (a 500).
    @example(request=("GET", "/authorize", {}, [("response_type", '"')]))
    @example(request=("GET", "/authorize", {}, [("response_type", "code"), *frontend_at("é")]))
    def barrage(request: tuple[str, str, dict, bytes | list]) -> None:
        method, path, headers, body = request
        url = lab.urls.issuer + path
        if method == "GET" and isinstance(body, list):
            url += "?" + urlencode(body)
            body = b""
        resp = requests.request(
            method, url, headers=headers, data=body, timeout=TIMEOUT, allow_redirects=False
        )
        assert_oauth_error(resp, f"{method} {path}")

    barrage()
    assert idp_state(lab) == before


@hostile
def test_the_runtime_front_door_refuses_hostile_bearer_callers(lab: Lab) -> None:
    """InvokeAgentRuntime takes bearer tokens too: every refusal is an AWS error."""
    url = lab.agentcore.identity.data_server.url
    arn = quote(
        f"arn:aws:bedrock-agentcore:{aws.REGION}:{lab.agentcore.account_id}:runtime/x", safe=""
    )
    for authorization in [
        "Bearer",
        "Bearer a b",
        "Bearer " + "a" * 9000,
        "Bearer x.y.z",
        "Basic a",
    ]:
        resp = requests.post(
            f"{url}/runtimes/{arn}/invocations",
            data=b"{}",
            headers={"Authorization": authorization, "Content-Type": "application/json"},
            timeout=TIMEOUT,
        )
        assert_aws_error(resp, "InvokeAgentRuntime", is_emulated=True)
        refusals = {"AccessDeniedException", "ValidationException", "ResourceNotFoundException"}
        assert resp.headers["x-amzn-ErrorType"] in refusals


# -- the cast: the frontend, the agent, the fitness API -------------------------------

CAST_ENDPOINTS = [
    ("frontend", "GET", "/"),
    ("frontend", "GET", "/login"),
    ("frontend", "GET", "/callback"),
    ("frontend", "POST", "/ask"),
    ("frontend", "GET", "/agentcore/return"),
    ("agent", "POST", "/invocations"),
    ("agent", "PUT", "/invocations"),
    ("fitness_api", "GET", "/v1/athlete/activities"),
    ("fitness_api", "GET", "/v1/nothing-here"),
]


@st.composite
def cast_request(draw: st.DrawFn) -> tuple[str, str, str, dict, dict, bytes]:
    service, method, path = draw(st.sampled_from(CAST_ENDPOINTS))
    params = dict(
        draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["state", "code", "error", "session_id", "prompt"]), _NASTY
                ),
                max_size=3,
            )
        )
    )
    headers = {"Content-Type": "application/json"}
    if draw(st.booleans()):
        headers["Authorization"] = draw(
            st.sampled_from(["Bearer", "Bearer a b", "Bearer x.y.z", "Basic Og==", "Bearer ☃"])
        )
    if draw(st.booleans()):
        headers["Cookie"] = "frontend_session=" + draw(st.sampled_from(["x", "e30.a.b", "!!"]))
    body = draw(
        st.sampled_from([b"", b"{}", b"[" * DEEP, b"\xff", b'{"prompt": 1}', b"p" * 80_000])
    )
    return service, method, path, params, headers, body


@hostile
def test_the_cast_answers_hostile_input_with_oauth_errors(lab: Lab) -> None:
    urls = {
        "frontend": lab.urls.frontend,
        "agent": lab.urls.agent,
        "fitness_api": lab.urls.fitness_api,
    }

    @SETTINGS
    @given(request=cast_request())
    def barrage(request: tuple[str, str, str, dict, dict, bytes]) -> None:
        service, method, path, params, headers, body = request
        resp = requests.request(
            method,
            urls[service] + path,
            params=params,
            headers={k: v.encode() for k, v in headers.items()},
            data=body,
            timeout=TIMEOUT,
            allow_redirects=False,
        )
        assert_oauth_error(resp, f"{service} {method} {path}")

    barrage()
