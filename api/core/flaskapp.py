"""The Flask class the app is made from."""

from __future__ import annotations

from collections.abc import Callable
from inspect import CO_COROUTINE
from typing import Any

from flask import Flask


class App(Flask):
    """Flask, without its per-call coroutine check on plain functions.

    Flask passes every view and request hook through :meth:`ensure_sync` on
    every request, and its check (``inspect.iscoroutinefunction``) costs a
    protected request about 5% of its CPU. A plain ``def`` function or method is
    returned as it is; anything else (``async def``, a partial, a callable
    object) still goes through Flask's own check.
    """

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        code = getattr(getattr(func, "__func__", func), "__code__", None)
        if (
            code is not None
            and not code.co_flags & CO_COROUTINE
            and not hasattr(func, "_is_coroutine_marker")  # inspect.markcoroutinefunction
        ):
            return func
        return super().ensure_sync(func)
