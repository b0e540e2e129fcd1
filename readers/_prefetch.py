"""Read ahead: produce the next item of an iterator in a background thread.

Arrow releases the GIL while it decodes Parquet, so decoding block k + 1 in a
thread overlaps with the consumer's work on block k (conversion, padding).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

__all__ = ["prefetch"]

_DONE = object()           # the source ran out
_POLL_S = 0.05             # how often a blocked producer checks whether to stop


def prefetch(source: Iterable) -> Iterator:
    """Yield the items of `source`, each produced in a daemon thread one step ahead.

    At most one finished item waits in the queue while the thread works on the
    next, so at most two items beyond the consumer's are in memory. An
    exception raised by `source` is raised to the consumer, at the position it
    occurred. When the consumer stops early (the generator is closed or
    garbage-collected), the thread is told to stop, `source` is closed in that
    thread (so files it opened are closed) and the thread is joined; this waits
    for at most the item being produced.

    No thread starts until the first item is asked for.
    """
    items: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        iterator = iter(source)
        try:
            for item in iterator:
                if not put((item, None)):
                    return
            put((_DONE, None))
        except BaseException as exc:           # handed to the consumer, which raises it
            put((_DONE, exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="readers-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = items.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        try:                                   # unblock a producer waiting to put
            items.get_nowait()
        except queue.Empty:
            pass
        thread.join()
