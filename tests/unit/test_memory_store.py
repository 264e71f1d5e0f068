"""The in-memory store commits like a database: interleaved units do not lose each other's
writes, and a conflicting commit fails instead of forking the chain."""

from __future__ import annotations

import pytest

from algodesk.adapters.storage.memory.store import InMemoryStore, InMemoryUnitOfWork
from algodesk.domain.identifiers import AccountId, LedgerEntryId
from algodesk.domain.ledger import booking
from algodesk.domain.ledger.chain import GENESIS_HASH, seal
from algodesk.domain.values import money
from algodesk.ports.storage import ChainConflictError
from tests.conftest import T0


def _first(account: str):  # type: ignore[no-untyped-def]
    new = booking.deposit(AccountId(account), LedgerEntryId("d1"), T0, money("1", "USD"))
    return seal(new, 1, GENESIS_HASH)


def test_interleaved_units_on_different_accounts_both_persist() -> None:
    store = InMemoryStore()
    with InMemoryUnitOfWork(store) as a, InMemoryUnitOfWork(store) as b:
        a.ledger.append(_first("a"))
        b.ledger.append(_first("b"))
        a.commit()
        b.commit()
    with InMemoryUnitOfWork(store) as uow:
        assert uow.ledger.accounts() == [AccountId("a"), AccountId("b")]


def test_interleaved_units_on_one_chain_conflict() -> None:
    store = InMemoryStore()
    with InMemoryUnitOfWork(store) as a, InMemoryUnitOfWork(store) as b:
        a.ledger.append(_first("a"))
        b.ledger.append(_first("a"))
        a.commit()
        with pytest.raises(ChainConflictError):
            b.commit()
    with InMemoryUnitOfWork(store) as uow:
        assert len(list(uow.ledger.entries())) == 1
