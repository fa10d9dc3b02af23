"""A rest-json server driven by botocore's service model.

Routing (method + URI template), request parsing (labels, query, headers, JSON body),
input validation (required, type, length, range, pattern, enum) and the wire format of
results and errors all come from the model botocore ships — so when boto3 changes an
operation, the emulator changes with it and the contract tests notice.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from botocore.loaders import Loader
from botocore.model import OperationModel, Shape, StructureShape
from werkzeug.wrappers import Request, Response

from .. import aws
from .errors import AwsError, validation_error

Handler = Callable[[dict, "Call"], dict]


@dataclass
class Call:
    """What a handler knows about the request besides its input."""

    operation: str
    request: Request
    principal: Any  # sigv4.Principal, or None for operations that authenticate otherwise


@dataclass
class Route:
    operation: OperationModel
    pattern: re.Pattern[str]

    @staticmethod
    def compile(op: OperationModel) -> Route:
        path = op.http["requestUri"].split("?")[0]
        regex = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(path))
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
        return Route(op, re.compile(regex + "$"))


class ServiceModel:
    """One botocore service model: its routes and its shapes."""

    def __init__(self, service_name: str, loader: Loader | None = None) -> None:
        self.model = aws.botocore_session(loader).get_service_model(service_name)
        self.routes = [
            Route.compile(self.model.operation_model(name)) for name in self.model.operation_names
        ]
        self._patterns: dict[str, re.Pattern[str]] = {}  # the model's patterns, compiled once

    def validate(self, shape: StructureShape | None, params: dict) -> None:
        """Raise the ValidationException the service would, listing every bad field."""
        if shape is None:
            return
        problems = list(_problems(shape, params, "", self._pattern))
        if problems:
            summary = "; ".join(f"{name}: {text}" for name, text in problems)
            raise validation_error(f"{len(problems)} validation error(s): {summary}", problems)

    def _pattern(self, source: str) -> re.Pattern[str]:
        if source not in self._patterns:
            self._patterns[source] = re.compile(source, re.DOTALL)
        return self._patterns[source]

    def route(self, method: str, path: str) -> tuple[OperationModel, dict[str, str]]:
        allowed = False
        for route in self.routes:
            match = route.pattern.match(path)
            if match:
                if route.operation.http["method"] == method:
                    return route.operation, {k: unquote(v) for k, v in match.groupdict().items()}
                allowed = True
        if allowed:
            raise AwsError(
                "MethodNotAllowedException", f"{method} is not allowed on {path}", status=405
            )
        raise AwsError("UnknownOperationException", f"No operation at {method} {path}", status=404)

    def error_status(self, code: str) -> int:
        try:
            return self.model.shape_for(code).metadata["error"]["httpStatusCode"]
        except Exception:  # noqa: BLE001 - not a modeled error (e.g. a SigV4 refusal)
            return 400


# -- request parsing ---------------------------------------------------------------------
MAX_BODY_BYTES = 1024 * 1024  # larger bodies are refused before they are read
MAX_URI_BYTES = 8192


def without_call(fn: Callable[[dict], dict]) -> Handler:
    """A handler for an operation whose rules need only its parameters."""

    def handler(params: dict, call: Call) -> dict:
        return fn(params)

    return handler


def raw_path(request: Request) -> str:
    """The path as sent, still percent-encoded: a label such as an ARN may hold an encoded
    "/", which the decoded ``request.path`` would turn into a separator."""
    return (request.environ.get("RAW_URI") or request.path).split("?")[0]


def check_size(request: Request) -> None:
    """Refuse a request too large to be one of ours, before reading its body."""
    uri = request.environ.get("RAW_URI") or request.full_path
    if len(uri) > MAX_URI_BYTES:
        raise validation_error(f"The request URI is longer than {MAX_URI_BYTES} bytes.")
    if (request.content_length or 0) > MAX_BODY_BYTES:
        raise validation_error(f"The request body is larger than {MAX_BODY_BYTES} bytes.")


def parse_input(op: OperationModel, request: Request, labels: dict[str, str]) -> dict:
    shape = op.input_shape
    if shape is None:
        return {}
    params: dict[str, Any] = {}
    body: dict = {}
    payload_member = shape.serialization.get("payload")
    if not payload_member:
        body = _json_body(request)
        in_body = {n for n, m in shape.members.items() if "location" not in m.serialization}
        unknown = sorted(set(body) - in_body)
        if unknown:
            raise validation_error(
                f"Unknown member(s) in the request body: {', '.join(unknown)}.",
                [(name, f"is not a member of {shape.name}") for name in unknown],
            )
    for name, member in shape.members.items():
        where = member.serialization.get("location")
        wire = member.serialization.get("name", name)
        if where == "uri":
            params[name] = labels.get(wire)
        elif where == "querystring":
            values = request.args.getlist(wire)
            if values:
                params[name] = (
                    values if member.type_name == "list" else _scalar(member, values[0], wire)
                )
        elif where == "header":
            if wire in request.headers:
                params[name] = _scalar(member, request.headers[wire], wire)
        elif name == payload_member:
            params[name] = request.get_data()
        elif name in body:
            params[name] = _from_json(member, body[name], name)
    return {k: v for k, v in params.items() if v is not None}


def _json_body(request: Request) -> dict:
    """The body as a JSON object; anything else is the model's ``CannotParse``."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise _cannot_parse("The request body is not UTF-8.") from None
    except RecursionError:  # thousands of nested brackets: the parser gives up, and so do we
        raise _cannot_parse("The request body nests too deeply.") from None
    except ValueError as exc:
        raise _cannot_parse(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise _cannot_parse("Request body must be a JSON object.")
    return body


def _cannot_parse(message: str) -> AwsError:
    return validation_error(message, reason="CannotParse")


def _scalar(shape: Shape, text: str, wire: str) -> Any:
    if shape.type_name in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise validation_error(
                f"{wire} must be an integer.", [(wire, "must be an integer")]
            ) from None
    if shape.type_name == "boolean":
        return text.lower() == "true"
    return text


def _from_json(shape: Shape, value: Any, path: str) -> Any:
    """Decode the JSON forms of timestamps and blobs; everything else is already native."""
    if shape.type_name == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            raise validation_error(f"{path} is not base64.", [(path, "not base64")]) from None
    if shape.type_name == "structure" and isinstance(value, dict):
        return {
            k: _from_json(shape.members[k], v, f"{path}.{k}") if k in shape.members else v
            for k, v in value.items()
        }
    if shape.type_name == "list" and isinstance(value, list):
        return [_from_json(shape.member, v, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


# -- validation --------------------------------------------------------------------------
_JSON_TYPES = {
    "string": str,
    "boolean": bool,
    "structure": dict,
    "list": list,
    "map": dict,
    "integer": int,
    "long": int,
    "float": (int, float),
    "double": (int, float),
    "blob": (bytes, str),
    "timestamp": (int, float, str, datetime),
}


Patterns = Callable[[str], re.Pattern[str]]


def _problems(shape: Shape, value: Any, path: str, pattern: Patterns) -> Iterator[tuple[str, str]]:
    if shape.metadata.get("document"):
        return  # free-form JSON by design: nothing in it to check against the model
    expected = _JSON_TYPES.get(shape.type_name)
    if expected and (
        not isinstance(value, expected)
        or (shape.type_name in ("integer", "long") and isinstance(value, bool))
    ):
        yield path, f"must be of type {shape.type_name}"
        return
    meta = shape.metadata
    if shape.type_name == "structure":
        yield from _structure_problems(shape, value, path, pattern)
    elif shape.type_name == "list":
        for i, item in enumerate(value):
            yield from _problems(shape.member, item, f"{path}[{i}]", pattern)
    elif shape.type_name == "map":
        for key, item in value.items():
            yield from _problems(shape.key, key, f"{path}.key", pattern)
            yield from _problems(shape.value, item, f"{path}[{key}]", pattern)
    if shape.type_name in ("string", "list", "map", "blob"):
        if "min" in meta and len(value) < meta["min"]:
            yield path, f"length must be at least {meta['min']}"
        if "max" in meta and len(value) > meta["max"]:
            yield path, f"length must be at most {meta['max']}"
    if shape.type_name in ("integer", "long", "float", "double"):
        if "min" in meta and value < meta["min"]:
            yield path, f"must be at least {meta['min']}"
        if "max" in meta and value > meta["max"]:
            yield path, f"must be at most {meta['max']}"
    if shape.type_name == "string":
        if shape.enum and value not in shape.enum:
            yield path, f"must be one of {', '.join(shape.enum)}"
        # Smithy patterns are unanchored; the service rejects a value with extra
        # characters around a match, so the whole value must match.
        if "pattern" in meta and not pattern(meta["pattern"]).fullmatch(value):
            yield path, f"must match pattern {meta['pattern']}"


def _structure_problems(
    shape: StructureShape, value: dict, path: str, pattern: Patterns
) -> Iterator[tuple[str, str]]:
    prefix = f"{path}." if path else ""
    for name in value:
        if name not in shape.members:
            yield f"{prefix}{name}", f"is not a member of {shape.name}"
    for name in shape.required_members:
        if value.get(name) is None:
            yield f"{prefix}{name}", "is required"
    if shape.is_tagged_union and len([v for v in value.values() if v is not None]) != 1:
        yield path or "input", "exactly one member must be set"
    for name, item in value.items():
        if name in shape.members and item is not None:
            yield from _problems(shape.members[name], item, f"{prefix}{name}", pattern)


# -- responses ---------------------------------------------------------------------------
def success(op: OperationModel, result: dict) -> Response:
    shape = op.output_shape
    status = op.http.get("responseCode", 200)
    headers: dict[str, str] = {}
    body: dict[str, Any] = {}
    payload_member = shape.serialization.get("payload") if shape else None
    payload: bytes | None = None
    for name, member in shape.members.items() if shape else []:
        if name not in result or result[name] is None:
            continue
        where = member.serialization.get("location")
        if where == "header":
            headers[member.serialization.get("name", name)] = str(result[name])
        elif where == "statusCode":
            status = int(result[name])
        elif name == payload_member:
            payload = result[name]
        else:
            body[name] = _to_json(member, result[name])
    if payload is not None:
        return Response(payload, status=status, headers=headers)
    if status == 204:
        return Response(status=204, headers=headers)
    return Response(
        json.dumps(body), status=status, headers=headers, content_type="application/json"
    )


def _to_json(shape: Shape, value: Any) -> Any:
    if shape.type_name == "timestamp" and isinstance(value, datetime):
        return value.timestamp()  # rest-json's default: epoch seconds
    if shape.type_name == "blob" and isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if shape.type_name == "structure":
        return {
            k: _to_json(shape.members[k], v)
            for k, v in value.items()
            if k in shape.members and v is not None
        }
    if shape.type_name == "list":
        return [_to_json(shape.member, v) for v in value]
    if shape.type_name == "map":
        return {k: _to_json(shape.value, v) for k, v in value.items()}
    return value


def failure(service: ServiceModel, error: AwsError) -> Response:
    body = {"message": error.message, **error.fields}
    status = error.status or service.error_status(error.code)
    return Response(
        json.dumps(body),
        status=status,
        content_type="application/json",
        headers={**error.headers, "x-amzn-ErrorType": error.code},
    )
