"""Field validators whose bounds come from the app's configuration."""

import re
from typing import Any

from flask import current_app, has_app_context
from marshmallow import fields, validate

from .config import DEFAULTS

_SURROGATE = re.compile("[\ud800-\udfff]")


class ConfiguredLength(validate.Length):
    """``Length`` reading ``<PREFIX>_MIN_LENGTH``/``_MAX_LENGTH`` at validation time.

    Outside an app context (e.g. while the spec is built at import) the
    defaults apply, so the documented bounds are the default policy.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        super().__init__(min=self.min, max=self.max)

    def _setting(self, suffix: str) -> int:
        key = f"{self.prefix}_{suffix}"
        value: int
        if has_app_context():
            value = current_app.config.get(key, DEFAULTS[key])
        else:
            value = DEFAULTS[key]
        return value

    @property
    def min(self) -> int:
        return self._setting("MIN_LENGTH")

    @min.setter
    def min(self, value: int | None) -> None:
        pass

    @property
    def max(self) -> int:
        return self._setting("MAX_LENGTH")

    @max.setter
    def max(self, value: int | None) -> None:
        pass


NO_NUL_PATTERN = "^[^\\u0000]*$"


class Text(fields.String):
    """A string that is Unicode text: no lone surrogates, and no NUL unless allowed.

    JSON bodies are already refused with surrogates (:mod:`api.core.jsonbody`);
    this holds for any other source too. NUL is refused where the value can
    reach the database (PostgreSQL text cannot hold it); a password, which only
    argon2 sees, may hold it (``allow_nul=True``).
    """

    default_error_messages = {
        "surrogate": "Not valid Unicode text.",
        "nul": "Must not contain NUL (U+0000).",
    }

    def __init__(self, *args: Any, allow_nul: bool = False, **kwargs: Any) -> None:
        self.allow_nul = allow_nul
        super().__init__(*args, **kwargs)
        validators = self.validators
        if not allow_nul and not any(isinstance(v, validate.Regexp) for v in validators):
            # the spec says what the field refuses, so contract fuzzing does not send NUL
            # as "valid" data (a pattern from a Regexp validator already excludes it)
            self.metadata = {"pattern": NO_NUL_PATTERN, **self.metadata}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        if _SURROGATE.search(text):
            raise self.make_error("surrogate")
        if not self.allow_nul and "\x00" in text:
            raise self.make_error("nul")
        return text
