"""ParseOnce: the alert thread gets the webhook's parse of a body instead of parsing it again."""

from __future__ import annotations

from algodesk.adapters.signals.tradingview import TradingViewParser
from algodesk.domain.signals import ParsedAlert
from algodesk.services.alerts import ParseOnce

BODY = b'{"action": "buy", "symbol": "AAPL", "qty": "1", "passphrase": "s3cret-word"}'


def test_a_body_parsed_by_the_webhook_is_handed_once_to_the_next_parse() -> None:
    parser = ParseOnce(TradingViewParser())
    webhook = parser.parse(BODY)
    processor = parser.parse(BODY)
    assert processor is webhook  # handed over, not parsed again
    assert isinstance(processor, ParsedAlert)
    again = parser.parse(BODY)  # handed once: a third parse parses
    assert again is not webhook
    assert again == webhook == TradingViewParser().parse(BODY)


def test_the_secret_field_is_part_of_the_key() -> None:
    parser = ParseOnce(TradingViewParser())
    plain = parser.parse(BODY)
    with_field = parser.parse(BODY, secret_field="passphrase")
    assert isinstance(with_field, ParsedAlert)
    assert isinstance(plain, ParsedAlert)
    assert with_field.secret == "s3cret-word"
    assert plain.secret is None


def test_at_most_keep_results_wait_and_the_oldest_is_dropped() -> None:
    parser = ParseOnce(TradingViewParser(), keep=2)
    bodies = [BODY.replace(b'"1"', f'"{n}"'.encode()) for n in range(1, 4)]
    first = [parser.parse(b) for b in bodies]
    assert parser.parse(bodies[0]) is not first[0]  # dropped when the third came
    assert parser.parse(bodies[2]) is first[2]


def test_redact_is_the_parsers() -> None:
    parser = ParseOnce(TradingViewParser())
    assert parser.redact(BODY, secret_field="passphrase") == TradingViewParser().redact(
        BODY, secret_field="passphrase"
    )
