"""Configuration of the paper exchange (frozen; unknown fields impossible)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from algodesk.domain.identifiers import Venue
from algodesk.domain.matching import FillModel
from algodesk.domain.values import Money

__all__ = ["PAPER", "PaperBrokerConfig"]

PAPER = Venue("PAPER")


@dataclass(frozen=True, slots=True)
class PaperBrokerConfig:
    """``venue``: the venue name orders are routed by (``PAPER``, or a real venue's name to
    paper-trade its instruments); ``fill_model``: fills, slippage, fees and the seed;
    ``max_fill_per_quote``: partial fills: at most this quantity of an order fills on one
    quote (floored to whole lots); None fills in full; ``starting_cash``: what a paper
    account starts with (booked once as a deposit when the account is opened)."""

    venue: Venue = PAPER
    fill_model: FillModel = field(default_factory=FillModel)
    max_fill_per_quote: Decimal | None = None
    starting_cash: Money | None = None

    def __post_init__(self) -> None:
        cap = self.max_fill_per_quote
        if cap is not None and (not isinstance(cap, Decimal) or cap <= 0):
            raise ValueError(f"max_fill_per_quote: expected a Decimal > 0 or None, was {cap!r}")
        cash = self.starting_cash
        if cash is not None and cash.amount <= 0:
            raise ValueError(f"starting_cash: expected an amount > 0, was {cash}")
