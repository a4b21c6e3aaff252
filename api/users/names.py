"""Usernames: one canonical form for lookup, uniqueness and per-user rate limits.

A username is shown as it was registered, but two usernames are the same
account when their canonical forms are equal: Unicode NFKC normalisation
(compatibility forms such as fullwidth letters fold onto ASCII), then
case folding. ``Alice``, ``alice`` and ``alice`` in fullwidth letters are one account; the
database enforces it with a unique index on ``users.username_canonical``.
"""

import re
import unicodedata

from marshmallow import ValidationError, validate

# Registration accepts these characters only; the pattern must match the whole string.
USERNAME_PATTERN = r"^[A-Za-z0-9_.-]+$"  # ECMA-262 in the spec: $ is the very end there
_USERNAME = re.compile(r"[A-Za-z0-9_.-]+")


def canonical(username: str) -> str:
    """The form two usernames are compared in: NFKC, then case folded."""
    return unicodedata.normalize("NFKC", username).casefold()


class WholeUsername(validate.Regexp):
    """``Regexp`` that matches the whole string (Python's ``$`` also matches before a
    final newline, so ``"alice\\n"`` passed ``^...$``). The spec shows the pattern."""

    def __init__(self) -> None:
        super().__init__(USERNAME_PATTERN)

    def __call__(self, value: str) -> str:  # type: ignore[override]
        if _USERNAME.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value
