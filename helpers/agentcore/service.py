"""The WSGI front of one emulated AWS service: authenticate, authorize, route, validate,
call the handler, answer in the model's wire format."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from botocore.loaders import Loader
from werkzeug.wrappers import Request, Response

from . import protocol
from .errors import AwsError, validation_error
from .protocol import Call, Handler, ServiceModel
from .sigv4 import Principal, authenticate
from .vault import VaultConfigError, VaultError, VaultKeyUnavailable

SIGNING_NAME = "bedrock-agentcore"  # both Identity models sign with this name
_log = logging.getLogger(__name__)


class Throttle:
    """A lever for tests and notebooks: the next N calls of an operation get throttled."""

    def __init__(self) -> None:
        self._pending: dict[str, int] = {}
        self._lock = threading.Lock()

    def arm(self, operation: str, times: int = 1) -> None:
        with self._lock:
            self._pending[operation] = self._pending.get(operation, 0) + times

    def check(self, operation: str) -> None:
        with self._lock:
            if self._pending.get(operation, 0) > 0:
                self._pending[operation] -= 1
                raise AwsError("ThrottlingException", "Rate exceeded")


def _vault_error(exc: VaultError) -> AwsError:
    """The vault fails closed; callers learn why without seeing any key material."""
    if isinstance(exc, VaultConfigError):
        return validation_error(str(exc), [("tokenVaultId", str(exc))])
    if isinstance(exc, VaultKeyUnavailable):
        return AwsError("AccessDeniedException", f"The token vault's key is unusable: {exc}")
    return AwsError("InternalServerException", f"A token vault record failed to decrypt: {exc}")


class AwsService:
    """Serves the operations of one botocore model that have a handler."""

    def __init__(
        self,
        service_name: str,
        handlers: dict[str, Handler],
        principals: dict[str, Principal],
        region: str,
        custom_auth: dict[str, Callable[[Request], object]] | None = None,
        extra_routes: dict[str, Callable[[Request], Response]] | None = None,
        loader: Loader | None = None,
    ) -> None:
        self.model = ServiceModel(service_name, loader)
        self.handlers = handlers
        self.principals = principals
        self.region = region
        self.custom_auth = custom_auth or {}  # operations that accept more than SigV4
        # Routes outside the model (browser pages, well-known documents): a path, or a
        # prefix when it ends with "/".
        self.extra_routes = extra_routes or {}
        self.throttle = Throttle()

    def __call__(self, environ: dict, start_response: Callable) -> object:
        request = Request(environ)
        try:
            response = self._answer(request)
        except AwsError as error:
            response = protocol.failure(self.model, error)
        except Exception:  # a bug of ours: still an AWS-shaped answer, and a trace in the log
            _log.exception("%s %s failed", request.method, request.path)
            error = AwsError("InternalServerException", "The lab's emulator failed; see its log.")
            response = protocol.failure(self.model, error)
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        if request.path == "/healthz":
            return Response("ok")
        for path, route in self.extra_routes.items():
            if request.path == path or (path.endswith("/") and request.path.startswith(path)):
                return route(request)
        return self.dispatch(request)

    def dispatch(self, request: Request) -> Response:
        protocol.check_size(request)  # before anything reads the body
        op, labels = self.model.route(request.method, protocol.raw_path(request))
        principal = self._authenticate(op.name, request)
        self.throttle.check(op.name)
        handler = self.handlers.get(op.name)
        if handler is None:
            raise AwsError(
                "NotImplementedException", f"{op.name} is not emulated in the lab.", status=501
            )
        params = protocol.parse_input(op, request, labels)
        self.model.validate(op.input_shape, params)
        try:
            result = handler(params, Call(op.name, request, principal))
        except VaultError as exc:
            raise _vault_error(exc) from None
        return protocol.success(op, result)

    def _authenticate(self, operation: str, request: Request) -> object:
        if operation in self.custom_auth and not request.headers.get(
            "Authorization", ""
        ).startswith("AWS4-HMAC-SHA256"):
            return self.custom_auth[operation](request)
        principal = authenticate(request, self.principals, SIGNING_NAME, self.region)
        action = f"bedrock-agentcore:{operation}"
        if not principal.may(action):
            raise AwsError(
                "AccessDeniedException",
                f"User: {principal.arn} is not authorized to perform: {action}",
            )
        return principal
