"""Encryption of secrets at rest (webhook tokens and secrets, broker keys)."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Cipher", "CipherError"]


class CipherError(Exception):
    """A ciphertext that this key cannot open (another key, or tampered)."""


class Cipher(Protocol):
    def encrypt(self, plaintext: str) -> str: ...

    def decrypt(self, ciphertext: str) -> str:
        """Raises :class:`CipherError` if the ciphertext was not made with this key."""
        ...
