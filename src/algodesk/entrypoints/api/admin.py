"""``/api/v1``: bot administration (create, edit, delete, rotate the webhook token), limits
(configuration and usage) and circuit breakers (status and trip history).

Annotations here are evaluated when the routes are defined (no ``from __future__ import
annotations``): FastAPI must see the dependencies, which are local to :func:`admin_router`.

Bad input gets a 4xx with ``{"ok": false, "reason", "message"}``. A webhook token is in an
answer only when it is new (create, rotate): it is shown once and never again.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.domain.identifiers import AccountId
from algodesk.domain.users import Permission, Principal
from algodesk.entrypoints.api import pools
from algodesk.entrypoints.api.errors import refused
from algodesk.entrypoints.api.security import require
from algodesk.ports.webhooks import Hook
from algodesk.services.bot_admin import BotSpec, Refused
from algodesk.services.demo import PAPER_ACCOUNT
from algodesk.services.limits import LimitError, patch_breakers
from algodesk.services.queries import iso
from algodesk.services.webhooks import webhook_path

__all__ = ["admin_router"]

Json = dict[str, Any]
_IDENT = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"
_DEC = Field(default=None, max_length=40, description="A decimal string; null: no limit")
_COUNT = Field(default=None, ge=0, le=10**9)
_STATUS = {"not_found": 404, "conflict": 409, "bad_value": 422}
_ERRORS: dict[int | str, dict[str, Any]] = {401: {}, 403: {}, 422: {}}


def _refused(exc: Refused) -> HTTPException:
    return refused(exc.reason, str(exc), _STATUS[exc.reason])


def _bad(message: str, reason: str = "bad_value", status: int = 422) -> HTTPException:
    return refused(reason, message, status)


class Limits(BaseModel):
    """Gate limits; a field left out keeps its value, ``null`` switches a limit off."""

    model_config = ConfigDict(extra="forbid")
    price_band_pct: str | None = _DEC
    mark_max_age_seconds: str | None = _DEC
    max_notional: str | None = _DEC
    max_position_qty: str | None = _DEC
    max_position_notional: str | None = _DEC
    max_gross_exposure: str | None = _DEC
    max_net_exposure: str | None = _DEC
    max_underlying_exposure: str | None = _DEC
    max_open_positions: int | None = _COUNT
    max_open_orders: int | None = _COUNT
    max_open_orders_per_instrument: int | None = _COUNT
    max_trades_per_day: int | None = _COUNT
    max_orders_per_second: int | None = _COUNT
    margin_rate: str | None = _DEC
    fee_safety_bps: str | None = _DEC
    slippage_buffer_bps: str | None = _DEC
    pdt: bool | None = None
    pdt_equity_threshold: str | None = _DEC
    pdt_max_day_trades: int | None = _COUNT


class Breakers(BaseModel):
    """Circuit breaker settings; a field left out keeps its value, ``null`` switches a
    breaker off."""

    model_config = ConfigDict(extra="forbid")
    max_drawdown_pct: str | None = _DEC
    daily_loss_pct: str | None = _DEC
    max_consecutive_losses: int | None = _COUNT
    max_errors_per_hour: int | None = _COUNT
    drawdown_action: Literal["HALTED", "REDUCING"] | None = None
    daily_loss_action: Literal["HALTED", "REDUCING"] | None = None
    consecutive_losses_action: Literal["HALTED", "REDUCING"] | None = None
    error_rate_action: Literal["HALTED", "REDUCING"] | None = None
    reset_after_seconds: str | None = _DEC


class Sizing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: Literal["fixed", "percent_of_equity", "risk_percent", "target_position"]
    quantity: str | None = Field(default=None, max_length=40)
    percent: str | None = Field(default=None, max_length=40)


_SYMBOLS: Any = Field(
    default_factory=dict,
    max_length=200,
    description="TradingView ticker → instrument id of the bot's venue, e.g. "
    '{"AAPL": "AAPL.PAPER"}, or an option symbol resolved at alert time, e.g. '
    '{"NIFTY_CE": "NIFTY:nearest:OTM2:CE"}',
)


class NewBot(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=_IDENT)
    account: str = Field(default=PAPER_ACCOUNT.value, pattern=_IDENT)
    venue: str = Field(default="PAPER", pattern=r"^[A-Z0-9_]{2,32}$")
    allocation: str = Field(min_length=1, max_length=40, description="A decimal string")
    currency: str | None = Field(default=None, pattern=r"^[A-Z0-9]{2,12}$")
    symbol_map: dict[str, str] = _SYMBOLS
    sizing: Sizing | None = None
    limits: Limits | None = None
    webhook_secret: str | None = Field(default=None, min_length=8, max_length=200)


class BotChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    allocation: str | None = Field(default=None, min_length=1, max_length=40)
    symbol_map: dict[str, str] | None = Field(default=None, max_length=200)
    sizing: Sizing | None = None
    limits: Limits | None = None
    breakers: Breakers | None = None
    reason: str = Field(default="", max_length=500)


class LimitsChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limits: Limits | None = None
    breakers: Breakers | None = None
    reason: str = Field(default="", max_length=500)


def _given(model: BaseModel | None) -> dict[str, object] | None:
    return model.model_dump(include=model.model_fields_set) if model is not None else None


def _hook_json(hook: Hook) -> Json:
    """A new hook, with its token: shown once."""
    return {
        "hook": hook.id,
        "path": webhook_path(hook),
        "created_at": iso(hook.created_at),
        "note": "the token in this path is shown once; keep it (rotate it if it leaks)",
    }


def admin_router(runtime: DeskRuntime) -> APIRouter:  # noqa: PLR0915 - one route table
    router = APIRouter(prefix="/api/v1")
    auth, admin = runtime.auth, runtime.bot_admin
    reader = Annotated[Principal, Depends(require(auth, Permission.READ))]
    bot_manager = Annotated[Principal, Depends(require(auth, Permission.MANAGE_BOTS))]
    # Changing an account's limits is a risk control, like setting its trading state.
    risk_admin = Annotated[Principal, Depends(require(auth, Permission.SET_TRADING_STATE))]

    def view(name: str) -> Json:
        bot = runtime.bots.get(admin.bot(name).id)
        assert bot is not None
        return admin.view(bot)

    # -- bots --------------------------------------------------------------------------------

    @router.post(
        "/bots",
        tags=["bots"],
        status_code=201,
        summary="Create a bot and its webhook (the token is shown once)",
        responses={**_ERRORS, 409: {}},
    )
    async def create_bot(body: NewBot, who: bot_manager) -> Json:
        spec = BotSpec(
            name=body.name,
            account=body.account,
            venue=body.venue,
            allocation=body.allocation,
            currency=body.currency,
            symbol_map=body.symbol_map,
            sizing=_given(body.sizing),
            limits=_given(body.limits) or {},
            webhook_secret=body.webhook_secret,
        )
        try:
            bot, hook = await pools.command(admin.create, spec, who.username)
        except Refused as exc:
            raise _refused(exc) from None
        return {"bot": admin.view(bot), "webhook": _hook_json(hook)}

    @router.patch(
        "/bots/{bot}",
        tags=["bots"],
        summary="Change a bot's allocation, symbol map, sizing or limits",
        responses={**_ERRORS, 404: {}, 409: {}},
    )
    async def change_bot(bot: str, body: BotChange, who: bot_manager) -> Json:
        found = admin.bot_or_none(bot)
        if found is None:
            raise _bad(f"no bot {bot!r}", "not_found", 404)
        try:
            breakers = (
                patch_breakers(runtime.limits.bot_breakers(found.id), _given(body.breakers) or {})
                if body.breakers is not None
                else None
            )
        except LimitError as exc:
            raise _bad(f"breakers.{exc}") from None
        settings = (body.allocation, body.symbol_map, body.limits, body.sizing)
        if breakers is None and all(v is None for v in settings):
            raise _bad("expected a change: allocation, symbol_map, sizing, limits or breakers")
        try:
            if breakers is None or any(v is not None for v in settings):
                await pools.command(
                    lambda: admin.update(
                        bot,
                        who.username,
                        allocation=body.allocation,
                        symbol_map=body.symbol_map,
                        limits=_given(body.limits),
                        sizing=_given(body.sizing),
                        reason=body.reason,
                    )
                )
            elif found.status.value == "STOPPED":
                raise Refused("conflict", f"bot {bot} is stopped; it cannot be changed")
        except Refused as exc:
            raise _refused(exc) from None
        if breakers is not None:
            await pools.command(
                lambda: runtime.limits.set(
                    found.account_id, who.username, breakers=breakers, bot=found.id,
                    reason=body.reason,
                )
            )  # fmt: skip
        return view(bot)

    @router.delete(
        "/bots/{bot}",
        tags=["bots"],
        summary="Delete a stopped bot that holds nothing",
        responses={**_ERRORS, 404: {}, 409: {}},
    )
    async def delete_bot(bot: str, who: bot_manager) -> Json:
        try:
            await pools.command(admin.delete, bot, who.username)
        except Refused as exc:
            raise _refused(exc) from None
        return {"ok": True, "deleted": bot}

    @router.post(
        "/bots/{bot}/webhook/rotate",
        tags=["bots"],
        summary="A new webhook token; the old one stops working at once",
        responses={**_ERRORS, 404: {}},
    )
    async def rotate_webhook(bot: str, _: bot_manager) -> Json:
        try:
            hook = await pools.command(admin.rotate, bot)
        except Refused as exc:
            raise _refused(exc) from None
        return {"bot": bot, "webhook": _hook_json(hook)}

    # -- limits and breakers -------------------------------------------------------------------

    def account_id(account: str) -> AccountId:
        try:
            found = AccountId(account)
        except ValueError as exc:
            raise _bad(str(exc)) from None
        if found not in runtime.desk.ledger.accounts():
            raise _bad(f"no account {account}", "not_found", 404)
        return found

    @router.get(
        "/limits",
        tags=["risk"],
        summary="Each account's and bot's limits and their current use",
        responses={**_ERRORS, 404: {}},
    )
    async def limits(_: reader, account: str | None = None) -> Json:
        wanted = account_id(account) if account is not None else None
        return {"accounts": await run_in_threadpool(runtime.risk.limits, wanted)}

    @router.put(
        "/limits/{account}",
        tags=["risk"],
        summary="Change an account's limits and breaker settings (fields left out are kept)",
        responses={**_ERRORS, 404: {}},
    )
    async def set_limits(account: str, body: LimitsChange, who: risk_admin) -> Json:
        acct = account_id(account)
        if body.limits is None and body.breakers is None:
            raise _bad("expected limits or breakers to change")
        try:
            await pools.command(
                lambda: runtime.limits.patch(
                    acct,
                    who.username,
                    limit_changes=_given(body.limits),
                    breaker_changes=_given(body.breakers),
                    reason=body.reason,
                )
            )
        except LimitError as exc:
            raise _bad(str(exc)) from None
        return {"accounts": await run_in_threadpool(runtime.risk.limits, acct)}

    @router.get(
        "/breakers",
        tags=["risk"],
        summary="Each circuit breaker's status, and the trips newest first",
        responses=_ERRORS,
    )
    async def breakers(
        _: reader,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
    ) -> Json:
        return await run_in_threadpool(runtime.risk.breakers, limit, offset)

    return router
