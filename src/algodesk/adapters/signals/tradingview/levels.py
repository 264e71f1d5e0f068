"""Stop-loss, take-profit and trailing stop: a :class:`Level` (price, percent or points).

================================================  =====================================
fields                                            value → level
================================================  =====================================
``stop_loss`` ``stoploss`` ``sl`` ``sl_price``    ``95.5`` → PRICE; ``"2%"`` → PERCENT
``stopLoss.stopPrice`` (TradersPost)
``stop_price`` on a MARKET or LIMIT order
``stop_loss_percent`` ``sl_percent`` ``slp``      ``2`` or ``"2%"`` → PERCENT
``stopLoss.percent``
``sl_points`` ``stop_loss_points``                ``50`` → POINTS
``stopLoss.amount``
``take_profit`` ``tp`` ``tp_price``               ``110`` → PRICE; ``"4%"`` → PERCENT
``takeProfit.limitPrice``
``take_profit_percent`` ``tp_percent`` ``tpp``    ``4`` or ``"4%"`` → PERCENT
``takeProfit.percent``
``tp_points`` ``takeProfit.amount``               ``100`` → POINTS
``trailing`` ``trailing_stop`` ``trail``          ``"1.5%"`` → PERCENT; a bare number is
                                                  UNKNOWN_UNITS (percent or points?)
``trailing_percent`` ``trail_percent``            ``1.5`` → PERCENT
``stopLoss.trailPercent``
``trailing_points`` ``trail_points``              ``20`` → POINTS
``stopLoss.trailAmount``
================================================  =====================================

Refused: pips (``sl_pips``, ``tp_pips``...) and offsets (``sl-offset``) as UNKNOWN_UNITS (their
size depends on the instrument); a ``%`` on a points field as UNKNOWN_UNITS; zero, negative,
``na`` or empty as BAD_VALUE (leave the field out for none); two fields giving different
values as AMBIGUOUS; numbered take-profits (``tp1``, ``tp2``, ``TAKE_PROFIT_PRICE_1``) as
AMBIGUOUS: one take-profit only. ``stopLoss.type`` may be ``stop`` or ``trailing_stop``.
"""

from __future__ import annotations

from algodesk.adapters.signals.tradingview.errors import Reject, show, show_value
from algodesk.adapters.signals.tradingview.fields import Field, Fields, agree
from algodesk.adapters.signals.tradingview.numbers import is_sentinel, parse_amount
from algodesk.adapters.signals.tradingview.vocabulary import (
    NUMBERED_TP,
    SL_PERCENT_KEYS,
    SL_POINTS_KEYS,
    SL_PRICE_KEYS,
    SL_TYPE_KEYS,
    SL_UNSUPPORTED_KEYS,
    STOP_PRICE_KEY,
    TP_PERCENT_KEYS,
    TP_POINTS_KEYS,
    TP_PRICE_KEYS,
    TP_UNSUPPORTED_KEYS,
    TRAILING_KEYS,
    TRAILING_PERCENT_KEYS,
    TRAILING_POINTS_KEYS,
    TRAILING_UNSUPPORTED_KEYS,
    normalise_word,
)
from algodesk.domain.signals import AlertReason, Level, LevelUnit

__all__ = ["Exits", "read_exits"]

Exits = tuple[Level | None, Level | None, Level | None]
_EXPECTED = {
    LevelUnit.PRICE: 'a price like "95.5" or a percent like "2%"',
    LevelUnit.PERCENT: 'a percent like "2" or "2%"',
    LevelUnit.POINTS: 'a number of price points like "50"',
    None: 'a percent like "1.5%" (or use trailing_percent / trailing_points)',
}


def read_exits(fields: Fields, *, stop_price_is_stop_loss: bool) -> Exits:
    """(stop-loss, take-profit, trailing). ``stop_price`` counts as a stop-loss price unless
    the order is a STOP or STOP_LIMIT, where it is the trigger (OctoBot's STOP_PRICE)."""
    _refuse_numbered_tp(fields)
    for name in SL_TYPE_KEYS:
        field = fields.get(name)
        if field is not None and (
            not isinstance(field.value, str)
            or normalise_word(field.value) not in ("stop", "trailingstop")
        ):
            raise Reject(
                AlertReason.BAD_VALUE,
                f"{show(field.key)} {show_value(field.value)}: expected stop or trailing_stop",
            )
    sl_prices = SL_PRICE_KEYS + ((STOP_PRICE_KEY,) if stop_price_is_stop_loss else ())
    stop = _level(
        fields, "stop-loss", sl_prices, SL_PERCENT_KEYS, SL_POINTS_KEYS, SL_UNSUPPORTED_KEYS
    )
    take = _level(
        fields, "take-profit", TP_PRICE_KEYS, TP_PERCENT_KEYS, TP_POINTS_KEYS, TP_UNSUPPORTED_KEYS
    )
    trail = _level(
        fields,
        "trailing stop",
        TRAILING_KEYS,
        TRAILING_PERCENT_KEYS,
        TRAILING_POINTS_KEYS,
        TRAILING_UNSUPPORTED_KEYS,
        bare=None,
    )
    return stop, take, trail


def _refuse_numbered_tp(fields: Fields) -> None:
    numbered = [fields[name].key for name in fields if NUMBERED_TP.fullmatch(name)]
    if numbered:
        raise Reject(
            AlertReason.AMBIGUOUS,
            f"numbered take-profits ({', '.join(show(k) for k in numbered[:4])}): expected one "
            "take-profit (take_profit / tp); partial exits at several levels are not supported",
        )


def _level(
    fields: Fields,
    what: str,
    price_keys: tuple[str, ...],
    percent_keys: tuple[str, ...],
    points_keys: tuple[str, ...],
    unsupported: tuple[str, ...],
    bare: LevelUnit | None = LevelUnit.PRICE,
) -> Level | None:
    for name in unsupported:
        field = fields.get(name)
        if field is not None:
            raise Reject(
                AlertReason.UNKNOWN_UNITS,
                f"{show(field.key)} {show_value(field.value)}: pips and offsets depend on the "
                f"instrument; expected the {what} as a price, a percent or points",
            )
    found: list[tuple[Field, Level]] = []
    for keys, unit in (
        (price_keys, bare),
        (percent_keys, LevelUnit.PERCENT),
        (points_keys, LevelUnit.POINTS),
    ):
        for name in keys:
            field = fields.get(name)
            if field is not None:
                found.append((field, _parse(field, unit, what)))
    return agree(found, what, lambda lv: f"{lv.value} {lv.unit.value}")


def _parse(field: Field, unit: LevelUnit | None, what: str) -> Level:
    expected = _EXPECTED[unit]
    if is_sentinel(field.value):
        raise Reject(
            AlertReason.BAD_VALUE,
            f"{show(field.key)} {show_value(field.value)}: expected {expected} (leave the field "
            f"out for no {what})",
        )
    amount = parse_amount(field.value, show(field.key), expected)
    if amount.percent:
        if unit is LevelUnit.POINTS:
            raise Reject(
                AlertReason.UNKNOWN_UNITS,
                f"{show(field.key)} {show_value(field.value)}: a percent in a points field; "
                f"expected {expected}",
            )
        unit = LevelUnit.PERCENT
    elif unit is None:
        raise Reject(
            AlertReason.UNKNOWN_UNITS,
            f"{show(field.key)} {show_value(field.value)}: a bare number; expected {expected}",
        )
    if amount.value <= 0:
        raise Reject(
            AlertReason.BAD_VALUE,
            f"{show(field.key)} {show_value(field.value)}: expected a {what} above zero (leave "
            f"the field out for none)",
        )
    return Level(amount.value, unit)
