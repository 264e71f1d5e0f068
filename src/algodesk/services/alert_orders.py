"""From an alert's intent to engine commands, for one bot.

The bot's symbol map names the instrument (no suffix guessing: an unmapped ticker is refused);
its sizing rule applies when the alert gives no size; exits given in % or points are placed from
the reference price (the limit or trigger price, else the mark, else the alert's own price).

**Option symbols.** A symbol-map target ``NIFTY:nearest:OTM2:CE`` (or an alert that spells the
option itself: ``underlying``, ``expiry``, ``offset``, ``option_type``) is resolved when the alert
is planned, to the listed contract that the rule names at the underlying's current mark
(:mod:`algodesk.services.option_symbols`; refusals ``no_spot``, ``stale_spot``,
``no_option_chain``, ``no_expiry``, ``no_strike``). Since the strike moves with the spot, the
actions that address what the bot already has do not resolve it again: a close or a cancel
addresses the bot's contracts of that underlying and right (any strike), and a target position
is counted on the one such contract the bot holds (resolved afresh when it holds none). A
reverse of an option symbol is refused.

**Freeze slicing.** An entry above its instrument's freeze quantity is sent while planning by
:class:`~algodesk.services.slicing.OrderSlicer` (child orders checked as one list, capped and
paced; stopping at the first refused one); the planned orders are the children it sent or
recorded refused (or the parent, refused ``TOO_MANY_SLICES``), so the processor's handling of
each is a replay of the answer the engine journaled under its key. A retry of an alert whose
order was being sliced sends that order's children again as first planned, instead of planning
afresh from what is held by then (which counts the children already sent; see "Sliced once"
in :mod:`algodesk.services.slicing`).

**Target positions.** A target is all the bot is to hold in the instrument: its working orders
there (but exits and closes at market) are canceled while planning, after a check that the new
order would pass without them, and noted (``TargetReplaces``) so that a retry's fate lists them;
the target is planned again when a position moved meanwhile, and the new order is withheld
(``WORKING_ORDER_NOT_CANCELED``) while a replaced order is still working (see
:meth:`OrderPlanner._to_target`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from algodesk.domain.bots import Bot, BotStatus
from algodesk.domain.commands import CancelOrder, Command, Flatten, SubmitOrder
from algodesk.domain.exits import ExitPlan, Trailing, TrailingUnit
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import InstrumentId
from algodesk.domain.instruments import Instrument
from algodesk.domain.market.option_symbols import OptionSymbol, SymbolTarget, is_option_symbol
from algodesk.domain.market.options import OptionChainError
from algodesk.domain.orders import Order, OrderType
from algodesk.domain.portfolio import MissingMarkError
from algodesk.domain.signals import (
    AlertAction,
    AlertReason,
    Intent,
    Level,
    LevelUnit,
    PositionSide,
    Size,
    SizeUnit,
)
from algodesk.domain.sizing import (
    FixedQuantity,
    PercentOfEquity,
    RiskPercent,
    SizingError,
    SizingRule,
    TargetPosition,
    size_order,
)
from algodesk.domain.values import Price, Quantity, exact_arithmetic, rounded
from algodesk.ports.market import MarketView
from algodesk.services.engine import Engine
from algodesk.services.option_symbols import OptionResolver, OptionUnresolved, resolved_json
from algodesk.services.outcomes import Outcome
from algodesk.services.slicing import OrderSlicer, SliceResult, UnreadableSliceError

__all__ = ["MappingError", "OrderPlanner", "PlannedOrder", "describe_level", "replaced_key"]


def replaced_key(key: str) -> str:
    """Where a target position notes the orders it cancels (see ``OrderPlanner.replaced``)."""
    return f"{key}:replaces"


def target_key(key: str, target: str) -> str:
    """The key of one of an alert's several commands, named by what it acts on (an order, an
    instrument), not by its place in the list: after a crash the alert is planned again and the
    list is shorter (what was cancelled is gone), so a position would name another target."""
    return f"{key}:{hashlib.sha256(target.encode()).hexdigest()[:16]}"


class MappingError(Exception):
    """The intent cannot become an order for this bot (unknown symbol, no sizing...)."""

    def __init__(self, reason: AlertReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    """What one intent means for one bot: the command (None: nothing to do) and the fields
    ``alerts explain`` shows."""

    bot: str
    action: str
    symbol: str | None
    quantity: str | None
    sizing: str
    order_type: str
    price: str | None = None
    stop_loss: str | None = None
    take_profit: str | None = None
    trailing: str | None = None
    command: Command | None = field(default=None, compare=False)
    note: str = ""
    #: With no command: the code of why it was not sent (its fate row is then a refusal,
    #: ``note`` its message), None when there was simply nothing to do.
    withheld: str | None = None
    #: With no command: the order the row is about (a cancel already on its way).
    order: str | None = field(default=None, compare=False)
    #: How an option symbol was resolved (:func:`~algodesk.services.option_symbols.resolved_json`).
    option: dict[str, object] | None = field(default=None, compare=False)

    def explain(self) -> dict[str, object]:
        shown: dict[str, object] = {
            "bot": self.bot,
            "action": self.action,
            "symbol": self.symbol,
            "quantity": self.quantity,
            "sizing": self.sizing,
            "order_type": self.order_type,
            "price": self.price,
            "stop_loss": self.stop_loss,
            "take_profit": self.take_profit,
            "trailing": self.trailing,
        }
        if self.option is not None:
            shown["option"] = self.option
        return shown


def describe_level(level: Level | None) -> str | None:
    if level is None:
        return None
    if level.unit is LevelUnit.PERCENT:
        return f"{level.value}%"
    if level.unit is LevelUnit.POINTS:
        return f"{level.value} points"
    return str(level.value)


_RULE_NAMES = {
    FixedQuantity: SizeUnit.UNITS,
    PercentOfEquity: SizeUnit.PERCENT_EQUITY,
    RiskPercent: SizeUnit.RISK_PERCENT,
    TargetPosition: SizeUnit.TARGET,
}


def _default_size(bot: Bot) -> Size | None:
    rule = bot.sizing
    if isinstance(rule, FixedQuantity):
        return Size(rule.quantity, SizeUnit.UNITS)
    if isinstance(rule, PercentOfEquity):
        return Size(rule.percent, SizeUnit.PERCENT_EQUITY)
    if isinstance(rule, RiskPercent):
        return Size(rule.percent, SizeUnit.RISK_PERCENT)
    return None  # target position: the alert must name the target


def _cancel_row(bot: Bot, order: Order, cancel: CancelOrder | None, note: str = "") -> PlannedOrder:
    """The plan of a cancel of ``order``, shown as the order is."""
    return PlannedOrder(
        bot=bot.id.value,
        action=AlertAction.CANCEL.value,
        symbol=order.instrument_id.value,
        quantity=str(order.leaves_quantity.value),
        sizing=SizeUnit.UNITS.value,
        order_type=order.order_type.value,
        price=_price(order.price or order.trigger_price),
        command=cancel,
        note=note,
    )


#: Why a target position's order was not sent: an order it replaces is still working.
NOT_CANCELED = "WORKING_ORDER_NOT_CANCELED"


def _targets(bot: Bot, intent: Intent) -> bool:
    """Whether the intent asks for a target position (its own size, or the bot's rule)."""
    size = intent.size if intent.size is not None else _default_size(bot)
    return size is None or size.unit is SizeUnit.TARGET


def _rule(size: Size) -> SizingRule:
    if size.unit is SizeUnit.UNITS:
        return FixedQuantity(size.value)
    if size.unit is SizeUnit.PERCENT_EQUITY:
        return PercentOfEquity(size.value)
    if size.unit is SizeUnit.RISK_PERCENT:
        return RiskPercent(size.value)
    return TargetPosition()


class OrderPlanner:
    """Maps intents to commands with the engine's view of positions and the market's marks."""

    def __init__(
        self,
        engine: Engine,
        market: MarketView,
        options: OptionResolver | None = None,
        slicer: OrderSlicer | None = None,
    ) -> None:
        self._engine = engine
        self._market = market
        self._options = options
        self._slicer = slicer or OrderSlicer(engine, market)

    # -- the parts explain shows ---------------------------------------------------------------

    @staticmethod
    def target(bot: Bot, symbol: str) -> SymbolTarget:
        """The bot's target for a signal symbol: the symbol map, exactly, then upper-cased;
        else an option the alert spells itself (``NIFTY:nearest:OTM2:CE``), on the bot's
        venue."""
        for candidate in (symbol, symbol.upper()):
            if candidate in bot.symbol_map:
                return bot.symbol_map[candidate]
        if is_option_symbol(symbol):
            try:
                return OptionSymbol.parse(symbol, bot.venue)
            except (OptionChainError, ValueError) as exc:
                raise MappingError(AlertReason.BAD_VALUE, f"option {symbol!r}: {exc}") from None
        known = ", ".join(sorted(bot.symbol_map)) or "none"
        raise MappingError(
            AlertReason.UNKNOWN_SYMBOL,
            f"bot {bot.id}: no instrument mapped for symbol {symbol!r} (mapped: {known})",
        )

    @classmethod
    def instrument_id(cls, bot: Bot, symbol: str) -> InstrumentId:
        """The bot's instrument for a signal symbol (not for an option symbol)."""
        found = cls.target(bot, symbol)
        if isinstance(found, OptionSymbol):
            raise MappingError(
                AlertReason.UNKNOWN_SYMBOL, f"{symbol!r} is an option symbol ({found})"
            )
        return found

    def _option(
        self, bot: Bot, intent: Intent, target: OptionSymbol
    ) -> tuple[str, dict[str, object]]:
        """The symbol shown for an option target, and how it was found: the contract it
        resolves to now, the one a target position is held in, or for a close, flatten or
        cancel the option symbol itself (no spot needed to get out)."""
        if intent.action in (AlertAction.CLOSE, AlertAction.FLATTEN, AlertAction.CANCEL):
            what = f"the bot's {target.underlying} {target.right} contracts on {target.venue}"
            return target.value, {"target": target.value, "addresses": what}
        if intent.action is AlertAction.REVERSE:
            raise MappingError(
                AlertReason.BAD_VALUE,
                f"reverse of the option symbol {target}: expected close, then buy or sell",
            )
        if intent.size is not None and intent.size.unit is SizeUnit.TARGET:
            held = self._held(bot, target)
            if len(held) > 1:
                names = ", ".join(sorted(i.value for i in held))
                raise MappingError(
                    AlertReason.AMBIGUOUS,
                    f"a target position for {target}: bot {bot.id} holds several such "
                    f"contracts ({names})",
                )
            if held:
                return held[0].value, {
                    "target": target.value,
                    "contract": held[0].value,
                    "held": True,
                }
        if self._options is None:
            raise MappingError(
                AlertReason.NO_OPTION_CHAIN,
                f"option symbols are not resolved on this desk: {target}",
            )
        try:
            found = self._options.resolve(target)
        except OptionUnresolved as exc:
            raise MappingError(AlertReason(exc.code), f"{target}: {exc.message}") from None
        return found.instrument.id.value, resolved_json(target, found)

    def _held(self, bot: Bot, target: OptionSymbol, working: bool = False) -> list[InstrumentId]:
        """The bot's contracts that ``target`` can name: with a position (and, with
        ``working``, with a working order)."""
        ids = {p.instrument_id for p in self._engine.book(bot.account_id, bot.id).open_positions}
        if working:
            ids |= {o.instrument_id for o in self._engine.open_orders(bot.account_id, bot.id)}
        found = []
        for iid in sorted(ids, key=lambda i: i.value):
            inst = self._market.instrument(iid)
            if inst is not None and target.matches(inst):
                found.append(iid)
        return found

    def describe(self, bot: Bot, intent: Intent) -> PlannedOrder:
        """The order the intent asks of ``bot``, as the alert states it (nothing is sized)."""
        intent = _as_close(intent)
        closing = intent.action in (AlertAction.CLOSE, AlertAction.FLATTEN)

        symbol = None
        option = None
        if intent.symbol is not None:
            target = self.target(bot, intent.symbol)
            if isinstance(target, OptionSymbol):
                symbol, option = self._option(bot, intent, target)
            else:
                symbol = target.value
        size = intent.size
        if intent.action is AlertAction.REVERSE:
            _reverse_only_at_market(intent)
        if intent.action in (AlertAction.CLOSE, AlertAction.FLATTEN, AlertAction.REVERSE):
            size = _units_only(intent)  # none: all of the position
        elif size is None:
            size = _default_size(bot)
        if (
            intent.action in (AlertAction.BUY, AlertAction.SELL)
            and size is None
            and isinstance(bot.sizing, TargetPosition)
        ):
            raise MappingError(
                AlertReason.SIZING,
                f"bot {bot.id} sizes by target position and the alert names none "
                "(send position_size, e.g. {{strategy.position_size}})",
            )
        if (
            symbol is not None
            and (option is None or intent.action in (AlertAction.BUY, AlertAction.SELL))
            and intent.size is not None
            and intent.size.unit in (SizeUnit.UNITS, SizeUnit.TARGET)
            and intent.size.value != 0
            and (instrument := self._market.instrument(InstrumentId(symbol))) is not None
        ):
            _whole_lots(instrument, abs(intent.size.value))  # explain refuses what execution does
        sizing = size.unit.value if size is not None else "none"
        if intent.size is None and size is not None:
            sizing += " (bot default)"
        elif size is None and closing:
            sizing = "all of the position"
        elif size is None and intent.action is AlertAction.REVERSE:
            sizing = "the position's size"
        return PlannedOrder(
            bot=bot.id.value,
            action=_action_name(intent),
            symbol=symbol,
            quantity=str(size.value) if size is not None else None,
            sizing=sizing,
            # (a close goes at market; see _close)
            order_type=OrderType.MARKET.value if closing else intent.order_type.value,
            price=None if closing else _text(intent.price),
            # A close is an exit: the alert's exits are not used (a template that sends them
            # with every action must still get out), and not shown.
            stop_loss=None if closing else describe_level(intent.stop_loss),
            take_profit=None if closing else describe_level(intent.take_profit),
            trailing=None if closing else describe_level(intent.trailing),
            option=option,
        )

    # -- the commands ----------------------------------------------------------------------------

    def plan(self, bot: Bot, intent: Intent, key: str) -> list[PlannedOrder]:
        """``describe`` plus the commands, sized now; ``key`` (with a suffix for a second
        command) becomes their idempotency key."""
        account = bot.account_id
        intent = _as_close(intent)
        action = intent.action
        if _closes_by_order(intent) or action not in (
            AlertAction.FLATTEN,
            AlertAction.CANCEL,
            AlertAction.CLOSE,
        ):
            try:
                first = self._slicer.first_plan(account, key)
            except UnreadableSliceError as exc:  # planning afresh could trade it twice
                raise MappingError(AlertReason.BAD_VALUE, str(exc)) from None
            if first is not None:  # a retry of an order being sliced: as first planned, not
                return self._resumed(bot, intent, *first)  # resolved or sized again
        shown = self.describe(bot, intent)
        if action is AlertAction.FLATTEN and intent.symbol is None:
            command: Command | None = Flatten(
                account_id=account, bot_id=bot.id, idempotency_key=key
            )
            return [_with(shown, command)]
        option = self._option_target(bot, intent)
        if action is AlertAction.CANCEL:
            return self._cancel(bot, shown, key, option)
        assert shown.symbol is not None  # the parser requires a symbol for the rest
        if action in (AlertAction.CLOSE, AlertAction.FLATTEN):  # flatten SYMBOL: that one
            return self._close(bot, intent, shown, key, option)
        instrument_id = InstrumentId(shown.symbol)
        instrument = self._instrument(instrument_id, intent)
        position = self._engine.position(account, bot.id, instrument_id)
        try:
            if action is AlertAction.REVERSE:
                planned = self._reverse(bot, intent, shown, instrument, position, key)
            else:
                planned = self._entry(bot, intent, shown, instrument, position, key)
        except (ArithmeticError, ValueError) as exc:  # a number no order can carry
            raise MappingError(AlertReason.BAD_VALUE, f"{instrument_id}: {exc}") from None
        if action is AlertAction.REVERSE or not _targets(bot, intent):
            return self._sliced(planned)
        return self._to_target(bot, intent, instrument, position, planned, key, option)

    def _to_target(
        self,
        bot: Bot,
        intent: Intent,
        instrument: Instrument,
        position: Decimal,
        planned: PlannedOrder,
        key: str,
        option: OptionSymbol | None,
    ) -> list[PlannedOrder]:
        """A target position is all the bot is to hold in the instrument: its resting orders
        there (for an option symbol, in any contract it names) are canceled first, or a target
        sent again while its first order rests would buy it twice, and an order left working
        would move the position off the target when it filled. The cancels are sent here,
        ahead of the new order; the processor sends them again under the same keys, which the
        journal answers.

        Nothing is canceled for a bot that is not running, or for an order the slice cap
        refuses or the gates would deny with its slices checked as if the orders it replaces
        were gone and their cancels counted against the rate limits: that order is recorded
        denied, not sent (sent beside the orders it was to replace, it could double the
        position). Resting means any order but a reduce-only one at market (an exit or a close
        on its way); a market entry still in flight is replaced too. When a position in those
        contracts moved since the target was sized (an order filled before its cancel), the
        target is planned again on what is held then. If an order is still working after its
        cancel (refused, or not confirmed yet by a remote venue) the new order is withheld and
        the alert denied :data:`NOT_CANCELED`: with the old one able to fill, it could double
        the position."""
        account = bot.account_id
        contracts = {instrument.id}
        if option is not None:
            contracts |= set(self._held(bot, option, working=True))
        resting = [
            o
            for o in self._engine.open_orders(account, bot.id)
            if o.instrument_id in contracts
            and not (o.reduce_only and o.order_type is OrderType.MARKET)
        ]
        if not resting or bot.status is not BotStatus.RUNNING:
            return self._sliced(planned)
        command = planned.command
        if isinstance(command, SubmitOrder):
            legs = self._slicer.children(command)
            if len(legs) > self._slicer.max_slices:
                return self._sliced(planned)  # refused TOO_MANY_SLICES: nothing canceled
            canceling = [o for o in resting if not o.cancel_pending]
            denial = self._engine.check_list(
                legs,
                without=[o.client_order_id for o in resting],
                sends=[o.instrument_id.venue for o in canceling],
            )
            if denial is not None:  # recorded denied, nothing canceled (the processor replays)
                message = f"{denial.message} (the working orders it replaces stay)"
                self._engine.deny(command, denial.code, message)
                return [planned]
        # Noted first, so that a retry (the fate lost, a crash) can list them in its fate.
        noted = [_cancel_row(bot, order, None).explain() for order in resting]
        for row, order in zip(noted, resting, strict=True):
            row["client_order_id"] = order.client_order_id.value
        self._engine.note(account, replaced_key(key), "TargetReplaces", {"orders": noted})
        before = {c: self._engine.position(account, bot.id, c) for c in contracts}
        before[instrument.id] = position  # as sized: a fill since counts as a move
        cleared = [self._cancel_resting(bot, order, key) for order in resting]
        after = {c: self._engine.position(account, bot.id, c) for c in contracts}
        if after != before:  # an order filled before its cancel: plan on what is held now
            try:
                planned = self._replanned(bot, intent, key)
            except MappingError as exc:
                refused = replace(_with(planned, None, exc.message), withheld=exc.reason.value)
                return [*cleared, refused]
        if planned.command is None:  # nothing to send: the position is at the target
            return [*cleared, planned]
        still = {o.client_order_id: o for o in self._engine.open_orders(account, bot.id)}
        for order in resting:
            now = still.get(order.client_order_id)
            if now is None:
                continue  # canceled (or filled first, and planned again above)
            why = (
                "is not confirmed by the venue yet; send the target again once it is"
                if now.cancel_pending
                else "was refused by the venue"
            )
            note = f"not sent: the cancel of the working order {order.client_order_id} {why}"
            return [*cleared, replace(_with(planned, None, note), withheld=NOT_CANCELED)]
        return [*cleared, *self._sliced(planned)]

    def _replanned(self, bot: Bot, intent: Intent, key: str) -> PlannedOrder:
        """A target's order planned again from the start (its contract resolved, sized on
        what is held now), not sent."""
        shown = self.describe(bot, intent)
        assert shown.symbol is not None
        instrument_id = InstrumentId(shown.symbol)
        instrument = self._instrument(instrument_id, intent)
        position = self._engine.position(bot.account_id, bot.id, instrument_id)
        try:
            return self._entry(bot, intent, shown, instrument, position, key)
        except (ArithmeticError, ValueError) as exc:
            raise MappingError(AlertReason.BAD_VALUE, f"{instrument_id}: {exc}") from None

    def replaced(self, bot: Bot, intent: Intent, key: str) -> list[tuple[PlannedOrder, Outcome]]:
        """The cancels a target position sent under ``key`` on an earlier try (the orders it
        noted before canceling them), as planned and as recorded; none for other intents."""
        if intent.action is AlertAction.REVERSE or not _targets(bot, intent):
            return []
        noted = self._engine.noted(bot.account_id, replaced_key(key))
        orders = noted.get("orders") if noted is not None else None
        if not isinstance(orders, list):
            return []
        found = []
        for row in orders:
            if not isinstance(row, dict):
                continue
            coid = str(row.get("client_order_id"))
            outcome = self._engine.recorded(bot.account_id, target_key(key, coid))
            if outcome is not None:
                shown = PlannedOrder(
                    bot=bot.id.value,
                    action=AlertAction.CANCEL.value,
                    symbol=_text(row.get("symbol")),
                    quantity=_text(row.get("quantity")),
                    sizing=SizeUnit.UNITS.value,
                    order_type=str(row.get("order_type")),
                    price=_text(row.get("price")),
                )
                found.append((shown, outcome))
        return found

    def _cancel_resting(self, bot: Bot, order: Order, key: str) -> PlannedOrder:
        """Cancel a resting order a target replaces: the plan, as the order is. One whose
        cancel is on its way already is not canceled again (no command)."""
        if order.cancel_pending:
            row = _cancel_row(bot, order, None, note="its cancel is on its way already")
            return replace(row, order=order.client_order_id.value)
        cancel = CancelOrder(
            account_id=bot.account_id,
            client_order_id=order.client_order_id,
            idempotency_key=target_key(key, order.client_order_id.value),
        )
        self._engine.handle(cancel)
        return _cancel_row(bot, order, cancel)

    def _option_target(self, bot: Bot, intent: Intent) -> OptionSymbol | None:
        if intent.symbol is None:
            return None
        found = self.target(bot, intent.symbol)
        return found if isinstance(found, OptionSymbol) else None

    def _sliced(self, planned: PlannedOrder) -> list[PlannedOrder]:
        """A submit above its freeze quantity: send its children now (stopping at the first
        refused) and plan exactly those, so the processor replays their recorded answers."""
        command = planned.command
        if not isinstance(command, SubmitOrder):
            return [planned]
        children = self._slicer.children(command)
        if len(children) == 1:
            return [planned]
        return self._sent(planned, self._slicer.submit(command))

    def _resumed(
        self, bot: Bot, intent: Intent, command: SubmitOrder, sizes: tuple[Decimal, ...]
    ) -> list[PlannedOrder]:
        exits = command.exits
        shown = PlannedOrder(
            bot=bot.id.value,
            action=intent.action.value,
            symbol=command.instrument_id.value,
            quantity=str(command.quantity.value),
            sizing=SizeUnit.UNITS.value,
            order_type=command.order_type.value,
            price=_price(command.price),
            stop_loss=_price(exits.stop_loss) if exits is not None else None,
            take_profit=_price(exits.take_profit) if exits is not None else None,
            trailing=_trailing(exits.trailing) if exits is not None else None,
            command=command,
        )
        return self._sent(shown, self._slicer.resume(command, sizes))

    @staticmethod
    def _sent(planned: PlannedOrder, result: SliceResult) -> list[PlannedOrder]:
        """The plans of a sliced order's children that were sent or recorded refused, and a
        note of the ones that were not sent."""
        handled = result.handled
        plans = [
            replace(planned, command=child, quantity=str(child.quantity.value)) for child in handled
        ]
        note = result.stop_note()
        if note:
            unsent = sum(
                (
                    c.quantity.value
                    for c, r in zip(result.children, result.results, strict=True)
                    if r is None
                ),
                Decimal(0),
            )
            plans.append(replace(planned, command=None, note=note, quantity=str(unsent)))
        return plans

    def _close(
        self,
        bot: Bot,
        intent: Intent,
        shown: PlannedOrder,
        key: str,
        option: OptionSymbol | None,
    ) -> list[PlannedOrder]:
        """Close the symbol's position: all of it (a flatten of the instrument: its working
        orders canceled, the position closed), or with a quantity that much of it (a
        reduce-only order, never more than is held). An action named for a side closes only
        a position on that side."""
        assert shown.symbol is not None
        size = _units_only(intent)  # (exits in the alert are ignored: a close is an exit)
        if option is None:
            ids = [InstrumentId(shown.symbol)]
        else:
            if size is not None:
                raise MappingError(
                    AlertReason.AMBIGUOUS,
                    f"a close of {option} addresses every contract of it the bot holds: give no "
                    "quantity, or name the contract",
                )
            ids = self._held(bot, option, working=True)
            if not ids:
                return [
                    _with(
                        shown,
                        None,
                        f"nothing to close: bot {bot.id} has no {option} "
                        f"contract ({option.underlying} {option.right} on {option.venue})",
                    )
                ]
        plans = []
        for iid in ids:
            command_key = self._close_key(bot, iid, key, option)
            position = self._engine.position(bot.account_id, bot.id, iid)
            shown_here = replace(shown, symbol=iid.value)
            wrong = _wrong_side(intent, position)
            if wrong:
                plans.append(_with(shown_here, None, f"nothing to close in {iid}: {wrong}"))
            elif size is None or (position != 0 and size.value >= abs(position)):
                # A close of it all is a flatten. Every close goes at market whatever the
                # alert's order type (explain says so): a resting reduce-only close would block
                # the bot's own stop-loss (reduce-only orders may not add up to more than is
                # held), and entries left working could reopen the position.
                command = Flatten(
                    account_id=bot.account_id,
                    bot_id=bot.id,
                    instrument_id=iid,
                    idempotency_key=command_key,
                )
                plans.append(_with(shown_here, command))
            else:
                plans.extend(
                    self._partial_close(bot, intent, shown_here, iid, position, command_key)
                )
        return plans

    def _partial_close(
        self,
        bot: Bot,
        intent: Intent,
        shown: PlannedOrder,
        iid: InstrumentId,
        position: Decimal,
        key: str,
    ) -> list[PlannedOrder]:
        """A reduce-only market order for the quantity, less than what is held, sliced above
        the freeze quantity."""
        assert intent.size is not None
        if position == 0:
            return [_with(shown, None, f"nothing to close: bot {bot.id} holds no {iid}")]
        instrument = self._instrument(iid, intent)
        try:
            qty = _whole_lots(instrument, intent.size.value)
        except (ArithmeticError, ValueError) as exc:
            raise MappingError(AlertReason.BAD_VALUE, f"{iid}: {exc}") from None
        side = OrderSide.SELL if position > 0 else OrderSide.BUY
        command = SubmitOrder(
            account_id=bot.account_id,
            instrument_id=iid,
            side=side,
            order_type=OrderType.MARKET,  # see _close: a close never rests
            quantity=qty,
            bot_id=bot.id,
            reduce_only=True,
            idempotency_key=key,
        )
        return self._sliced(_with(shown, command, quantity=str(qty.value), side=side))

    def _close_key(self, bot: Bot, iid: InstrumentId, key: str, option: OptionSymbol | None) -> str:
        """A close of one instrument goes under the alert's own key, which a retry finds
        before planning again (a partial close planned again on what is left would differ);
        of an option symbol's contracts, under a key per contract. A close journaled under a
        contract's key by an earlier version keeps that key: a retry across an upgrade replays
        it when planned the same, and is refused IDEMPOTENCY_KEY_REUSED (nothing sent twice)
        when planned otherwise."""
        per_contract = target_key(key, iid.value)
        if option is not None or self._engine.recorded(bot.account_id, per_contract) is not None:
            return per_contract
        return key

    def _instrument(self, iid: InstrumentId, intent: Intent) -> Instrument:
        instrument = self._market.instrument(iid)
        if instrument is None:
            raise MappingError(
                AlertReason.UNKNOWN_SYMBOL,
                f"instrument {iid} (mapped from {intent.symbol!r}) is not in the instrument master",
            )
        return instrument

    def _cancel(
        self, bot: Bot, shown: PlannedOrder, key: str, option: OptionSymbol | None = None
    ) -> list[PlannedOrder]:
        matching = set(self._held(bot, option, working=True)) if option is not None else None
        working = [
            o
            for o in self._engine.open_orders(bot.account_id, bot.id)
            if (matching is not None and o.instrument_id in matching)
            or (
                matching is None and (shown.symbol is None or o.instrument_id.value == shown.symbol)
            )
        ]
        if not working:
            return [_with(shown, None, "no working order to cancel")]
        return [
            _with(
                shown,
                CancelOrder(
                    account_id=bot.account_id,
                    client_order_id=order.client_order_id,
                    idempotency_key=target_key(key, order.client_order_id.value),
                ),
            )
            for order in working
        ]

    def _reference(self, intent: Intent, instrument: Instrument) -> Decimal | None:
        if intent.price is not None:
            return intent.price
        mark = self._market.mark(instrument.id)
        if mark is not None:
            return mark.price
        return intent.signal_price

    def _equity(self, bot: Bot, instrument: Instrument) -> Decimal:
        book = self._engine.book(bot.account_id, bot.id)
        marks = {}
        for pos in book.open_positions:
            mark = self._market.mark(pos.instrument_id)
            if mark is not None:
                marks[pos.instrument_id] = mark.price
        try:
            return book.equity(marks).get(instrument.currency.code, Decimal(0))
        except MissingMarkError as exc:
            raise MappingError(AlertReason.SIZING, f"cannot value bot {bot.id}: {exc}") from None

    @exact_arithmetic
    def _level(
        self, level: Level | None, side: OrderSide, ref: Decimal | None, inst: Instrument, sl: bool
    ) -> Price | None:
        if level is None:
            return None
        if level.unit is LevelUnit.PRICE:
            value = level.value
        else:
            if ref is None:
                raise MappingError(
                    AlertReason.SIZING,
                    f"an exit of {describe_level(level)} needs a reference price: no mark for "
                    f"{inst.id} and no price in the alert",
                )
            with rounded():
                distance = (
                    ref * level.value / 100 if level.unit is LevelUnit.PERCENT else level.value
                )
            below = (side is OrderSide.BUY) == sl
            value = ref - distance if below else ref + distance
        try:
            placed: Price | None = inst.make_price(value, ROUND_HALF_EVEN) if value > 0 else None
        except ValueError:
            placed = None
        if placed is None or placed.value <= 0:  # 0.001 on a 0.01 tick rounds to 0
            raise MappingError(
                AlertReason.BAD_VALUE,
                f"exit price {value} is not above zero on {inst.id}'s tick of {inst.tick_size}",
            )
        return placed

    def _entry(
        self,
        bot: Bot,
        intent: Intent,
        shown: PlannedOrder,
        instrument: Instrument,
        position: Decimal,
        key: str,
    ) -> PlannedOrder:
        side = OrderSide.BUY if intent.action is AlertAction.BUY else OrderSide.SELL
        size = intent.size if intent.size is not None else _default_size(bot)
        assert size is not None  # describe() refused the rest
        reduces = False
        if size.unit is SizeUnit.TARGET:
            if size.value != 0:
                _whole_lots(instrument, abs(size.value))  # a target is whole lots, or refused
            # The target decides the side (a "buy" alert may carry a smaller long target), and
            # a move toward flat that does not cross it is an exit: reduce-only, no new exits.
            side = OrderSide.BUY if size.value > position else OrderSide.SELL
            reduces = abs(size.value) < abs(position) and size.value * position >= 0
        elif size.unit is SizeUnit.UNITS and intent.size is not None:
            _whole_lots(instrument, size.value)  # as the alert says, or refused: never floored
        ref = self._reference(intent, instrument)
        if reduces and (intent.stop_loss or intent.take_profit or intent.trailing):
            raise MappingError(
                AlertReason.AMBIGUOUS,
                f"target {size.value} shrinks the position {position}: an exit order takes no "
                "stop-loss, take-profit or trailing stop",
            )
        stop = self._level(intent.stop_loss, side, ref, instrument, sl=True)
        target = self._level(intent.take_profit, side, ref, instrument, sl=False)
        equity = Decimal(0)
        if size.unit in (SizeUnit.PERCENT_EQUITY, SizeUnit.RISK_PERCENT):
            if ref is None:
                raise MappingError(
                    AlertReason.SIZING,
                    f"sizing by {size.unit} needs a price: no mark for {instrument.id} and no "
                    "price in the alert",
                )
            equity = self._equity(bot, instrument)
        try:
            side, qty = size_order(
                _rule(size),
                instrument,
                side,
                ref if ref is not None else Decimal(0),
                equity,
                stop=stop.value if stop is not None else None,
                position=position,
                target=size.value if size.unit is SizeUnit.TARGET else None,
            )
        except SizingError as exc:
            raise MappingError(AlertReason.SIZING, f"bot {bot.id}: {exc}") from None
        if qty.value == 0 and size.unit is SizeUnit.TARGET:
            return _with(shown, None, f"nothing to do: the position is already {position}")
        if qty.value == 0:
            raise MappingError(
                AlertReason.SIZING,
                f"sizing by {size.unit} gives less than one lot ({instrument.lot_size}) of "
                f"{instrument.id}",
            )
        exits = ExitPlan(stop_loss=stop, take_profit=target, trailing=_trail(intent))
        price, trigger = self._prices(intent, instrument)
        command = SubmitOrder(
            account_id=bot.account_id,
            instrument_id=instrument.id,
            side=side,
            order_type=intent.order_type,
            quantity=qty,
            price=price,
            trigger_price=trigger,
            bot_id=bot.id,
            reduce_only=reduces,
            target_price=target,
            exits=None if exits.empty else exits,
            idempotency_key=key,
        )
        return _with(shown, command, quantity=str(qty.value), side=side)

    @staticmethod
    def _prices(intent: Intent, instrument: Instrument) -> tuple[Price | None, Price | None]:
        if intent.price is None or intent.order_type is OrderType.MARKET:
            return None, None
        px = instrument.make_price(intent.price, ROUND_HALF_EVEN)
        if intent.order_type is OrderType.LIMIT:
            return px, None
        return (None, px) if intent.order_type is OrderType.STOP else (px, px)

    def _reverse(
        self,
        bot: Bot,
        intent: Intent,
        shown: PlannedOrder,
        instrument: Instrument,
        position: Decimal,
        key: str,
    ) -> PlannedOrder:
        """One market order that closes the position and opens the other way, the new
        position the size in units (none: the same size). It takes no other order type and no
        exits (see :func:`_reverse_only_at_market`)."""
        _reverse_only_at_market(intent)
        wrong = _wrong_side(intent, position)
        if wrong:
            return _with(shown, None, f"nothing to reverse: {wrong}")
        if position == 0:
            return _with(shown, None, f"nothing to reverse: bot {bot.id} is flat")
        side = OrderSide.SELL if position > 0 else OrderSide.BUY
        size = _units_only(intent)
        new = size.value if size is not None else abs(position)
        qty = _whole_lots(instrument, abs(position) + new)
        command = SubmitOrder(
            account_id=bot.account_id,
            instrument_id=instrument.id,
            side=side,
            order_type=OrderType.MARKET,
            quantity=qty,
            bot_id=bot.id,
            idempotency_key=key,
        )
        return _with(shown, command, quantity=str(qty.value), side=side)


def _action_name(intent: Intent) -> str:
    """The action as explain shows it: close_long for exit_long, and so on."""
    side = intent.position_side
    if side is None:
        return intent.action.value
    if intent.action is AlertAction.REVERSE:
        other = PositionSide.SHORT if side is PositionSide.LONG else PositionSide.LONG
        return f"reverse_{side.value}_to_{other.value}"
    return f"{intent.action.value}_{side.value}"


def _as_close(intent: Intent) -> Intent:
    """A target position of 0 is a close of it all: the bot's orders in the instrument
    canceled and the position closed at market (for an option symbol, every contract of it,
    with no spot needed); exits sent with it are ignored, as in any close."""
    size = intent.size
    if (
        intent.action in (AlertAction.BUY, AlertAction.SELL)
        and size is not None
        and size.unit is SizeUnit.TARGET
        and size.value == 0
    ):
        return replace(intent, action=AlertAction.CLOSE, size=None)
    return intent


def _closes_by_order(intent: Intent) -> bool:
    """A close (or flatten) of a symbol with a quantity: sent as an order that may be sliced,
    which a retry must resume rather than plan again."""
    return (
        intent.action in (AlertAction.CLOSE, AlertAction.FLATTEN)
        and intent.symbol is not None
        and intent.size is not None
        and intent.size.unit is SizeUnit.UNITS
    )


def _units_only(intent: Intent) -> Size | None:
    """A close's or a reverse's size: units, or none (all of the position; for a close a
    target of 0 too); anything else is refused."""
    size = intent.size
    if size is None:
        return None
    closing = intent.action in (AlertAction.CLOSE, AlertAction.FLATTEN)
    if closing and size.unit is SizeUnit.TARGET and size.value == 0:
        return None  # a target of 0 is a close of it all
    if size.unit is not SizeUnit.UNITS:
        raise MappingError(
            AlertReason.UNKNOWN_UNITS,
            f"{intent.action.value} takes a quantity in units, or none for the whole position; "
            f"was {size.unit}",
        )
    return size


def _reverse_only_at_market(intent: Intent) -> None:
    """A reverse goes at market with no exits: one order covers the close and the new
    position, so a resting one could be sent again before it fills (doubling the new
    position), and its exits would be armed by the closing part too. Send a close, then a buy
    or sell with its order type and exits."""
    if intent.order_type is not OrderType.MARKET:
        raise MappingError(
            AlertReason.AMBIGUOUS,
            f"reverse goes at market, was {intent.order_type.value}: send a close, then a buy "
            "or sell at your price",
        )
    if intent.stop_loss or intent.take_profit or intent.trailing:
        raise MappingError(
            AlertReason.AMBIGUOUS,
            "reverse takes no stop-loss, take-profit or trailing stop: send a close, then a buy "
            "or sell with them",
        )


def _wrong_side(intent: Intent, position: Decimal) -> str:
    """Why an action named for one side of the position does nothing here ('' when it acts)."""
    side = intent.position_side
    if side is None:
        return ""
    if (side is PositionSide.LONG and position > 0) or (
        side is PositionSide.SHORT and position < 0
    ):
        return ""
    held = "flat" if position == 0 else f"{'long' if position > 0 else 'short'} {abs(position)}"
    return f"{_action_name(intent)} is for a {side.value} position, and the bot is {held}"


def _whole_lots(instrument: Instrument, value: Decimal) -> Quantity:
    """``value`` as a quantity of ``instrument``, refused unless it is whole lots (a quantity
    an alert states is never floored)."""
    qty = instrument.make_qty(value, ROUND_DOWN)
    if qty.value != value or qty.value <= 0:
        raise MappingError(
            AlertReason.BAD_VALUE,
            f"quantity {value} of {instrument.id}: expected a positive whole number of lots of "
            f"{instrument.lot_size}",
        )
    return qty


def _trail(intent: Intent) -> Trailing | None:
    if intent.trailing is None:
        return None
    if intent.trailing.unit is LevelUnit.PRICE:
        raise MappingError(
            AlertReason.UNKNOWN_UNITS, "a trailing stop is a distance: give % or points"
        )
    unit = (
        TrailingUnit.PERCENT if intent.trailing.unit is LevelUnit.PERCENT else TrailingUnit.POINTS
    )
    return Trailing(intent.trailing.value, unit)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _price(value: Price | None) -> str | None:
    return str(value.value) if value is not None else None


def _trailing(value: Trailing | None) -> str | None:
    if value is None:
        return None
    return f"{value.distance}{'%' if value.unit is TrailingUnit.PERCENT else ' points'}"


def _with(
    shown: PlannedOrder,
    command: Command | None,
    note: str = "",
    *,
    quantity: str | None = None,
    side: OrderSide | None = None,
) -> PlannedOrder:
    changes: dict[str, object] = {"command": command, "note": note}
    if quantity is not None:
        changes["quantity"] = quantity
        changes["sizing"] = SizeUnit.UNITS.value
    if side is not None:
        changes["action"] = side.value.lower()
    return replace(shown, **changes)  # type: ignore[arg-type]
