"""The Fernet cipher and its key: from ALGODESK_SECRET_KEY, else a 0600 ``secret.key`` made once
in the data directory and reused. A bad key is refused without being echoed."""

from __future__ import annotations

import logging
import stat
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from algodesk.adapters.crypto.fernet import KEY_FILE, FernetCipher, load_or_create_key
from algodesk.ports.secrets import CipherError

BAD_KEY = "not-a-key-but-a-SECRET-value-1234567890"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_text_round_trips_and_is_not_readable_in_the_ciphertext() -> None:
    cipher = FernetCipher(Fernet.generate_key())
    for text in ("tok_abc123", "", "पासवर्ड ✓ 🔑"):
        sealed = cipher.encrypt(text)
        assert sealed.isascii()
        assert text not in sealed or text == ""
        assert cipher.decrypt(sealed) == text
    assert cipher.encrypt("same") != cipher.encrypt("same")  # a fresh IV each time


def test_another_key_or_an_altered_ciphertext_raises_cipher_error() -> None:
    sealed = FernetCipher(Fernet.generate_key()).encrypt("tok_abc123")
    other = FernetCipher(Fernet.generate_key())
    with pytest.raises(CipherError, match="cannot open"):
        other.decrypt(sealed)
    mine = FernetCipher(Fernet.generate_key())
    sealed = mine.encrypt("tok_abc123")
    altered = sealed[:20] + ("A" if sealed[20] != "A" else "B") + sealed[21:]
    for bad in (altered, "garbage", "", "ünïcode"):
        with pytest.raises(CipherError):
            mine.decrypt(bad)


def test_a_bad_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="expected a Fernet key") as error:
        FernetCipher(BAD_KEY.encode())
    assert BAD_KEY not in str(error.value)
    assert "hidden" in repr(FernetCipher(Fernet.generate_key()))


def test_the_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"  # made if missing
    key = load_or_create_key(data_dir, None)
    path = data_dir / KEY_FILE
    assert path.read_bytes().strip() == key
    assert _mode(path) == 0o600
    Fernet(key)  # a valid key
    assert load_or_create_key(data_dir, None) == key  # reused, not replaced
    assert load_or_create_key(data_dir, "") == key  # a blank variable is unset
    assert sorted(p.name for p in data_dir.iterdir()) == [KEY_FILE]  # no temp file left


def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    barrier = threading.Barrier(8)
    keys: list[bytes] = []
    guard = threading.Lock()

    def start() -> None:
        barrier.wait()
        key = load_or_create_key(tmp_path, None)
        with guard:
            keys.append(key)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8
    assert len(set(keys)) == 1
    assert (tmp_path / KEY_FILE).read_bytes().strip() == keys[0]


def test_a_key_file_with_loose_permissions_is_still_read(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = Fernet.generate_key()
    path = tmp_path / KEY_FILE
    path.write_bytes(key + b"\n")
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        assert load_or_create_key(tmp_path, None) == key
    assert "expected mode 0600" in caplog.text
    assert key.decode() not in caplog.text


def test_the_environment_key_wins_and_no_file_is_made(tmp_path: Path) -> None:
    key = Fernet.generate_key()
    assert load_or_create_key(tmp_path, f"  {key.decode()}\n") == key
    assert not (tmp_path / KEY_FILE).exists()


def test_a_bad_environment_key_is_refused_without_echoing_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ALGODESK_SECRET_KEY: expected a Fernet key") as error:
        load_or_create_key(tmp_path, BAD_KEY)
    assert BAD_KEY not in str(error.value)
    assert error.value.__cause__ is None
    assert error.value.__suppress_context__
    assert not (tmp_path / KEY_FILE).exists()


def test_a_corrupt_key_file_is_refused_naming_the_file_not_its_content(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_text(BAD_KEY)
    with pytest.raises(ValueError, match=KEY_FILE) as error:
        load_or_create_key(tmp_path, None)
    assert BAD_KEY not in str(error.value)
