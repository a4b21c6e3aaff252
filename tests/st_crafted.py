"""Crafted bodies for the contract fuzzing: what schemathesis never generates itself.

Its generators produce Python values that ``json.dumps`` can write, so they
never send nesting thousands of levels deep, lone surrogates, duplicate names,
numbers longer than any parser's limit, ``NaN`` or bytes that are not UTF-8.
The ``map_case`` hook below replaces the body of half of the *negative* cases
of every operation that takes a JSON body with one of those payloads (aimed
at the operation's own fields), chosen from the case itself so seeded runs
stay reproducible. Such a body must be rejected (400/422), which is exactly
what the negative-data check asserts; every other check still runs.

Registered on the pytest schema (tests/test_schemathesis.py) and for the CLI
(tests/st_hooks.py).
"""

import json
import zlib
from collections import Counter
from typing import Any

DEEP = 3000  # levels; each body stays under the 16 KiB request limit
SENT: Counter = Counter()  # operation label -> crafted bodies sent (reported by the tests)


def _fill(fields: list[str], name: str, raw: str) -> bytes:
    body = {field: "@" if field == name else "correct horse battery" for field in fields}
    return json.dumps(body).replace('"@"', raw).encode("utf-8", "surrogatepass")


def _payloads(fields: list[str]) -> list[bytes]:
    first = fields[0]
    quoted = json.dumps(first)
    payloads = [
        b"[" * DEEP + b"]" * DEEP,
        b'{"":' * DEEP + b"1" + b"}" * DEEP,
        ("{" + quoted + ": " + "[" * DEEP + "]" * DEEP + "}").encode(),
        ("{" + quoted + ': "a", ' + quoted + ': "b"}').encode(),  # duplicate names
        ("{" + quoted + ": " + "9" * 5000 + "}").encode(),
        ("{" + quoted + ": 1e999}").encode(),
        ("{" + quoted + ": NaN}").encode(),
        b'{"x": "\xff\xfe"}',  # not UTF-8
    ]
    for name in fields:
        payloads.append(_fill(fields, name, '"\\ud800"'))  # escaped lone surrogate
        payloads.append(_fill(fields, name, '"ab\\udfffcd"'))
        payloads.append(_fill(fields, name, '"\ud800"'))  # raw: invalid UTF-8 bytes
    return payloads


def _fields(operation: Any) -> list[str]:
    """The property names of the operation's JSON body schema."""
    raw = operation.schema.raw_schema
    media = operation.definition.raw.get("requestBody", {}).get("content", {})
    schema = media.get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = raw["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return sorted(schema.get("properties", {})) or ["body"]


def map_case(context: Any, case: Any) -> Any:
    """Swap the body of half the negative JSON-body cases for a crafted one."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_negative:
        return case
    if case.media_type != "application/json" or isinstance(case.body, bytes):
        return case
    if "requestBody" not in case.operation.definition.raw:
        return case
    key = zlib.crc32(repr((case.operation.label, case.body, case.query)).encode())
    if key % 2:
        return case  # keep schemathesis' own negative body
    payloads = _payloads(_fields(case.operation))
    case.body = payloads[(key // 2) % len(payloads)]
    SENT[case.operation.label] += 1
    return case
