"""argon2id password hashing with OWASP parameters, rehash on login, no enumeration."""

from collections.abc import Mapping
from functools import cached_property
from typing import Any

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
DEFAULTS = {"ARGON2_TIME_COST": 2, "ARGON2_MEMORY_COST": 19 * 1024, "ARGON2_PARALLELISM": 1}


class Passwords:
    """Hash and verify passwords; equal work for unknown users and wrong passwords."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.hasher = PasswordHasher(
            time_cost=config.get("ARGON2_TIME_COST", DEFAULTS["ARGON2_TIME_COST"]),
            memory_cost=config.get("ARGON2_MEMORY_COST", DEFAULTS["ARGON2_MEMORY_COST"]),
            parallelism=config.get("ARGON2_PARALLELISM", DEFAULTS["ARGON2_PARALLELISM"]),
            type=Type.ID,
        )

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; with ``password_hash=None`` burn the same time."""
        try:
            matched = self.hasher.verify(password_hash or self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        return matched and password_hash is not None

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)

    @cached_property
    def _dummy_hash(self) -> str:
        return self.hasher.hash("dummy password for unknown users")
