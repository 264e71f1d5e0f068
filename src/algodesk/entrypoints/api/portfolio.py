"""``/api/v1`` routes the dashboard's overview needs: an account's performance (equity curve,
today's P&L, drawdown, win rate, exposure), the feed and venue status, and closing one
position.

No ``from __future__ import annotations``: FastAPI reads the dependencies from the annotations
of the inner functions, which name local values.
"""

from datetime import UTC, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from algodesk.bootstrap.runtime import DeskRuntime
from algodesk.domain.commands import Flatten
from algodesk.domain.identifiers import AccountId, BotId, InstrumentId
from algodesk.domain.users import Permission, Principal
from algodesk.entrypoints.api import pools
from algodesk.entrypoints.api.errors import refused
from algodesk.entrypoints.api.security import require
from algodesk.services.performance import performance
from algodesk.services.queries import iso

__all__ = ["portfolio_router"]

Json = dict[str, Any]
_IDENT = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"


class ClosePosition(BaseModel):
    account: str = Field(pattern=_IDENT)
    instrument: str = Field(min_length=3, max_length=100)
    bot: str | None = Field(default=None, pattern=_IDENT)


def _id(kind: Any, text: str, what: str) -> Any:
    try:
        return kind(text)
    except ValueError as exc:
        raise refused("bad_value", f"{what}: {exc}") from None


def portfolio_router(runtime: DeskRuntime) -> APIRouter:
    router = APIRouter(prefix="/api/v1")
    reader = Annotated[Principal, Depends(require(runtime.auth, Permission.READ))]
    trader = Annotated[Principal, Depends(require(runtime.auth, Permission.TRADE))]
    ledger = runtime.desk.ledger

    def known(account: str) -> AccountId:
        account_id: AccountId = _id(AccountId, account, "account")
        if account_id not in ledger.accounts():
            raise refused("not_found", f"no account {account}", 404)
        return account_id

    @router.get(
        "/accounts/{account}/performance",
        tags=["portfolio"],
        responses={401: {}, 403: {}, 404: {}, 422: {}},
    )
    def account_performance(
        account: str, _: reader, points: Annotated[int, Query(ge=2, le=5000)] = 1000
    ) -> Json:
        """Per currency: the equity curve (equity after each ledger entry, positions at their
        last fill price, and now at the marks), today's P&L (since 00:00 UTC, capital flows
        excluded; positions held at 00:00 valued at that time's marks when the desk saw them,
        ``day_basis`` "marks", else at their last fill price, "fill prices"), drawdown now and at
        worst along that curve, win rate of closing fills, exposure."""
        account_id = known(account)
        now = runtime.clock.now()
        day_start = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)
        marks = {i: m.price for i, m in runtime.market.marks().items()}
        day_marks = runtime.market.day_marks(day_start.date())
        found = performance(ledger.entries(account_id), marks, now, day_start, points, day_marks)
        return {
            "account": account_id.value,
            "as_of": iso(now),
            "day_start": iso(day_start),
            "currencies": {
                ccy: {
                    "equity": str(p.equity),
                    "peak": str(p.peak),
                    "drawdown": str(round(p.drawdown, 6)),
                    "max_drawdown": str(round(p.max_drawdown, 6)),
                    "today_pnl": str(p.today_pnl),
                    "day_basis": p.day_basis,
                    "realized": str(p.realized),
                    "unrealized": str(p.unrealized),
                    "exposure": str(p.exposure),
                    "win_rate": None if p.win_rate is None else str(round(p.win_rate, 6)),
                    "wins": p.wins,
                    "closing_fills": p.closes,
                    "unmarked": p.unmarked,
                    "curve": [{"ts": iso(ts), "equity": str(v)} for ts, v in p.curve],
                }
                for ccy, p in found.items()
            },
        }

    @router.get("/status", tags=["ops"], responses={401: {}, 403: {}})
    def status(_: reader) -> Json:
        """The feed (each instrument's last mark, its age and whether it is stale) and the
        venues (whether each answers)."""
        now = runtime.clock.now()
        marks = runtime.market.marks()
        return {
            "as_of": iso(now),
            "feed": [
                {
                    "instrument": iid.value,
                    "mark": str(mark.price),
                    "at": iso(mark.ts),
                    "age_seconds": round((now - mark.ts).total_seconds(), 3),
                    "stale": runtime.market.feed_stale(iid),
                }
                for iid, mark in sorted(marks.items(), key=lambda kv: kv[0].value)
            ],
            "venues": runtime.venue_status(),
            "pending_alerts": runtime.inbox.count_pending(),
        }

    @router.post(
        "/positions/close", tags=["portfolio"], responses={401: {}, 403: {}, 404: {}, 422: {}}
    )
    async def close_position(body: ClosePosition, _: trader) -> Json:
        """Cancel the instrument's working orders and close its position at market: a
        ``Flatten`` of one instrument, in every bot's book or in one bot's when given. Like
        every flatten it reduces risk, so entry limits never block it."""
        account_id = known(body.account)
        instrument_id: InstrumentId = _id(InstrumentId, body.instrument, "instrument")
        if runtime.market.instrument(instrument_id) is None:
            raise refused("not_found", f"no instrument {body.instrument}", 404)
        bot_id: BotId | None = _id(BotId, body.bot, "bot") if body.bot else None
        if bot_id is not None:
            found = runtime.bots.get(bot_id)
            if found is None or found.account_id != account_id:
                raise refused("not_found", f"no bot {body.bot} in account {body.account}", 404)
        command = Flatten(account_id=account_id, instrument_id=instrument_id, bot_id=bot_id)
        outcome = await pools.command(runtime.engine.handle, command)
        return {**outcome.payload(), "replayed": outcome.replayed}

    return router
