"""AWS errors as the rest-json protocol carries them: a code, a message, modeled fields."""

from __future__ import annotations


class AwsError(Exception):
    """An error answer. ``code`` names the error shape; ``status`` defaults to the model's;
    ``headers`` go with it (an OAuth challenge, say)."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **fields: object,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status, self.fields = code, message, status, fields
        self.headers = headers or {}


def validation_error(
    message: str, fields: list[tuple[str, str]] | None = None, reason: str = "FieldValidationFailed"
) -> AwsError:
    """A ValidationException with the modeled ``reason`` and ``fieldList``."""
    field_list = [{"name": name, "message": text} for name, text in fields or []]
    return AwsError(
        "ValidationException",
        message,
        reason=reason,
        **({"fieldList": field_list} if field_list else {}),
    )
