"""Bot administration for the API and the command line: create a bot with its webhook, change
its configuration, delete it, rotate its webhook token.

Everything a request can get wrong is checked here and refused with a :class:`Refused` that
says what was expected: the account must exist, the venue must have a route, the symbols must
map to known instruments of the bot's venue. The lifecycle, the journal and the ledger entries
are :class:`~algodesk.services.bots.BotService`'s; the tokens are
:class:`~algodesk.services.webhooks.HookService`'s.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from algodesk.domain.bots import Bot, BotError, BotStatus
from algodesk.domain.identifiers import AccountId, BotId, InstrumentId, Venue
from algodesk.domain.market.option_symbols import OptionSymbol, SymbolTarget, is_option_symbol
from algodesk.domain.market.options import OptionChainError
from algodesk.domain.risk.base import RiskLimits
from algodesk.domain.risk.breakers import BreakerConfig
from algodesk.domain.sizing import (
    FixedQuantity,
    PercentOfEquity,
    RiskPercent,
    SizingRule,
    TargetPosition,
)
from algodesk.domain.values import Currency, Money
from algodesk.ports.market import MarketView
from algodesk.ports.webhooks import Hook, HookStore
from algodesk.services.bots import BotService
from algodesk.services.ledger import InsufficientCashError, LedgerService
from algodesk.services.limits import LimitError, breakers_json, limits_json, patch_limits
from algodesk.services.option_symbols import OptionResolver, OptionUnresolved
from algodesk.services.webhooks import HookService

__all__ = ["BotAdmin", "BotSpec", "Refused", "sizing_json"]

Reason = Literal["not_found", "conflict", "bad_value"]


class Refused(Exception):
    """A request that cannot be done: ``reason`` is ``not_found``, ``conflict`` or
    ``bad_value``; the message says what was expected and what was found."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class BotSpec:
    """A new bot as a request describes it (text values, checked by :meth:`BotAdmin.create`)."""

    name: str
    account: str
    venue: str
    allocation: str
    symbol_map: Mapping[str, str]
    currency: str | None = None
    sizing: Mapping[str, Any] | None = None
    limits: Mapping[str, object] = field(default_factory=dict)
    webhook_secret: str | None = None


def sizing_json(rule: SizingRule) -> dict[str, object]:
    if isinstance(rule, FixedQuantity):
        return {"rule": "fixed", "quantity": str(rule.quantity)}
    if isinstance(rule, PercentOfEquity):
        return {"rule": "percent_of_equity", "percent": str(rule.percent)}
    if isinstance(rule, RiskPercent):
        return {"rule": "risk_percent", "percent": str(rule.percent)}
    return {"rule": "target_position"}


def _iso(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _amount(name: str, text: object) -> Decimal:
    if not isinstance(text, str):
        raise Refused("bad_value", f"{name}: expected a decimal string, was {text!r}")
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise Refused("bad_value", f"{name}: expected a decimal number, was {text!r}") from None
    if not value.is_finite() or value < 0 or value.adjusted() >= 18:
        raise Refused("bad_value", f"{name}: expected a number from 0 to 1e18, was {text!r}")
    return value


def parse_sizing(payload: Mapping[str, Any]) -> SizingRule:
    rule = payload.get("rule")
    extra = set(payload) - {"rule", "quantity", "percent"}
    if extra:
        raise Refused("bad_value", f"sizing: unknown fields {', '.join(sorted(extra))}")
    if rule == "fixed":
        quantity = _amount("sizing.quantity", payload.get("quantity"))
        if not quantity:
            raise Refused("bad_value", "sizing.quantity: expected a quantity > 0")
        return FixedQuantity(quantity)
    if rule in ("percent_of_equity", "risk_percent"):
        percent = _amount("sizing.percent", payload.get("percent"))
        if not 0 < percent <= 100:
            raise Refused(
                "bad_value", f"sizing.percent: expected 0 < percent <= 100, was {percent}"
            )
        return PercentOfEquity(percent) if rule == "percent_of_equity" else RiskPercent(percent)
    if rule == "target_position":
        return TargetPosition()
    raise Refused(
        "bad_value",
        f"sizing.rule: expected fixed, percent_of_equity, risk_percent or target_position, "
        f"was {rule!r}",
    )


class BotAdmin:
    def __init__(
        self,
        bots: BotService,
        hooks: HookService,
        hook_store: HookStore,
        ledger: LedgerService,
        market: MarketView,
        venues: Collection[Venue],
        holds: Callable[[AccountId, BotId], bool],
        breakers: Callable[[BotId], BreakerConfig | None] = lambda _: None,
        options: OptionResolver | None = None,
    ) -> None:
        self._options = options
        self._breakers = breakers
        self._bots = bots
        self._hooks = hooks
        self._hook_store = hook_store
        self._ledger = ledger
        self._market = market
        self._venues = frozenset(venues)
        self._holds = holds

    def bot_or_none(self, name: str) -> Bot | None:
        try:
            return self._bots.get(BotId(name))
        except ValueError:
            return None

    def bot(self, name: str) -> Bot:
        """The bot named ``name`` (raises :class:`Refused` ``not_found``)."""
        try:
            found = self._bots.get(BotId(name))
        except ValueError:
            found = None
        if found is None:
            raise Refused("not_found", f"no bot {name!r}")
        return found

    def view(self, bot: Bot) -> dict[str, object]:
        """The bot as JSON: configuration, lifecycle history and configuration changes."""
        return {
            "id": bot.id.value,
            "account": bot.account_id.value,
            "venue": bot.venue.value,
            "status": bot.status.value,
            "allocation": str(bot.allocation.amount),
            "currency": bot.allocation.currency.code,
            "symbol_map": {k: v.value for k, v in bot.symbol_map.items()},
            "sizing": sizing_json(bot.sizing),
            "limits": limits_json(bot.limits),
            "breakers": breakers_json(self._breakers(bot.id)),
            "history": [
                {"at": _iso(t.at), "action": t.action, "by": t.by, "reason": t.reason,
                 "before": t.before.value, "after": t.after.value}
                for t in bot.history
            ],
            "changes": [
                {"at": _iso(c.at), "by": c.by, "reason": c.reason, "fields": list(c.fields)}
                for c in self._bots.changes(bot.id)
            ],
        }  # fmt: skip

    def symbols(self, venue: Venue, raw: Mapping[str, str]) -> dict[str, SymbolTarget]:
        """TradingView tickers → known instruments of ``venue``, or option symbols
        (``NIFTY:nearest:OTM2:CE``) whose underlying has options listed on ``venue``."""
        mapped: dict[str, SymbolTarget] = {}
        for ticker, text in raw.items():
            if not ticker.strip() or len(ticker) > 64 or ticker != ticker.strip():
                raise Refused("bad_value", f"symbol_map: expected a ticker, was {ticker!r}")
            if isinstance(text, str) and is_option_symbol(text):
                mapped[ticker] = self._option_symbol(ticker, text, venue)
                continue
            try:
                instrument = InstrumentId(text)
            except (ValueError, TypeError) as exc:
                raise Refused("bad_value", f"symbol_map.{ticker}: {exc}") from None
            if instrument.venue != venue:
                raise Refused(
                    "bad_value",
                    f"symbol_map.{ticker}: {instrument} is on {instrument.venue}, "
                    f"expected an instrument of the bot's venue {venue}",
                )
            if self._market.instrument(instrument) is None:
                raise Refused("bad_value", f"symbol_map.{ticker}: no instrument {instrument}")
            mapped[ticker] = instrument
        return mapped

    def _option_symbol(self, ticker: str, text: str, venue: Venue) -> OptionSymbol:
        try:
            target = OptionSymbol.parse(text, venue)
        except (OptionChainError, ValueError) as exc:
            raise Refused("bad_value", f"symbol_map.{ticker}: {exc}") from None
        if target.venue != venue:
            raise Refused(
                "bad_value",
                f"symbol_map.{ticker}: {text} is on {target.venue}, expected an option of the "
                f"bot's venue {venue}",
            )
        if self._options is None:
            raise Refused(
                "bad_value", f"symbol_map.{ticker}: option symbols are not resolved on this desk"
            )
        try:
            self._options.check(target)
        except OptionUnresolved as exc:
            raise Refused("bad_value", f"symbol_map.{ticker}: {exc.code}: {exc.message}") from None
        return target

    def create(self, spec: BotSpec, by: str) -> tuple[Bot, Hook]:
        """A new bot (CREATED, its capital allocated from the account's cash) and its webhook."""
        try:
            bot_id, account = BotId(spec.name), AccountId(spec.account)
            venue = Venue(spec.venue)
        except (ValueError, TypeError) as exc:
            raise Refused("bad_value", str(exc)) from None
        if self._bots.get(bot_id) is not None or self._bots.used(bot_id):
            raise Refused("conflict", f"bot {bot_id} exists or existed; bot names are never reused")
        if account not in self._ledger.accounts():
            raise Refused("bad_value", f"account: no account {account}")
        if venue not in self._venues:
            known = ", ".join(sorted(v.value for v in self._venues))
            raise Refused("bad_value", f"venue: expected one of {known}, was {venue}")
        amount = _amount("allocation", spec.allocation)
        currency = self._currency(account, spec.currency)
        try:
            limits = patch_limits(RiskLimits(), spec.limits)
        except LimitError as exc:
            raise Refused("bad_value", f"limits.{exc}") from None
        sizing = parse_sizing(spec.sizing) if spec.sizing is not None else FixedQuantity(Decimal(1))
        bot = Bot(
            id=bot_id,
            account_id=account,
            venue=venue,
            allocation=Money(amount, currency),
            limits=limits,
            symbol_map=self.symbols(venue, spec.symbol_map),
            sizing=sizing,
        )
        if spec.webhook_secret is not None and len(spec.webhook_secret) < 8:
            raise Refused("bad_value", "webhook_secret: expected at least 8 characters")
        try:
            created = self._bots.create(bot, by)
        except InsufficientCashError as exc:
            raise Refused("conflict", str(exc)) from None
        except ValueError as exc:  # BotError included
            raise Refused("bad_value", str(exc)) from None
        return created, self._hooks.create(created, secret=spec.webhook_secret)

    def _currency(self, account: AccountId, code: str | None) -> Currency:
        if code is None:
            cash = self._ledger.summary(account).cash
            return Currency(next(iter(sorted(cash))) if len(cash) == 1 else "USD")
        try:
            return Currency(code)
        except (ValueError, TypeError) as exc:
            raise Refused("bad_value", f"currency: {exc}") from None

    def update(
        self,
        name: str,
        by: str,
        *,
        allocation: str | None = None,
        symbol_map: Mapping[str, str] | None = None,
        limits: Mapping[str, object] | None = None,
        sizing: Mapping[str, Any] | None = None,
        reason: str = "",
    ) -> Bot:
        bot = self.bot(name)
        try:
            new_limits = patch_limits(bot.limits, limits) if limits is not None else None
        except LimitError as exc:
            raise Refused("bad_value", f"limits.{exc}") from None
        new_allocation = (
            Money(_amount("allocation", allocation), bot.allocation.currency)
            if allocation is not None
            else None
        )
        try:
            return self._bots.update(
                bot.id,
                by,
                limits=new_limits,
                symbol_map=self.symbols(bot.venue, symbol_map) if symbol_map is not None else None,
                sizing=parse_sizing(sizing) if sizing is not None else None,
                allocation=new_allocation,
                reason=reason,
            )
        except InsufficientCashError as exc:
            raise Refused("conflict", str(exc)) from None
        except BotError as exc:
            raise Refused("conflict" if "stopped" in str(exc) else "bad_value", str(exc)) from None

    def delete(self, name: str, by: str) -> None:
        """Delete a stopped bot that holds nothing: its cash goes back to the account and its
        webhooks are revoked; its history stays in the journal and its name is not reused."""
        bot = self.bot(name)
        holds = self._holds(bot.account_id, bot.id)
        if bot.status is BotStatus.STOPPED and not holds:
            # Revoked first (it is idempotent): a token must never outlive its bot, even when
            # the delete below fails and is retried.
            self._hooks.revoke_all(bot.id)
        try:
            self._bots.delete(bot.id, by, lambda _: holds)
        except BotError as exc:
            raise Refused("conflict", str(exc)) from None

    def rotate(self, name: str) -> Hook:
        """A new webhook token for the bot; the old one stops working at once. A bot without
        an active webhook gets one."""
        bot = self.bot(name)
        hook = self._hooks.active(bot.id)
        return self._hooks.rotate(hook.id) if hook is not None else self._hooks.create(bot)
