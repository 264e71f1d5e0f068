"""Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) behind the ``Cipher`` port, and the
key it uses: ``ALGODESK_SECRET_KEY`` when set, else ``<data_dir>/secret.key``, made on first use.

The key is never logged and never appears in an error message.
"""

from __future__ import annotations

import binascii
import logging
import os
import stat
import tempfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from algodesk.ports.secrets import CipherError

__all__ = ["KEY_FILE", "FernetCipher", "load_or_create_key"]

KEY_FILE = "secret.key"
_EXPECTED = "a Fernet key (32 bytes, url-safe base64: 44 characters ending in '=')"
_log = logging.getLogger(__name__)


def _fernet(key: bytes, origin: str) -> Fernet:
    """A Fernet for ``key``, or a ValueError naming ``origin`` (never the key itself)."""
    try:
        return Fernet(key)
    except (ValueError, TypeError, binascii.Error):
        raise ValueError(
            f"{origin}: expected {_EXPECTED}, found {len(key)} characters that are not one"
        ) from None


class FernetCipher:
    """Encrypts text to Fernet tokens (ASCII) and back."""

    def __init__(self, key: bytes) -> None:
        self._fernet = _fernet(key, "secret key")

    def __repr__(self) -> str:
        return "FernetCipher(<key hidden>)"

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except (InvalidToken, UnicodeError, ValueError):
            raise CipherError(
                "expected a ciphertext made with this secret key, found one that this key "
                "cannot open (another key, or altered)"
            ) from None


def load_or_create_key(data_dir: Path, env_value: str | None) -> bytes:
    """The secret key: ``env_value`` (from ``ALGODESK_SECRET_KEY``) when it is set and not blank,
    else the key in ``data_dir/secret.key``, created with a new key and mode 0600 when missing.

    A bad key raises :class:`ValueError` saying where it came from, without echoing it. A key
    file with looser permissions is still read (a warning names the file and its mode).
    """
    if env_value is not None and env_value.strip():
        key = env_value.strip().encode()
        _fernet(key, "ALGODESK_SECRET_KEY")
        return key
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        _create(path)  # loses quietly to a concurrent creator: both then read the same file
    return _read(path)


def _create(path: Path) -> None:
    """Publish a new key at ``path`` atomically: written whole to a private temp file (0600,
    O_EXCL), then hard-linked into place, which fails if the file exists already."""
    content = Fernet.generate_key() + b"\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{KEY_FILE}.", dir=path.parent)
    try:
        _write_all(fd, content)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return
        except OSError:  # a filesystem without hard links: create in place, still O_EXCL
            _create_in_place(path, content)
    finally:
        os.unlink(tmp)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _write_all(fd: int, content: bytes) -> None:
    try:
        view = memoryview(content)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_in_place(path: Path, content: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    _write_all(fd, content)


def _read(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        _log.warning(
            "%s: expected mode 0600, found %s; the key is readable by others (chmod 600 it)",
            path,
            oct(mode),
        )
    key = path.read_bytes().strip()
    _fernet(key, str(path))
    return key
