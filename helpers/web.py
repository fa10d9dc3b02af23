"""What every Flask app of the lab shares: errors in JSON, bounded requests, and the
headers that keep its pages out of other sites' frames and caches.

Flask and werkzeug answer a request they refuse (404, 405, 413, a crash) with an HTML
page by default. Every lab service is an API or an OAuth endpoint, so ``harden`` makes
those answers what RFC 6749 §5.2 and RFC 6750 describe instead: a JSON body with
``error`` and ``error_description``. Pages meant for browsers (the IdP's login and
consent, the frontend's home) opt into :func:`page_headers`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

MAX_REQUEST_BYTES = 64 * 1024  # no OAuth request or API call of the lab comes near this
_log = logging.getLogger(__name__)


class _BoundedJson(DefaultJSONProvider):
    """JSON that fails as JSON: a body nested thousands deep is a 400, not a crash."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return json.loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


class _CookieUnderPrefix(SecureCookieSessionInterface):
    """The session cookie is scoped to the path the browser used: behind Jupyter's proxy
    that is ``/proxy/PORT``, so two lab services (or two learners' labs on one hub)
    never overwrite each other's cookie."""

    def get_cookie_path(self, app: Flask) -> str:
        return request.script_root or "/"


def harden(app: Flask) -> Flask:
    """JSON errors, a size limit, SameSite session cookies, and the proxy's prefix for
    ``app`` (see helpers.horizon)."""
    # jupyter-server-proxy strips /proxy/PORT and says so in X-Forwarded-Prefix (and a
    # hub in front of it X-Forwarded-Proto): the app then builds links, form actions and
    # cookie paths for the URL the browser used. Only loopback reaches these servers.
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=0, x_proto=1, x_host=0, x_prefix=1)
    app.session_interface = _CookieUnderPrefix()
    app.json = _BoundedJson(app)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.config["MAX_FORM_MEMORY_SIZE"] = MAX_REQUEST_BYTES
    # Lax: the cookie still rides along on the top-level redirects of the OAuth flow, but
    # not on a cross-site POST (RFC 6265bis); said explicitly rather than left to browsers.
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _crash)
    return app


def _http_error(exc: HTTPException) -> tuple[Response, int]:
    error = "server_error" if (exc.code or 500) >= 500 else "invalid_request"
    return jsonify(error=error, error_description=exc.description), exc.code or 500


def _crash(exc: Exception) -> tuple[Response, int]:
    _log.exception("unhandled error")  # a bug of ours: the trace goes to the log
    return jsonify(error="server_error", error_description="The lab service failed."), 500


def page_headers(response: Response) -> Response:
    """A page with a form on it (login, consent): never framed, never cached.

    Framing would let another site overlay our Allow button with its own (clickjacking,
    RFC 6749 §10.13, RFC 9700 §4.16); caching would keep a page with a CSRF token, or a
    user's name, in a shared cache.
    """
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response
