"""Schemathesis CLI hooks (``SCHEMATHESIS_HOOKS=st_hooks``, ``tests`` on ``PYTHONPATH``).

Registers the :mod:`st_auth` provider for every operation, so the CLI fuzzes
protected operations with real tokens obtained through the API under test,
the :mod:`st_crafted` bodies (deep nesting, lone surrogates, duplicate names,
huge numbers, non-UTF-8 bytes) in negative cases, and valid TOTP codes in the
MFA operations reached by links (login → enrollTotp → confirmTotp, login →
verifyMfa; see :class:`st_auth.SecondFactors`).
"""

import schemathesis
import st_auth
import st_crafted

st_auth.register_on(schemathesis)(st_auth.provider(st_auth.http_sessions))
schemathesis.hook(st_crafted.map_case)

FACTORS = st_auth.SecondFactors()


def _operation_id(context):
    return context.operation.definition.raw.get("operationId")


@schemathesis.hook
def before_call(context, case, kwargs):
    FACTORS.before_call(_operation_id(context), case)


@schemathesis.hook
def after_call(context, case, response):
    try:
        body = response.json()
    except ValueError:
        body = None
    FACTORS.after_call(_operation_id(context), case, response.status_code, body)
