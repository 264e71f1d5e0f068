"""Encryption of secrets at rest: the :class:`~algodesk.ports.secrets.Cipher` port on Fernet,
with its key from ``ALGODESK_SECRET_KEY`` or a ``secret.key`` file in the data directory."""
