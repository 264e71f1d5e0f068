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


# -- copies, snapshots and rollback (the store copies nothing when a unit begins) -------------


def _order(coid: str = "ORD1"):  # type: ignore[no-untyped-def]
    from algodesk.domain.fills import OrderSide
    from algodesk.domain.identifiers import ClientOrderId
    from algodesk.domain.orders import Order, OrderType
    from algodesk.domain.values import price, quantity
    from tests.conftest import AAPL, ACCOUNT

    return Order.create(
        client_order_id=ClientOrderId(coid),
        account_id=ACCOUNT,
        instrument_id=AAPL.id,
        side=OrderSide.BUY,
        order_type=OrderType.LIMIT,
        quantity=quantity("10"),
        price=price("100"),
        created_at=T0,
    )


def _units():  # type: ignore[no-untyped-def]
    from algodesk.adapters.storage.memory.store import DirectUnitOfWork

    return [InMemoryUnitOfWork, DirectUnitOfWork]


def test_an_order_clone_copies_every_field_and_owns_its_containers() -> None:
    from algodesk.domain.events import (
        OrderAccepted,
        OrderFilled,
        OrderPendingCancel,
        OrderSubmitted,
    )
    from algodesk.domain.identifiers import VenueOrderId
    from tests.conftest import make_fill

    order = _order()
    order.apply(OrderSubmitted(client_order_id=order.client_order_id, ts=T0))
    order.apply(
        OrderAccepted(
            client_order_id=order.client_order_id, ts=T0, venue_order_id=VenueOrderId("V1")
        )
    )
    order.apply(
        OrderFilled(
            client_order_id=order.client_order_id, ts=T0, fill=make_fill(1, qty="4", coid="ORD1")
        )
    )
    order.apply(OrderPendingCancel(client_order_id=order.client_order_id, ts=T0))
    twin = order.clone()
    for name in type(order).__dataclass_fields__:
        assert getattr(twin, name) == getattr(order, name), name
    assert twin.venue_order_ids is not order.venue_order_ids
    assert twin.fills is not order.fills
    assert twin.pending_from is not order.pending_from
    twin.pending_from.clear()
    twin.venue_order_ids.append(VenueOrderId("V2"))
    twin.fills.clear()
    assert order.pending_from
    assert order.venue_order_ids == [VenueOrderId("V1")]
    assert order.fills


@pytest.mark.parametrize("unit", _units())
def test_stored_orders_cannot_be_changed_through_objects_given_or_returned(unit) -> None:  # type: ignore[no-untyped-def]
    from algodesk.domain.events import OrderSubmitted
    from algodesk.domain.orders import OrderStatus

    store = InMemoryStore()
    order = _order()
    with unit(store) as uow:
        uow.orders.add(order)
        order.apply(OrderSubmitted(client_order_id=order.client_order_id, ts=T0))  # after add
        uow.commit()
    with unit(store) as uow:
        got = uow.orders.get(order.client_order_id)
        assert got is not None
        assert got.status is OrderStatus.INITIALIZED
        got.apply(OrderSubmitted(client_order_id=order.client_order_id, ts=T0))
        got.pending_from.append(OrderStatus.ACCEPTED)
        (listed,) = uow.orders.list()
        listed.apply(OrderSubmitted(client_order_id=order.client_order_id, ts=T0))
        again = uow.orders.get(order.client_order_id)
        assert again is not None
        assert again.status is OrderStatus.INITIALIZED
        assert again.pending_from == []
        uow.orders.update(got)
        got.pending_from.clear()  # after update: the stored copy keeps what was given
        uow.commit()
    with unit(store) as uow:
        stored = uow.orders.get(order.client_order_id)
        assert stored is not None
        assert stored.status is OrderStatus.SUBMITTED
        assert stored.pending_from == [OrderStatus.ACCEPTED]
    assert store.orders[order.client_order_id].status is OrderStatus.SUBMITTED


@pytest.mark.parametrize("unit", _units())
def test_a_rollback_or_a_unit_left_uncommitted_undoes_every_write(unit) -> None:  # type: ignore[no-untyped-def]
    from algodesk.ports.storage import JournalRecord

    store = InMemoryStore()
    with unit(store) as uow:
        uow.ledger.append(_first("a"))
        uow.commit()
        uow.orders.add(_order())
        uow.ledger.append(
            seal(
                booking.deposit(AccountId("a"), LedgerEntryId("d2"), T0, money("1", "USD")),
                2,
                _first("a").hash,
            )
        )
        uow.journal.append(JournalRecord(AccountId("a"), "SubmitOrder", T0, {}, key="k"))
        assert uow.sequences.next("ORD") == 1
        uow.rollback()
        assert uow.orders.get(_order().client_order_id) is None
        assert uow.ledger.head(AccountId("a")).seq == 1  # type: ignore[union-attr]
        assert uow.journal.find(AccountId("a"), "k") is None
        uow.orders.add(_order())
        uow.journal.append(JournalRecord(AccountId("a"), "SubmitOrder", T0, {}, key="k"))
    with unit(store) as uow:
        assert uow.orders.list() == []
        assert [e.seq for e in uow.ledger.entries()] == [1]
        assert uow.journal.records(AccountId("a")) == []
        assert uow.sequences.next("ORD") == 1
    assert store.orders == {}
    assert store.journal == []
    assert store.sequences == {}


def test_a_unit_reads_the_store_as_of_the_commit_it_began_at() -> None:
    from algodesk.domain.events import OrderSubmitted
    from algodesk.domain.orders import OrderStatus
    from algodesk.ports.storage import JournalRecord

    store = InMemoryStore()
    with InMemoryUnitOfWork(store) as setup:
        setup.orders.add(_order())
        setup.ledger.append(_first("a"))
        setup.commit()
    with InMemoryUnitOfWork(store) as reader:
        with InMemoryUnitOfWork(store) as writer:
            order = writer.orders.get(_order().client_order_id)
            assert order is not None
            order.apply(OrderSubmitted(client_order_id=order.client_order_id, ts=T0))
            writer.orders.update(order)
            writer.orders.add(_order("ORD2"))
            second = seal(
                booking.deposit(AccountId("a"), LedgerEntryId("d2"), T0, money("1", "USD")),
                2,
                _first("a").hash,
            )
            writer.ledger.append(second)
            writer.journal.append(JournalRecord(AccountId("a"), "SubmitOrder", T0, {}, key="k"))
            writer.commit()
        seen = reader.orders.get(_order().client_order_id)
        assert seen is not None
        assert seen.status is OrderStatus.INITIALIZED
        assert [o.client_order_id.value for o in reader.orders.list()] == ["ORD1"]
        assert reader.ledger.heads()[AccountId("a")].seq == 1
        assert [e.seq for e in reader.ledger.entries()] == [1]
        assert reader.ledger.find(AccountId("a"), LedgerEntryId("d2")) is None
        assert reader.journal.find(AccountId("a"), "k") is None
        assert reader.journal.records(AccountId("a")) == []
    with InMemoryUnitOfWork(store) as later:
        seen = later.orders.get(_order().client_order_id)
        assert seen is not None
        assert seen.status is OrderStatus.SUBMITTED
        assert len(later.orders.list()) == 2
        assert [e.seq for e in later.ledger.entries()] == [1, 2]
        assert later.journal.find(AccountId("a"), "k") is not None


def test_a_commit_that_conflicts_with_one_made_meanwhile_publishes_nothing() -> None:
    from algodesk.ports.storage import DuplicateClientOrderIdError

    store = InMemoryStore()
    with InMemoryUnitOfWork(store) as a, InMemoryUnitOfWork(store) as b:
        a.orders.add(_order())
        b.ledger.append(_first("b"))
        b.orders.add(_order())
        a.commit()
        with pytest.raises(DuplicateClientOrderIdError):
            b.commit()
    with InMemoryUnitOfWork(store) as uow:
        assert uow.ledger.accounts() == []
        assert len(uow.orders.list()) == 1


def test_a_unit_is_used_inside_its_with_block_only() -> None:
    uow = InMemoryUnitOfWork(InMemoryStore())
    with pytest.raises(RuntimeError):
        uow.orders.get(_order().client_order_id)
    with uow:
        uow.orders.add(_order())
    with pytest.raises(RuntimeError):
        uow.orders.add(_order("ORD2"))
