"""Signing keys: a key set in a directory, its JWKS, rotation and retirement.

Layout of ``KEYS_DIR``: one ``<kid>.pem`` private key per key (PKCS#8) and a
``current`` file naming the kid that signs new tokens. Every key in the
directory verifies; ``flask keys retire KID`` deletes one. The kid is the
RFC 7638 thumbprint of the public key. Workers re-read the directory when it
changes (checked at most every ``RELOAD_SECONDS``) or when a token names a kid
they do not know yet (at most once per ``FORCED_RELOAD_SECONDS``), so a rotation
needs no restart.
"""

import base64
import hashlib
import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict, cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from ..core.files import write_atomic, write_once

# The key types this module makes (EdDSA: Ed25519, ES256: P-256).
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


class JwkSet(TypedDict):
    """A JSON Web Key Set (RFC 7517 §5)."""

    keys: list[dict[str, str]]


RELOAD_SECONDS = 2.0
# An unknown kid forces a re-read at most this often per worker: anyone can send
# tokens naming random kids, and each forced re-read parses every key file.
FORCED_RELOAD_SECONDS = 5.0
CURRENT = "current"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def generate(algorithm: str) -> PrivateKey:
    """A new private key object for ``algorithm`` (EdDSA or ES256)."""
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"no key type for {algorithm}")


def public_jwk(public_key: PublicKey) -> dict[str, str]:
    """The public key as a JWK dict with only its required members."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"crv": "Ed25519", "kty": "OKP", "x": _b64(raw)}
    numbers = public_key.public_numbers()
    return {
        "crv": "P-256",
        "kty": "EC",
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
    }


def thumbprint(jwk: Mapping[str, str]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url)."""
    canonical = json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()
    return _b64(hashlib.sha256(canonical).digest())


def algorithm_of(private_key: PrivateKey) -> str:
    """The one JWS algorithm a key may be used with (pinned per key)."""
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    return "ES256"


def _pem(private_key: PrivateKey) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class Key:
    """One signing key with its public half and kid (an HMAC secret is both halves)."""

    kid: str
    algorithm: str
    private: PrivateKey | bytes = field(repr=False)
    public: PublicKey | bytes = field(repr=False)

    @classmethod
    def from_private(cls, private_key: PrivateKey) -> "Key":
        public = private_key.public_key()
        return cls(thumbprint(public_jwk(public)), algorithm_of(private_key), private_key, public)

    def jwk(self) -> dict[str, str]:
        # only a KeyRing's keys are published, never a SecretRing's shared secret
        public = cast(PublicKey, self.public)
        return {**public_jwk(public), "kid": self.kid, "alg": self.algorithm, "use": "sig"}


class KeyDirectory:
    """The on-disk key set, as the operator commands and the app see it."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def ensure(self, algorithm: str) -> None:
        """Make a first key if there is none (safe when workers race)."""
        if (self.path / CURRENT).exists():
            return
        private = generate(algorithm)
        key = Key.from_private(private)
        write_once(self.path / f"{key.kid}.pem", _pem(private))
        winner = write_once(self.path / CURRENT, key.kid.encode()).decode()
        if winner != key.kid:
            (self.path / f"{key.kid}.pem").unlink(missing_ok=True)

    def rotate(self, algorithm: str) -> str:
        """Add a new key and make it current; older keys keep verifying."""
        private = generate(algorithm)
        key = Key.from_private(private)
        write_once(self.path / f"{key.kid}.pem", _pem(private))
        write_atomic(self.path / CURRENT, key.kid.encode())
        return key.kid

    def retire(self, kid: str) -> None:
        """Delete a non-current key: tokens it signed stop verifying."""
        if kid == self.current_kid():
            raise ValueError("cannot retire the current signing key; rotate first")
        path = self.path / f"{kid}.pem"
        if "/" in kid or not path.exists():
            raise KeyError(kid)
        path.unlink()

    def current_kid(self) -> str:
        return (self.path / CURRENT).read_text().strip()

    def load(self) -> tuple[dict[str, Key], str]:
        """All keys in the directory and the current kid."""
        keys: dict[str, Key] = {}
        for pem in sorted(self.path.glob("*.pem")):
            try:
                data = pem.read_bytes()
            except FileNotFoundError:  # a racing worker's discarded candidate
                continue
            # the directory holds the keys generate() made (rotate, ensure)
            private = cast(PrivateKey, serialization.load_pem_private_key(data, password=None))
            key = Key.from_private(private)
            keys[key.kid] = key
        current = self.current_kid()
        if current not in keys:
            raise LookupError(f"the current key {current} is missing from {self.path}")
        return keys, current

    def stamp(self) -> tuple[int, int] | None:
        """A cheap fingerprint that changes when keys are added or removed."""
        try:
            return (os.stat(self.path).st_mtime_ns, os.stat(self.path / CURRENT).st_mtime_ns)
        except FileNotFoundError:
            return None


class KeyRing:
    """The keys a worker signs and verifies with, kept in step with the disk."""

    def __init__(self, directory: "KeyDirectory", algorithm: str) -> None:
        self.directory = directory
        self.algorithm = algorithm
        self._lock = threading.Lock()
        self._checked = 0.0
        self._loaded = 0.0
        self._stamp: tuple[int, int] | None = None
        self.keys: dict[str, Key] = {}
        self.current: Key | None = None
        self.directory.ensure(algorithm)
        self.reload()

    def reload(self) -> None:
        with self._lock:
            keys, current = self.directory.load()
            self._stamp = self.directory.stamp()
            self._checked = self._loaded = time.monotonic()
            self.keys = keys
            self.current = keys[current]

    def refresh(self, force: bool = False) -> None:
        """Re-read the directory if it changed since the last look."""
        now = time.monotonic()
        if not force and now - self._checked < RELOAD_SECONDS:
            return
        self._checked = now
        if force or self.directory.stamp() != self._stamp:
            self.reload()

    def signing_key(self) -> Key:
        self.refresh()
        assert self.current is not None  # reload() in __init__ set it
        return self.current

    def verification_key(self, kid: str) -> "Key | None":
        """The key for ``kid``, or None.

        An unknown kid of a thumbprint's length forces a re-read (a key rotated in
        on another host), unless the directory was read less than
        ``FORCED_RELOAD_SECONDS`` ago: unauthenticated requests cannot make a
        worker parse its key files over and over.
        """
        self.refresh()
        key = self.keys.get(kid)
        if key is None and isinstance(kid, str) and len(kid) == 43 and self._claim_forced_reload():
            self.refresh(force=True)
            key = self.keys.get(kid)
        return key

    def _claim_forced_reload(self) -> bool:
        with self._lock:
            now = time.monotonic()
            if now - self._loaded < FORCED_RELOAD_SECONDS:
                return False
            self._loaded = now
            return True

    def jwks(self) -> JwkSet:
        self.refresh()
        return {"keys": [key.jwk() for key in self.keys.values()]}
