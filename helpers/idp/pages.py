"""The IdP's HTML pages: login, consent and errors. Plain forms, so that both a real
browser and the scripted browser of the lab can fill them in."""

from __future__ import annotations

from flask import render_template_string

from .realm import Realm

_LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }} · {{ realm }}</title>
<style>
 body { font-family: system-ui, sans-serif; max-width: 30rem; margin: 3rem auto; }
 .card { border: 1px solid #ccd; border-radius: 8px; padding: 1.5rem; }
 .error { color: #a00; } code { background: #f3f3f7; }
 button { padding: .4rem 1.2rem; margin-right: .5rem; }
</style></head>
<body><div class="card"><h1>{{ title }}</h1>{{ body | safe }}</div></body></html>"""

_LOGIN = """
{% if error %}<p class="error" id="error">{{ error }}</p>{% endif %}
<form method="post" action="{{ action }}">
  <input type="hidden" name="next" value="{{ next }}">
  <p><label>Username <input name="username" autocomplete="username" autofocus></label></p>
  <p><label>Password <input name="password" type="password"
     autocomplete="current-password"></label></p>
  <p><button type="submit">Sign in</button></p>
</form>
<p><small>{{ accounts }}: {% for name in usernames %}<code>{{ name }}</code>{{
  " and " if not loop.last }}{% endfor %} (passwords in
<code>{{ passwords_in }}</code>).</small></p>"""

_CONSENT = """
<p><strong>{{ client_name }}</strong> wants to act for <strong>{{ user }}</strong> with:</p>
{% if self_registered %}<p class="error" id="unverified">This application registered itself:
its name is its own claim, not checked by anyone.</p>{% endif %}
<ul>{% for s in scopes %}<li><code>{{ s }}</code></li>{% endfor %}</ul>
<form method="post">
  <input type="hidden" name="csrf" value="{{ csrf }}">
  <button type="submit" name="decision" value="allow">Allow</button>
  <button type="submit" name="decision" value="deny">Deny</button>
</form>"""

_ERROR = """<p class="error" id="error"><code>{{ error }}</code></p><p>{{ description }}</p>
<p>The request was not sent back to the application, because the IdP could not trust
where it came from.</p>"""


class Pages:
    """The pages of one authorization server, titled with its realm's name."""

    def __init__(self, realm: Realm) -> None:
        self.realm = realm

    def _page(self, title: str, template: str, **context: object) -> str:
        body = render_template_string(template, **context)
        return render_template_string(_LAYOUT, title=title, realm=self.realm.name, body=body)

    def login(self, action: str, next_url: str, error: str | None = None) -> str:
        realm = self.realm
        return self._page(
            "Sign in",
            _LOGIN,
            action=action,
            next=next_url,
            error=error,
            accounts=realm.accounts,
            usernames=realm.usernames,
            passwords_in=realm.passwords_in,
        )

    def consent(
        self,
        client_name: str,
        user: str,
        scopes: list[str],
        csrf: str,
        self_registered: bool = False,
    ) -> str:
        return self._page(
            "Authorize access",
            _CONSENT,
            client_name=client_name,
            user=user,
            scopes=scopes,
            csrf=csrf,
            self_registered=self_registered,
        )

    def error(self, error: str, description: str) -> str:
        return self._page("Request refused", _ERROR, error=error, description=description)
