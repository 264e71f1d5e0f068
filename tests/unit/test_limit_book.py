"""The live limits book: a patch changes only its own fields, even when two admins patch the
same account at the same moment."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import pytest

from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.domain.risk.base import RiskLimits
from algodesk.services import limits as limits_module
from algodesk.services.limits import LimitBook
from algodesk.testing.clock import FixedClock
from tests.conftest import ACCOUNT


def test_two_concurrent_patches_of_different_fields_both_stay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = InMemoryStore()
    book = LimitBook(lambda: InMemoryUnitOfWork(store), FixedClock(), {ACCOUNT: RiskLimits()})
    slow = limits_module.patch_limits

    def patch_slowly(current: RiskLimits, changes: object) -> RiskLimits:
        time.sleep(0.05)  # widen the read-modify-write window
        return slow(current, changes)  # type: ignore[arg-type]

    monkeypatch.setattr(limits_module, "patch_limits", patch_slowly)
    admins = [
        threading.Thread(
            target=book.patch,
            args=(ACCOUNT, "a"),
            kwargs={"limit_changes": {"max_notional": "1000"}},
        ),
        threading.Thread(
            target=book.patch,
            args=(ACCOUNT, "b"),
            kwargs={"limit_changes": {"max_open_positions": 2}},
        ),
    ]
    for admin in admins:
        admin.start()
    for admin in admins:
        admin.join(5)
    found = book.limits(ACCOUNT)
    assert found is not None
    assert found.max_notional == Decimal(1000)
    assert found.max_open_positions == 2
    again = LimitBook(lambda: InMemoryUnitOfWork(store), FixedClock(), {ACCOUNT: RiskLimits()})
    again.load([ACCOUNT])
    reloaded = again.limits(ACCOUNT)
    assert reloaded is not None
    assert (reloaded.max_notional, reloaded.max_open_positions) == (Decimal(1000), 2)
