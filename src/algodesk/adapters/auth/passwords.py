"""Password hashes with argon2id (argon2-cffi), behind the ``PasswordHasher`` port."""

from __future__ import annotations

import argon2
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["Argon2PasswordHasher"]


class Argon2PasswordHasher:
    """argon2id with argon2-cffi's defaults (RFC 9106, low-memory profile) unless told
    otherwise. Tests pass a low ``time_cost``/``memory_cost`` to stay fast; production should
    not."""

    def __init__(
        self,
        *,
        time_cost: int | None = None,
        memory_cost: int | None = None,
        parallelism: int | None = None,
    ) -> None:
        defaults = argon2.PasswordHasher()
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost if time_cost is not None else defaults.time_cost,
            memory_cost=memory_cost if memory_cost is not None else defaults.memory_cost,
            parallelism=parallelism if parallelism is not None else defaults.parallelism,
        )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):  # a mismatch, or not an argon2 hash
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True
