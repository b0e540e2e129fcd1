"""Read-ahead in a background thread: order, errors, and a clean stop when the consumer stops early."""

import gc
import threading
import time

import numpy as np
import pytest
from seqdata import write_nested_parquet

import readers
from readers._prefetch import prefetch


def _threads() -> int:
    return sum(t.name == "readers-prefetch" for t in threading.enumerate())


def _source(log: list, n: int, fail_at=None):
    try:
        for i in range(n):
            if i == fail_at:
                raise ValueError(f"bad item {i}")
            log.append(("made", i, threading.current_thread().name))
            yield i
    finally:
        log.append(("closed", threading.current_thread().name))


def test_items_keep_their_order_and_are_made_in_the_thread():
    log = []
    assert list(prefetch(_source(log, 50))) == list(range(50))
    assert {entry[-1] for entry in log} == {"readers-prefetch"}
    assert log[-1][0] == "closed" and _threads() == 0


def test_an_error_reaches_the_consumer_after_the_items_before_it():
    got = []
    with pytest.raises(ValueError, match="bad item 3"):
        for item in prefetch(_source([], 10, fail_at=3)):
            got.append(item)                    # noqa: PERF402 (the items before the error count)
    assert got == [0, 1, 2] and _threads() == 0


def test_no_thread_until_the_first_item_is_asked_for():
    log = []
    items = prefetch(_source(log, 3))
    time.sleep(0.05)
    assert log == [] and _threads() == 0
    assert next(items) == 0
    items.close()
    assert _threads() == 0


@pytest.mark.parametrize("stop", ["close", "garbage"])
def test_stopping_early_closes_the_source_and_ends_the_thread(stop):
    log = []
    items = prefetch(_source(log, 1000))
    assert [next(items), next(items)] == [0, 1]
    if stop == "close":
        items.close()
    else:
        del items
        gc.collect()
    assert _threads() == 0
    assert log[-1] == ("closed", "readers-prefetch")
    assert sum(entry[0] == "made" for entry in log) <= 4       # one or two read ahead, not all


def test_batches_abandoned_mid_file_release_the_reader(tmp_path, monkeypatch):
    monkeypatch.setattr(readers._parquet_reader, "_READ_ROWS", 4)
    path = write_nested_parquet(tmp_path / "n.parquet", [np.ones((3, 1))] * 400, ["x"],
                                row_group_size=16)
    batches = iter(readers.SequenceBatches(readers.ParquetSequenceReader(path), batch_size=2))
    next(batches)
    assert _threads() == 1
    del batches
    gc.collect()
    assert _threads() == 0


def test_stop_all_ends_every_read_ahead_between_items_and_tells_the_consumer(monkeypatch):
    from readers import _prefetch
    monkeypatch.setattr(_prefetch, "_exiting", False)        # stop_all sets it; restored after
    log = []
    items = prefetch(_source(log, 1000))
    assert next(items) == 0
    _prefetch.stop_all()
    assert _threads() == 0
    assert log[-1] == ("closed", "readers-prefetch")           # the source is closed in its thread
    assert sum(entry[0] == "made" for entry in log) <= 3       # stopped between items, not run on
    with pytest.raises(RuntimeError, match="interpreter is exiting"):
        next(items)
    later = []                                                 # begun after stop_all: no thread
    assert list(prefetch(_source(later, 3))) == [0, 1, 2]
    assert {entry[-1] for entry in later} == {threading.current_thread().name}

