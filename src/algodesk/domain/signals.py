"""Signals: what an alert asks for, before any bot, instrument or account is looked up.

A parser turns a raw alert body into a :class:`ParsedAlert` (one or more :class:`Intent`) or an
:class:`AlertRejection` with a stable reason code. Mapping an intent to engine commands (the
bot's symbol map, its sizing rule, the mark) happens later, in the alert service.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from algodesk.domain.orders import OrderType

__all__ = [
    "AlertAction",
    "AlertReason",
    "AlertRejection",
    "Intent",
    "Level",
    "LevelUnit",
    "ParsedAlert",
    "PositionSide",
    "Size",
    "SizeUnit",
]


class AlertAction(StrEnum):
    """The closed set of intents every dialect's vocabulary is normalised to."""

    BUY = "buy"  # also long, enter_long, b ...
    SELL = "sell"  # also short, enter_short, s ...
    CLOSE = "close"  # close the symbol's position (exit, flat, closelong, exit_long ...)
    FLATTEN = "flatten"  # cancel and close everything of the addressed bots (closeall)
    REVERSE = "reverse"  # close the position and open the same size the other way
    CANCEL = "cancel"  # cancel the working orders of the symbol (or of the bot, no symbol)


class PositionSide(StrEnum):
    """The position a directed action addresses: ``exit_long`` closes a long and nothing else."""

    LONG = "long"
    SHORT = "short"


class SizeUnit(StrEnum):
    UNITS = "units"  # shares, contracts, coins (lots are a venue matter: whole lots only)
    PERCENT_EQUITY = "percent_equity"  # spend this % of the bot's equity
    RISK_PERCENT = "risk_percent"  # lose at most this % of the bot's equity at the stop
    TARGET = "target"  # the signed position to hold afterwards ({{strategy.position_size}})


@dataclass(frozen=True, slots=True)
class Size:
    value: Decimal
    unit: SizeUnit

    def __post_init__(self) -> None:
        if not isinstance(self.value, Decimal) or not self.value.is_finite():
            raise ValueError(f"size: expected a finite Decimal, was {self.value!r}")
        if self.unit is not SizeUnit.TARGET and self.value <= 0:
            raise ValueError(f"size in {self.unit}: expected > 0, was {self.value}")


class LevelUnit(StrEnum):
    PRICE = "price"  # an absolute price
    PERCENT = "percent"  # % away from the entry
    POINTS = "points"  # price points away from the entry


@dataclass(frozen=True, slots=True)
class Level:
    """A stop-loss, take-profit or trailing distance, as the alert gave it."""

    value: Decimal
    unit: LevelUnit

    def __post_init__(self) -> None:
        if not isinstance(self.value, Decimal) or not self.value.is_finite() or self.value <= 0:
            raise ValueError(f"level: expected a finite Decimal > 0, was {self.value!r}")


@dataclass(frozen=True, slots=True)
class Intent:
    """One instruction of an alert.

    ``price`` is the limit price of a LIMIT order and the trigger of a STOP; ``signal_price``
    is a price the alert merely reports (``{{close}}``), used to size and to place exits
    given in % or points. ``bots`` names the bots addressed (empty: the webhook's own bot).
    """

    action: AlertAction
    symbol: str | None = None
    size: Size | None = None
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None
    signal_price: Decimal | None = None
    stop_loss: Level | None = None
    take_profit: Level | None = None
    trailing: Level | None = None
    bots: tuple[str, ...] = ()
    #: For close and reverse named for one side (``exit_long``, ``reverse_short_to_long``):
    #: the position it is for; with the other position, or none, nothing is done.
    position_side: PositionSide | None = None


@dataclass(frozen=True, slots=True)
class ParsedAlert:
    """A body that parsed. ``secret`` is the body secret, taken out of the instructions (never
    shown); ``timenow`` the firing time, when the alert carried one."""

    intents: tuple[Intent, ...]
    dialect: str
    timenow: datetime | None = None
    secret: str | None = field(default=None, repr=False)


class AlertReason(StrEnum):
    """Stable reason codes of a rejected alert (the API and ``alerts explain`` show them)."""

    TOO_LARGE = "too_large"
    BAD_ENCODING = "bad_encoding"
    INVALID_JSON = "invalid_json"
    UNRESOLVED_PLACEHOLDER = "unresolved_placeholder"
    NO_INSTRUCTION = "no_instruction"
    UNKNOWN_ACTION = "unknown_action"
    UNKNOWN_UNITS = "unknown_units"
    BAD_VALUE = "bad_value"
    MISSING_SYMBOL = "missing_symbol"
    AMBIGUOUS = "ambiguous"
    BAD_SECRET = "bad_secret"  # noqa: S105 - a reason code
    STALE = "stale"
    UNKNOWN_BOT = "unknown_bot"
    UNKNOWN_SYMBOL = "unknown_symbol"
    SIZING = "sizing"
    FORBIDDEN_SOURCE = "forbidden_source"
    # An option symbol (NIFTY:nearest:OTM2:CE) that names no contract now.
    NO_SPOT = "no_spot"  # the underlying has no mark (or no known spot index)
    STALE_SPOT = "stale_spot"  # the underlying's mark is too old to pick a strike by
    NO_OPTION_CHAIN = "no_option_chain"  # no options of the underlying on the bot's venue
    NO_EXPIRY = "no_expiry"  # the expiry rule or date names no listed expiry
    NO_STRIKE = "no_strike"  # the offset runs off the listed strikes


@dataclass(frozen=True, slots=True)
class AlertRejection:
    reason: AlertReason
    message: str
    #: The body secret, when the body was refused after it was read (never shown): the hook's
    #: secret is checked before a refusal's reason is told.
    secret: str | None = field(default=None, repr=False, compare=False)
    #: Whether the body was read as far as its secret (``secret`` None then means it has
    #: none) before it was refused.
    secret_read: bool = field(default=False, compare=False)
