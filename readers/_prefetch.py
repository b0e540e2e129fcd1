"""Read ahead: produce the next item of an iterator in a background thread.

Arrow releases the GIL while it decodes Parquet, so decoding block k + 1 in a
thread overlaps with the consumer's work on block k (conversion, padding).

Interpreter exit. The thread is a daemon, so a consumer that never finishes
or closes its iteration does not keep the process alive. But a daemon thread
still inside Arrow's C++ code when the interpreter finalizes is cut off
(CPython ends it from inside that code when it asks for the GIL back, or the
C++ runtime's static destructors run under it), which can abort the process
with `terminate called without an active exception`. So every running
read-ahead is registered, and an `atexit` hook (which runs before
finalization, while threads still run) tells each one to stop and joins it:
the thread finishes at most the block it is decoding, closes its source (the
files it opened) in the thread, and ends before finalization begins.
"""

from __future__ import annotations

import atexit
import queue
import threading
import weakref
from collections.abc import Iterable, Iterator

__all__ = ["prefetch", "stop_all"]

_DONE = object()           # the source ran out
_POLL_S = 0.05             # how often a blocked producer checks whether to stop
_EXIT_JOIN_S = 60.0        # at exit, how long to wait for one thread's current block


class _ReadAhead:
    """One background producer: its thread, its one-item queue and its stop event."""

    def __init__(self, source: Iterable):
        self.items: queue.Queue = queue.Queue(maxsize=1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._produce, args=(source,),
                                       name="readers-prefetch", daemon=True)

    def _put(self, item) -> bool:
        """Queue `item` for the consumer; False once told to stop."""
        while not self.stop.is_set():
            try:
                self.items.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self, source: Iterable) -> None:
        iterator = iter(source)
        try:
            while not self.stop.is_set():         # checked between blocks, before each next one
                try:
                    item = next(iterator)
                except StopIteration:
                    self._put((_DONE, None))
                    return
                if not self._put((item, None)):
                    return
        except BaseException as exc:              # handed to the consumer, which raises it
            self._put((_DONE, exc))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def shutdown(self, timeout: float | None = None, *, reason: str | None = None) -> None:
        """Stop the thread and join it (it finishes at most the item it is producing).

        With `reason`, a consumer that asks for another item gets a
        `RuntimeError` saying so instead of waiting forever.
        """
        self.stop.set()
        self._drain()                              # unblock a producer waiting to put
        if self.thread.ident is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout)
        if reason is not None and not self.thread.is_alive():
            self._drain()
            try:
                self.items.put_nowait((_DONE, RuntimeError(reason)))
            except queue.Full:                     # told twice
                pass

    def _drain(self) -> None:
        try:
            self.items.get_nowait()
        except queue.Empty:
            pass


_LIVE: "weakref.WeakSet[_ReadAhead]" = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()
_exiting = False           # set by stop_all: later read-aheads run in the caller's thread


def stop_all(timeout: float | None = _EXIT_JOIN_S) -> None:
    """Stop and join every running read-ahead thread (registered with `atexit`).

    After it, no read-ahead thread is inside Arrow: each has finished its
    current block, closed its source and ended (or, past `timeout` seconds
    for one thread, been left). A consumer still iterating gets a
    `RuntimeError` at its next item. A read-ahead begun afterwards (say by a
    later `atexit` hook) starts no thread: it produces in the caller's thread.
    """
    global _exiting
    with _LIVE_LOCK:
        _exiting = True
        live = list(_LIVE)
    for worker in live:
        worker.shutdown(timeout, reason="read-ahead stopped: the interpreter is exiting")


atexit.register(stop_all)


def prefetch(source: Iterable) -> Iterator:
    """Yield the items of `source`, each produced in a daemon thread one step ahead.

    At most one finished item waits in the queue while the thread works on the
    next, so at most two items beyond the consumer's are in memory. An
    exception raised by `source` is raised to the consumer, at the position it
    occurred. When the consumer stops early (the generator is closed or
    garbage-collected), the thread is told to stop, `source` is closed in that
    thread (so files it opened are closed) and the thread is joined; this waits
    for at most the item being produced. At interpreter exit, `stop_all` does
    the same for every read-ahead still running (see the module docstring).

    No thread starts until the first item is asked for.
    """
    worker = _ReadAhead(source)
    with _LIVE_LOCK:
        threaded = not _exiting
        if threaded:
            _LIVE.add(worker)
    if not threaded:                               # the interpreter is exiting: no new thread
        yield from source
        return
    worker.thread.start()
    try:
        while True:
            item, error = worker.items.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        worker.shutdown()
        with _LIVE_LOCK:
            _LIVE.discard(worker)
