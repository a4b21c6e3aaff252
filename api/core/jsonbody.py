"""Strict JSON for request bodies: one parser for every operation.

Bodies are parsed by :func:`loads`, through webargs (``@blp.arguments``) and
through Flask's ``request.get_json`` alike, and anything that is not plain
I-JSON (RFC 7493) is a 400 before any code sees it:

- nesting deeper than ``MAX_DEPTH`` (Python's parser would recurse until a
  ``RecursionError``);
- strings or names holding lone surrogates (``"\\ud800"``): they are not
  Unicode text, cannot be encoded to UTF-8 for argon2 or a database, and
  RFC 7493 forbids them;
- duplicate names in an object (RFC 7493 §2.3: which one wins is undefined);
- numbers beyond ``MAX_NUMBER_CHARS`` characters and ``NaN`` / ``Infinity`` /
  overflowing floats (``1e999``), which are not JSON or not finite;
- bytes that are not UTF-8.
"""

import json
import re
from typing import Any, NoReturn

from flask.json.provider import DefaultJSONProvider
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

MAX_DEPTH = 32
MAX_NUMBER_CHARS = 64
_SURROGATE = re.compile("[\ud800-\udfff]")
# strings (skipped whole) and the brackets that open or close a level
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class InvalidJSON(json.JSONDecodeError):
    """A body that is not strict JSON; webargs and Flask answer it with 400."""


def _fail(reason: str, doc: str = "?", pos: int = 0) -> NoReturn:
    raise InvalidJSON(reason, doc, pos)


def check_depth(data: bytes) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH`` before the recursive parser runs."""
    depth = 0
    for match in _TOKENS.finditer(data):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                _fail(f"JSON nested deeper than {MAX_DEPTH} levels", pos=match.start())
        elif token in (b"]", b"}"):
            depth -= 1


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            _fail(f"duplicate name {name!r} in a JSON object")
        _check_text(name)
        result[name] = value
    return result


def _check_text(text: str) -> None:
    if _SURROGATE.search(text):
        _fail("JSON string holds a lone surrogate (not Unicode text)")


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        _fail(f"JSON number longer than {MAX_NUMBER_CHARS} characters")
    return int(text)


def _float(text: str) -> float:
    value = float(text) if len(text) <= MAX_NUMBER_CHARS else float("inf")
    if value in (float("inf"), float("-inf")):
        _fail("JSON number out of range")
    return value


def _constant(name: str) -> NoReturn:
    _fail(f"{name} is not JSON")


def _strings(value: Any) -> None:
    """Check every string value (names were checked as the objects were built)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def loads(data: str | bytes | bytearray) -> Any:
    """Parse a request body as strict JSON; :class:`InvalidJSON` if it is not."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        _fail(f"body is not UTF-8: {error.reason}", pos=error.start)
    check_depth(raw)
    try:
        value = json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=_int,
            parse_float=_float,
            parse_constant=_constant,
        )
    except InvalidJSON:
        raise
    except json.JSONDecodeError as error:
        _fail(error.msg, error.doc or "?", error.pos)
    except (ValueError, RecursionError) as error:  # belt and braces: never a 500
        _fail(f"invalid JSON: {type(error).__name__}")
    _strings(value)
    return value


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, parsing with :func:`loads` (``request.get_json``, key functions)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s)


class StrictParser(FlaskParser):
    """webargs' Flask parser reading JSON bodies with :func:`loads`."""

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req):
            return core.missing
        data = req.get_data(cache=True)
        if not data:
            _fail("empty body", doc="")  # webargs: an empty document is a missing body
        return loads(data)

    def _handle_invalid_json_error(
        self, error: Exception, req: Any, *args: Any, **kwargs: Any
    ) -> NoReturn:
        reason = error.msg if isinstance(error, json.JSONDecodeError) else "not UTF-8"
        abort(400, exc=error, messages={"json": [f"Invalid JSON body: {reason}."]})
        raise AssertionError("unreachable")  # abort raises
