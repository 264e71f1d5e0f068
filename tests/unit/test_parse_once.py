"""ParseOnce: the alert thread gets the webhook's parse of a body instead of parsing it again."""

from __future__ import annotations

from algodesk.adapters.signals.tradingview import TradingViewParser
from algodesk.domain.signals import ParsedAlert
from algodesk.services.alerts import ParseOnce

BODY = b'{"action": "buy", "symbol": "AAPL", "qty": "1", "passphrase": "s3cret-word"}'


def _body(n: int) -> bytes:
    return BODY.replace(b'"1"', f'"{n}"'.encode())


def test_a_kept_parse_is_handed_once_to_the_next_parse_of_that_body() -> None:
    parser = ParseOnce(TradingViewParser())
    webhook = parser.parse(BODY)
    assert parser.waiting == 0  # parsing keeps nothing
    parser.keep(BODY, "secret", webhook)
    assert parser.waiting == 1
    processor = parser.parse(BODY)
    assert processor is webhook  # handed over, not parsed again
    assert parser.waiting == 0
    again = parser.parse(BODY)  # handed once: a third parse parses
    assert again is not webhook
    assert again == webhook == TradingViewParser().parse(BODY)


def test_the_secret_field_is_part_of_the_key() -> None:
    parser = ParseOnce(TradingViewParser())
    parser.keep(BODY, "secret", parser.parse(BODY))
    with_field = parser.parse(BODY, secret_field="passphrase")
    assert isinstance(with_field, ParsedAlert)
    assert with_field.secret == "s3cret-word"  # parsed for its own field, not the kept one
    assert parser.waiting == 1


def test_at_most_keep_results_wait_and_the_oldest_is_dropped() -> None:
    parser = ParseOnce(TradingViewParser(), keep=2)
    first = [parser.parse(_body(n)) for n in range(1, 4)]
    for n, result in enumerate(first, start=1):
        parser.keep(_body(n), "secret", result)
    assert parser.waiting == 2
    assert parser.parse(_body(1)) is not first[0]  # dropped when the third came
    assert parser.parse(_body(3)) is first[2]


def test_the_bodies_of_kept_parses_stay_under_keep_bytes() -> None:
    parser = ParseOnce(TradingViewParser(), keep_bytes=2 * len(_body(1)))
    for n in range(1, 4):
        parser.keep(_body(n), "secret", parser.parse(_body(n)))
    assert parser.waiting == 2
    parser.keep(b"x" * (3 * len(_body(1))), "secret", parser.parse(_body(1)))  # too large
    assert parser.waiting == 2


def test_redact_is_the_parsers() -> None:
    parser = ParseOnce(TradingViewParser())
    assert parser.redact(BODY, secret_field="passphrase") == TradingViewParser().redact(
        BODY, secret_field="passphrase"
    )


def test_a_body_handed_over_or_kept_again_frees_its_bytes() -> None:
    """The byte budget follows what waits: after many bodies handed over (or kept twice), a
    full budget's worth can still wait (a counter that only grew would keep nothing)."""
    size = len(_body(1))
    parser = ParseOnce(TradingViewParser(), keep_bytes=2 * size)
    for n in range(1, 50):
        result = parser.parse(_body(n))
        parser.keep(_body(n), "secret", result)
        parser.keep(_body(n), "secret", result)  # the same body kept again (a resend)
        assert parser.parse(_body(n)) is result  # handed over
    assert parser.waiting == 0
    kept = [parser.parse(_body(n)) for n in (1, 2)]
    for n, result in zip((1, 2), kept, strict=True):
        parser.keep(_body(n), "secret", result)
    assert parser.waiting == 2
    assert parser.parse(_body(1)) is kept[0]
    assert parser.parse(_body(2)) is kept[1]
