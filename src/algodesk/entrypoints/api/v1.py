"""``/api/v1``: sign-in, accounts and portfolio, orders, fills, ledger, bots, alerts, risk and
the kill switch. Every route needs a principal; writes need the role's permission.

Annotations here are evaluated when the routes are defined (no ``from __future__ import
annotations``): FastAPI must see the dependencies, which are local to :func:`api_router`.

Bad input gets a 4xx with ``{"ok": false, "reason": code, "message": text}``; nothing here
answers 500 for a request, however malformed.
"""

import secrets
import threading
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.domain.bots import BotError
from algodesk.domain.commands import CancelOrder, SetTradingState, SubmitOrder
from algodesk.domain.fills import OrderSide
from algodesk.domain.identifiers import AccountId, BotId, ClientOrderId, InstrumentId
from algodesk.domain.orders import OrderType, TimeInForce
from algodesk.domain.risk.base import TradingState
from algodesk.domain.users import Permission, Principal
from algodesk.domain.values import Price, Quantity
from algodesk.entrypoints.api import pools
from algodesk.entrypoints.api.errors import refused
from algodesk.entrypoints.api.security import authenticated, require
from algodesk.ports.inbox import AlertStatus, InboxEntry
from algodesk.ports.signals import DEFAULT_SECRET_FIELD
from algodesk.services.auth import AuthError
from algodesk.services.exits import ExitView
from algodesk.services.outcomes import Outcome
from algodesk.services.queries import Queries, iso

__all__ = ["api_router"]

Json = dict[str, Any]
_IDENT = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"


def _outcome(outcome: Outcome) -> Json:
    return {**outcome.payload(), "replayed": outcome.replayed}


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Refresh(BaseModel):
    refresh_token: str = Field(min_length=1, max_length=4096)


class NewOrder(BaseModel):
    account: str = Field(pattern=_IDENT)
    instrument: str = Field(min_length=3, max_length=100)
    side: Literal["BUY", "SELL"]
    order_type: Literal["MARKET", "LIMIT", "STOP", "STOP_LIMIT"] = "MARKET"
    quantity: str = Field(min_length=1, max_length=40, description="A decimal string")
    price: str | None = Field(default=None, max_length=40)
    trigger_price: str | None = Field(default=None, max_length=40)
    time_in_force: Literal["DAY", "IOC", "GTC"] = "DAY"
    bot: str | None = Field(default=None, pattern=_IDENT)
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[^:]+$",
        description="Makes the request idempotent; no ':' (the desk derives keys with it).",
    )


class TradingStateChange(BaseModel):
    account: str = Field(pattern=_IDENT)
    state: Literal["ACTIVE", "REDUCING", "HALTED"]
    reason: str = Field(min_length=1, max_length=500)
    bot: str | None = Field(default=None, pattern=_IDENT)


class BreakerReset(BaseModel):
    account: str = Field(pattern=_IDENT)
    bot: str | None = Field(default=None, pattern=_IDENT)


class KillRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class KillConfirm(BaseModel):
    confirm: str = Field(min_length=1, max_length=100)


class BotAction(BaseModel):
    reason: str = Field(default="", max_length=500)


def _exit_json(view: ExitView) -> Json:
    plan, denied, trail = view.plan, view.denied, view.plan.trailing
    return {
        "entry": view.entry.value,
        "account": view.account.value,
        "bot": view.bot.value if view.bot else None,
        "instrument": view.instrument_id.value,
        "direction": "long" if view.side is OrderSide.BUY else "short",  # the position's
        "quantity": str(view.quantity),
        "stop_loss": str(plan.stop_loss) if plan.stop_loss else None,
        "take_profit": str(plan.take_profit) if plan.take_profit else None,
        "trailing": {"distance": str(trail.distance), "unit": trail.unit.value} if trail else None,
        "trailing_stop": str(view.trailing_stop) if view.trailing_stop is not None else None,
        "state": view.state,
        "denied": {
            "exit": denied.kind.value,
            "code": denied.code,
            "message": denied.message,
            "since": iso(denied.since),
            "tried": iso(denied.tried),
        }
        if denied
        else None,
    }


def _decimal(name: str, text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        raise refused("bad_value", f"{name}: expected a decimal number, was {text!r}") from None
    if not value.is_finite():
        raise refused("bad_value", f"{name}: expected a finite number, was {text!r}")
    return value


def _ident(kind: type[Any], text: str, what: str) -> Any:
    try:
        return kind(text)
    except ValueError as exc:
        raise refused("bad_value", f"{what}: {exc}") from None


class _KillConfirmations:
    """Two-step kill switch: a request returns a short-lived code; only the same user's
    confirmation with that code pulls it."""

    ttl = timedelta(seconds=60)

    def __init__(self) -> None:
        self._pending: dict[str, tuple[str, str, Any]] = {}
        self._lock = threading.Lock()

    def ask(self, user: str, reason: str, now: Any) -> str:
        code = secrets.token_urlsafe(12)
        with self._lock:
            self._pending = {k: v for k, v in self._pending.items() if v[2] > now}
            self._pending[code] = (user, reason, now + self.ttl)
        return code

    def take(self, user: str, code: str, now: Any) -> str | None:
        with self._lock:
            found = self._pending.pop(code, None)
        if found is None or found[0] != user or found[2] <= now:
            return None
        return found[1]


def api_router(runtime: DeskRuntime) -> APIRouter:  # noqa: PLR0915 - one route table
    router = APIRouter(prefix="/api/v1")
    auth = runtime.auth
    queries = Queries(
        runtime.desk.snapshot_factory, runtime.desk.ledger, runtime.market, runtime.parser
    )
    reader = Annotated[Principal, Depends(require(auth, Permission.READ))]
    trader = Annotated[Principal, Depends(require(auth, Permission.TRADE))]
    bot_manager = Annotated[Principal, Depends(require(auth, Permission.MANAGE_BOTS))]
    killer = Annotated[Principal, Depends(require(auth, Permission.KILL_SWITCH))]
    resetter = Annotated[Principal, Depends(require(auth, Permission.RESET_BREAKERS))]
    state_setter = Annotated[Principal, Depends(require(auth, Permission.SET_TRADING_STATE))]
    anyone = Annotated[Principal, Depends(authenticated(auth))]
    kills = _KillConfirmations()

    def tokens(pair: Any) -> Json:
        return {
            "access_token": pair.access_token,
            "refresh_token": pair.refresh_token,
            "token_type": pair.token_type,
            "access_expires_at": iso(pair.access_expires_at),
            "refresh_expires_at": iso(pair.refresh_expires_at),
        }

    # -- sign-in -----------------------------------------------------------------------------

    # Signing in (a password hash) runs in a pool of its own and a refresh with the credential
    # checks, not in the reads': an admin whose token ran out must reach the kill switch
    # however slow the reads are (see pools).
    @router.post("/auth/login", tags=["auth"], responses={401: {}})
    async def login(body: Login) -> Json:
        try:
            return tokens(await pools.signing_in(auth.login, body.username, body.password))
        except AuthError as exc:
            raise refused(exc.code, str(exc), 401) from None

    @router.post("/auth/refresh", tags=["auth"], responses={401: {}})
    async def refresh(body: Refresh) -> Json:
        try:
            return tokens(await pools.authenticating(auth.refresh, body.refresh_token))
        except AuthError as exc:
            raise refused(exc.code, str(exc), 401) from None

    @router.get("/me", tags=["auth"], responses={401: {}})
    def me(who: anyone) -> Json:
        permissions = sorted(p.value for p in Permission if who.role.can(p))
        return {
            "user": who.username,
            "role": who.role.value,
            "via": who.via,
            "permissions": permissions,
        }

    # -- accounts, portfolio, orders, fills --------------------------------------------------

    @router.get("/accounts", tags=["portfolio"], responses={401: {}, 403: {}})
    def accounts(_: reader) -> Json:
        return {"accounts": queries.accounts()}

    @router.get(
        "/accounts/{account}/summary",
        tags=["portfolio"],
        responses={401: {}, 403: {}, 404: {}, 422: {}},
    )
    def summary(account: str, _: reader, bot: str | None = None) -> Json:
        account_id = _ident(AccountId, account, "account")
        if account_id.value not in queries.accounts():
            raise refused("not_found", f"no account {account}", 404)
        bot_id = _ident(BotId, bot, "bot") if bot else None
        return queries.summary(account_id, bot_id)

    @router.get("/positions", tags=["portfolio"], responses={401: {}, 403: {}, 422: {}})
    def positions(_: reader, account: str | None = None) -> Json:
        wanted = [account] if account else queries.accounts()
        rows: list[object] = []
        for name in wanted:
            found = queries.summary(_ident(AccountId, name, "account"))["positions"]
            rows.extend(found if isinstance(found, list) else [])
        return {"positions": rows}

    @router.get("/exits", tags=["portfolio"], responses={401: {}, 403: {}, 422: {}})
    def exits(_: reader, account: str | None = None) -> Json:
        """The stop-losses, take-profits and trailing stops that guard open positions now,
        each with its state: armed, denied (it fired and the gates keep it out, with their
        code and message), in flight, or retrying (sent, its answer not recorded yet)."""
        wanted = _ident(AccountId, account, "account") if account else None
        views = [v for v in runtime.exits.views() if wanted is None or v.account == wanted]
        views.sort(key=lambda v: (v.account.value, v.instrument_id.value, v.entry.value))
        return {"exits": [_exit_json(v) for v in views]}

    @router.get("/orders", tags=["orders"], responses={401: {}, 403: {}, 422: {}})
    def orders(
        _: reader,
        account: str | None = None,
        open_only: bool = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> Json:
        account_id = _ident(AccountId, account, "account") if account else None
        return {"orders": queries.orders(account_id, open_only, limit)}

    @router.post("/orders", tags=["orders"], responses={401: {}, 403: {}, 422: {}})
    async def submit(body: NewOrder, _: trader) -> Json:
        qty = _decimal("quantity", body.quantity)
        assert qty is not None
        try:
            command = SubmitOrder(
                account_id=AccountId(body.account),
                instrument_id=InstrumentId(body.instrument),
                side=OrderSide(body.side),
                order_type=OrderType(body.order_type),
                quantity=Quantity(qty),
                price=Price(p) if (p := _decimal("price", body.price)) is not None else None,
                trigger_price=Price(t)
                if (t := _decimal("trigger_price", body.trigger_price)) is not None
                else None,
                time_in_force=TimeInForce(body.time_in_force),
                bot_id=BotId(body.bot) if body.bot else None,
                idempotency_key=f"api:{body.idempotency_key}" if body.idempotency_key else None,
            )
        except (ValueError, TypeError) as exc:
            raise refused("bad_value", str(exc)) from None
        result = await pools.command(runtime.slicer.submit, command)
        answer = _outcome(result.summary())
        if result.sliced:  # above the freeze quantity: the child orders, in order
            skipped = {"ok": False, "code": "NOT_SENT", "message": "another child was refused"}
            answer["children"] = [
                {"quantity": str(child.quantity.value)}
                | (_outcome(outcome) if outcome is not None else skipped)
                for child, outcome in zip(result.children, result.results, strict=True)
            ]
        return answer

    @router.delete(
        "/orders/{client_order_id}", tags=["orders"], responses={401: {}, 403: {}, 404: {}, 422: {}}
    )
    async def cancel(client_order_id: str, _: trader) -> Json:
        coid = _ident(ClientOrderId, client_order_id, "client_order_id")
        order = queries.order(coid)
        if order is None:
            raise refused("not_found", f"no order {client_order_id}", 404)
        command = CancelOrder(account_id=AccountId(str(order["account"])), client_order_id=coid)
        return _outcome(await pools.command(runtime.engine.handle, command))

    @router.get("/fills", tags=["orders"], responses={401: {}, 403: {}, 422: {}})
    def fills(
        _: reader, account: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 200
    ) -> Json:
        account_id = _ident(AccountId, account, "account") if account else None
        return {"fills": queries.fills(account_id, limit)}

    # -- ledger ------------------------------------------------------------------------------

    @router.get("/ledger/entries", tags=["ledger"], responses={401: {}, 403: {}, 422: {}})
    def entries(
        _: reader, account: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> Json:
        account_id = _ident(AccountId, account, "account") if account else None
        return {"entries": queries.entries(account_id, limit)}

    @router.get("/ledger/verify", tags=["ledger"], responses={401: {}, 403: {}})
    def verify(_: reader) -> Json:
        return queries.verify()

    @router.get(
        "/ledger/reconcile",
        tags=["ledger"],
        summary="Our orders, fills and ledger against each other and the venues",
        responses={401: {}, 403: {}},
    )
    def reconcile_ledger(_: reader) -> Json:
        done = runtime.reconcile()
        return {
            "ok": done.ok,
            "fills": done.fills,
            "orders": done.orders,
            "venues": {v.value: {"working": n} for v, n in done.venue_orders.items()},
            "venues_not_listed": [v.value for v in done.venues_not_listed],
            "differences": [
                {
                    "kind": d.kind,
                    "account": d.account.value,
                    "subject": d.subject,
                    "message": d.message,
                }
                for d in done.differences
            ],
        }

    # -- bots --------------------------------------------------------------------------------

    def bot_json(bot_id: BotId) -> Json:
        bot = runtime.bots.get(bot_id)
        if bot is None:
            raise refused("not_found", f"no bot {bot_id}", 404)
        return runtime.bot_admin.view(bot)

    @router.get("/bots", tags=["bots"], responses={401: {}, 403: {}})
    def bots(_: reader) -> Json:
        return {"bots": [bot_json(b.id) for b in runtime.bots.list()]}

    @router.get("/bots/{bot}", tags=["bots"], responses={401: {}, 403: {}, 404: {}, 422: {}})
    def bot(bot: str, _: reader) -> Json:
        return bot_json(_ident(BotId, bot, "bot"))

    @router.post(
        "/bots/{bot}/{action}",
        tags=["bots"],
        responses={401: {}, 403: {}, 404: {}, 409: {}, 422: {}},
    )
    async def bot_action(
        bot: str,
        action: Literal["start", "pause", "resume", "stop"],
        who: bot_manager,
        body: BotAction | None = None,
    ) -> Json:
        bot_id = _ident(BotId, bot, "bot")
        bot_json(bot_id)
        reason = body.reason if body else ""
        try:
            if action == "stop":
                await pools.command(
                    runtime.bots.stop, bot_id, who.username, reason, runtime.engine.handle
                )
            else:
                runtime.bots.move(bot_id, action, who.username, reason)
        except BotError as exc:
            raise refused("conflict", str(exc), 409) from None
        return bot_json(bot_id)

    @router.get(
        "/bots/{bot}/webhook", tags=["bots"], responses={401: {}, 403: {}, 404: {}, 422: {}}
    )
    def bot_webhook(bot: str, _: bot_manager) -> Json:
        bot_id = _ident(BotId, bot, "bot")
        bot_json(bot_id)
        hook = runtime.hooks.active(bot_id)
        if hook is None:
            raise refused("not_found", f"bot {bot} has no webhook", 404)
        # Never the token: it is shown once, when the bot is created or the token rotated.
        return {
            "hook": hook.id,
            "created_at": iso(hook.created_at),
            "path": "/webhooks/tradingview/<token>",
            "rotate": f"POST /api/v1/bots/{bot_id}/webhook/rotate for a new token",
            "secret_field": hook.secret_field,
            "has_secret": hook.secret is not None,
            "message": (
                '{"action": "{{strategy.order.action}}", "symbol": "{{ticker}}", '
                '"position_size": "{{strategy.position_size}}", "timenow": "{{timenow}}"}'
            ),
        }

    # -- alerts ------------------------------------------------------------------------------

    def alert_view(entry: InboxEntry, fields: dict[str, str] | None = None) -> Json:
        """``fields``: the secret fields of the hooks looked up so far (a hook's never
        changes), so that a page of alerts reads each of its hooks once, not once an alert."""
        field = fields.get(entry.hook_id) if fields is not None else None
        if field is None:
            hook = runtime.hook_store.get(entry.hook_id)
            field = hook.secret_field if hook is not None else DEFAULT_SECRET_FIELD
            if fields is not None:
                fields[entry.hook_id] = field
        return queries.alert_json(entry, field)

    @router.get("/alerts", tags=["alerts"], responses={401: {}, 403: {}, 422: {}})
    def alerts(
        _: reader,
        bot: str | None = None,
        status: AlertStatus | None = None,
        before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> Json:
        bot_id = _ident(BotId, bot, "bot") if bot else None
        found = runtime.inbox.list(bot_id=bot_id, status=status, before_id=before, limit=limit)
        fields: dict[str, str] = {}
        return {"alerts": [alert_view(e, fields) for e in found]}

    @router.get(
        "/alerts/{alert_id}", tags=["alerts"], responses={401: {}, 403: {}, 404: {}, 422: {}}
    )
    def alert(alert_id: Annotated[int, Path(ge=1, le=2**62)], _: reader) -> Json:
        entry = runtime.inbox.get(alert_id)
        if entry is None:
            raise refused("not_found", f"no alert {alert_id}", 404)
        return alert_view(entry)

    # -- risk --------------------------------------------------------------------------------

    @router.get("/trading-state", tags=["risk"], responses={401: {}, 403: {}})
    def trading_state(_: reader) -> Json:
        states = {a: runtime.engine.trading_state(AccountId(a)).value for a in queries.accounts()}
        return {"accounts": states}

    @router.post("/trading-state", tags=["risk"], responses={401: {}, 403: {}, 422: {}})
    async def set_trading_state(body: TradingStateChange, who: state_setter) -> Json:
        command = SetTradingState(
            account_id=AccountId(body.account),
            state=TradingState(body.state),
            reason=f"{who.username}: {body.reason}",
            bot_id=BotId(body.bot) if body.bot else None,
        )
        return _outcome(await pools.command(runtime.engine.handle, command))

    @router.post("/breakers/reset", tags=["risk"], responses={401: {}, 403: {}, 422: {}})
    async def reset_breakers(body: BreakerReset, who: resetter) -> Json:
        bot_id = BotId(body.bot) if body.bot else None
        outcome = await pools.command(
            runtime.engine.reset_breakers, AccountId(body.account), bot_id, who.username
        )
        return _outcome(outcome)

    @router.post(
        "/kill-switch", tags=["risk"], status_code=202, responses={401: {}, 403: {}, 422: {}}
    )
    async def kill_request(body: KillRequest, who: killer) -> Json:  # no thread: see pools
        code = kills.ask(who.user_id, body.reason, runtime.clock.now())
        return {
            "confirm": code,
            "expires_in": int(kills.ttl.total_seconds()),
            "message": "POST /api/v1/kill-switch/confirm with this code to halt and flatten all",
        }

    @router.post(
        "/kill-switch/confirm", tags=["risk"], responses={401: {}, 403: {}, 409: {}, 422: {}}
    )
    async def kill_confirm(body: KillConfirm, who: killer) -> Json:
        reason = kills.take(who.user_id, body.confirm, runtime.clock.now())
        if reason is None:
            raise refused("no_confirmation", "unknown or expired confirmation code; ask again", 409)
        outcome = await pools.command(runtime.kill_switch, who.username, reason)
        return _outcome(outcome)

    return router
