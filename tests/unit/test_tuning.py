from __future__ import annotations

import gc
import sys
from collections.abc import Iterator

import pytest

from algodesk.bootstrap.tuning import SWITCH_INTERVAL, YOUNG_THRESHOLD, tune_gc, tune_switching


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_start_up_objects_are_frozen_and_young_collections_are_rarer() -> None:
    gc.unfreeze()
    tune_gc()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    # Cycles made afterwards are still collected.
    cycle: list[object] = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1


def test_threads_take_turns_every_millisecond() -> None:
    before = sys.getswitchinterval()
    try:
        tune_switching()
        assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL)
        assert SWITCH_INTERVAL < 0.005  # shorter than Python's default
    finally:
        sys.setswitchinterval(before)
