"""The lab's OAuth 2.0 / OpenID Connect identity provider (authlib server framework)."""
