"""The MFA key: encrypts TOTP secrets at rest and keys the recovery-code hashes.

The key never lives in the database, so a dump of it alone reveals neither a
TOTP secret nor a recovery code. It comes from ``FLASK_MFA_ENCRYPTION_KEY``
(required in production) or, in development, from ``instance/mfa_key``
(made once, mode 0600). Two subkeys are derived from it with HKDF-SHA256:

- AES-256-GCM for secrets, with the user id as associated data, so a
  ciphertext copied onto another user's row does not decrypt;
- HMAC-SHA256 for recovery codes. A keyed hash, not argon2: the codes are
  random (50 bits), so slow hashing adds nothing against guessing, while a
  keyed hash lets a code be found by one indexed look-up instead of ten
  argon2 verifications per attempt, and without the key a stolen hash cannot
  even be tested offline.
"""

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app

from ..core.config import MIN_SECRET_BYTES, ConfigError, is_production
from ..core.files import write_once

VERSION = "v1"
_SECRET_INFO = b"jwt-auth-api mfa totp-secret v1"
_CODE_INFO = b"jwt-auth-api mfa recovery-code v1"


class SecretUnreadable(Exception):
    """A stored secret does not decrypt with this key (wrong key, or tampered)."""


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


class MfaKeys:
    """Encryption of TOTP secrets and keyed hashing of recovery codes."""

    def __init__(self, master: bytes) -> None:
        if len(master) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"FLASK_MFA_ENCRYPTION_KEY must be at least {MIN_SECRET_BYTES} bytes."
            )
        self._aead = AESGCM(_derive(master, _SECRET_INFO))
        self._mac = _derive(master, _CODE_INFO)

    def seal(self, secret: str, user_id: int) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), _aad(user_id))
        return f"{VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, stored: str, user_id: int) -> str:
        version, _, data = stored.partition(".")
        if version != VERSION:
            raise SecretUnreadable("unknown format")
        raw = base64.urlsafe_b64decode(data)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], _aad(user_id)).decode()
        except InvalidTag:
            raise SecretUnreadable("the MFA key does not open this secret") from None

    def code_digest(self, user_id: int, code: str) -> str:
        message = f"{user_id}:{code}".encode()
        return hmac.new(self._mac, message, hashlib.sha256).hexdigest()


def _aad(user_id: int) -> bytes:
    return f"mfa-totp:{user_id}".encode()


def init_app(app: Flask) -> None:
    """Load the key (or make the development one) into ``app.extensions``."""
    configured: Any = app.config.get("MFA_ENCRYPTION_KEY")
    if configured:
        master = str(configured).encode()
    elif is_production(app.config):
        raise ConfigError(
            "FLASK_MFA_ENCRYPTION_KEY must be set in production to a random value of at least "
            f"{MIN_SECRET_BYTES} bytes (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(48))'`); it encrypts the TOTP secrets and must "
            "stay the same on every host."
        )
    else:
        path = Path(app.instance_path) / "mfa_key"
        master = write_once(path, secrets.token_urlsafe(48).encode()).strip()
    app.extensions["mfa_keys"] = MfaKeys(master)


def keys() -> MfaKeys:
    keys: MfaKeys = current_app.extensions["mfa_keys"]
    return keys
