"""The alert parser port: raw bytes in, intents or a rejection out. Pure: no I/O, no clock."""

from __future__ import annotations

from typing import Protocol

from algodesk.domain.signals import AlertRejection, ParsedAlert

__all__ = ["DEFAULT_SECRET_FIELD", "AlertParser"]

#: The body field that carries a webhook's secret unless the hook names another.
DEFAULT_SECRET_FIELD = "secret"  # noqa: S105 - a field name, not a secret


class AlertParser(Protocol):
    def parse(
        self, body: bytes, *, secret_field: str = DEFAULT_SECRET_FIELD
    ) -> ParsedAlert | AlertRejection:
        """Sniff the body (strict JSON first, then the text dialects) and parse it.

        ``secret_field`` names the body field that carries the webhook secret (compared by the
        caller); it is removed from the instructions. A body the parser cannot read with
        certainty is rejected, never repaired or guessed at.
        """
        ...

    def redact(self, body: bytes, *, secret_field: str = DEFAULT_SECRET_FIELD) -> str:
        """The body as text fit to show or log: the secret field and every field with a
        known secret name (key, passphrase, token, apikey ...) replaced by ``***``."""
        ...
