"""Group commit of concurrent single scans: many requests, one ingest, one commit.

A single scan costs one ingest: 15 round trips to the database (reads of state, the movement
rules, the event, stock and audit writes, the commit) — about 8 ms of CPU, nearly all of it
fixed per ingest, not per scan (a batch of 500 costs ≈ 0.7 ms a scan). When handhelds send
single scans at the same time, the requests waiting in one process are therefore ingested
together (*flat combining*): the first request to find no ingest running becomes the
**leader**, takes every scan waiting (up to :data:`~scanning.ingest.MAX_BATCH`), ingests them
with :func:`~scanning.ingest.ingest_many` and hands each waiting request its own answer. A
request that arrives meanwhile waits for the next round; the leader hands leadership on once
its own scan is answered, so no request leads for long.

Nothing changes for the client: each scan gets the answer it would have had alone (same
checks, same idempotency by scan id; a scan id sent twice at once is recorded once and
answered ``duplicate`` the second time). Scans are combined only within one organisation, so
a transaction never mixes tenants (row-level security sets one organisation per transaction,
and one organisation's bad scan can never delay another's). If the combined ingest fails as a
whole (database down, a conflict that outlasted the retries), every request in it receives
that error, as each would have alone; nothing of it was committed.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from scanning.devices import Scanner
from scanning.ingest import MAX_BATCH, IngestResult, InvalidScan, ScanIn

Send = tuple[Scanner, Sequence[ScanIn | InvalidScan]]
Ingest = Callable[[Sequence[Send]], list[IngestResult]]


@dataclass(eq=False)
class _Waiting:
    """One request's scans, waiting for a leader (or to become one)."""

    send: Send
    wake: threading.Event = field(default_factory=threading.Event)
    answer: IngestResult | None = None
    error: BaseException | None = None
    done: bool = False


class _Lane:
    """The requests of one organisation: a queue and who is leading it."""

    def __init__(self) -> None:
        self.leading = threading.Lock()
        self.queue: list[_Waiting] = []


def _for_follower(error: BaseException) -> BaseException:
    """The error a waiting request raises for its failed round: the same database or conflict
    error; an interruption of the leading thread (SystemExit, a worker's timeout) stays the
    leader's, and the others report that their round was cut short."""
    if isinstance(error, Exception):
        return error
    return RuntimeError(f"Expected the combined ingest to finish, got {type(error).__name__}.")


class Combiner:
    """Combines the single scans of concurrent requests in this process (one per app)."""

    def __init__(self, max_scans: int = MAX_BATCH) -> None:
        self._max_scans = max_scans
        self._lanes: dict[uuid.UUID, _Lane] = {}
        self._guard = threading.Lock()  # guards the lanes and their queues

    def ingest(self, send: Send, run: Ingest) -> IngestResult:
        """The answer to ``send``, ingested with whatever else is waiting in its lane.

        ``run`` ingests a list of sends in one go (the caller binds its session to it); it is
        called by whichever request leads, in that request's thread.
        """
        me = _Waiting(send)
        lane = self._lane(send[0].organisation_id)
        with self._guard:
            lane.queue.append(me)
        while True:
            if lane.leading.acquire(blocking=False):
                try:
                    self._lead(lane, me, run)
                finally:
                    lane.leading.release()
                self._wake_next(lane)
            if me.done:
                break
            me.wake.wait()
            me.wake.clear()
        if me.error is not None:
            raise me.error
        assert me.answer is not None
        return me.answer

    def _lane(self, organisation_id: uuid.UUID) -> _Lane:
        with self._guard:
            return self._lanes.setdefault(organisation_id, _Lane())

    def _lead(self, lane: _Lane, me: _Waiting, run: Ingest) -> None:
        """Ingest rounds of the lane's queue until ``me`` is answered."""
        while not me.done:
            group = self._take(lane)
            if not group:
                return
            try:
                answers = run([waiting.send for waiting in group])
            except BaseException as error:  # every request of the round gets the failure
                for waiting in group:
                    waiting.error = error if waiting is me else _for_follower(error)
            else:
                for waiting, answer in zip(group, answers, strict=True):
                    waiting.answer = answer
            for waiting in group:
                waiting.done = True
                if waiting is not me:
                    waiting.wake.set()

    def _take(self, lane: _Lane) -> list[_Waiting]:
        """The oldest waiting requests whose scans fit in one ingest (at least one)."""
        with self._guard:
            group, scans = [], 0
            for waiting in lane.queue:
                size = len(waiting.send[1])
                if group and scans + size > self._max_scans:
                    break
                group.append(waiting)
                scans += size
            del lane.queue[: len(group)]
            return group

    def _wake_next(self, lane: _Lane) -> None:
        """After leading: let the oldest waiting request lead the next round (checked after
        releasing the lock, so a request queued meanwhile is never left without a leader)."""
        with self._guard:
            if lane.queue:
                lane.queue[0].wake.set()
