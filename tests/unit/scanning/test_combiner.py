"""The group commit of concurrent single scans (scanning/combiner.py), without a database.

``run`` here is a plain function standing in for ``ingest_many``: it records the rounds it is
given and answers each send with its own scan id, so the tests see who was combined with whom
and whether every request got its own answer.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from scanning.combiner import Combiner, Send
from scanning.devices import Scanner
from scanning.ingest import IngestResult, ScanIn, ScanResult
from scanning.normalise import ScannerQuirks
from scanning.operations import Operation

ORG_A, ORG_B = uuid.uuid4(), uuid.uuid4()


def _device(org: uuid.UUID) -> Scanner:
    now = datetime.now(UTC)
    return Scanner(
        uuid.uuid4(), org, uuid.uuid4(), "dock", ScannerQuirks(), uuid.uuid4(), "p", now, None
    )


def _send(device: Scanner, scans: int = 1) -> Send:
    org = device.warehouse_id  # any location id: the recorder never looks
    made = [
        ScanIn(uuid.uuid4(), "]d20106931234100041", datetime.now(UTC), Operation.RECEIVE, org)
        for _ in range(scans)
    ]
    return device, made


class Recorder:
    """An ingest that answers every scan ``accepted`` with its own id, and can hold a round
    until told to go on (so the other requests queue up behind it)."""

    def __init__(self, hold_first: bool = False) -> None:
        self.rounds: list[list[Send]] = []
        self.release = threading.Event()
        self.entered = threading.Event()
        self.hold_first = hold_first
        self.lock = threading.Lock()

    def __call__(self, sends: Sequence[Send]) -> list[IngestResult]:
        with self.lock:
            self.rounds.append(list(sends))
            first = len(self.rounds) == 1
        if first and self.hold_first:
            self.entered.set()
            assert self.release.wait(10)
        return [
            IngestResult(
                tuple(ScanResult(i, str(s.scan_id), "accepted") for i, s in enumerate(scans))
            )
            for _, scans in sends
        ]


def _submit_all(
    combiner: Combiner, sends: list[Send], run: Recorder, queued: int | None = None
) -> list[IngestResult]:
    """Submit one send first and hold its round; let the rest queue behind it (``queued`` of
    them: all by default); then let go."""
    answers: list[IngestResult | BaseException | None] = [None] * len(sends)

    def submit(index: int) -> None:
        try:
            answers[index] = combiner.ingest(sends[index], run)
        except BaseException as error:  # checked by the caller
            answers[index] = error

    first = threading.Thread(target=submit, args=(0,))
    first.start()
    assert run.entered.wait(10)
    others = [threading.Thread(target=submit, args=(i,)) for i in range(1, len(sends))]
    for thread in others:
        thread.start()
    _wait_until_queued(combiner, len(sends) - 1 if queued is None else queued)
    run.release.set()
    for thread in [first, *others]:
        thread.join(10)
    return answers  # type: ignore[return-value]


def _wait_until_queued(combiner: Combiner, count: int) -> None:
    deadline = datetime.now(UTC).timestamp() + 10
    while datetime.now(UTC).timestamp() < deadline:
        with combiner._guard:
            if sum(len(lane.queue) for lane in combiner._lanes.values()) >= count:
                return
        threading.Event().wait(0.005)
    raise AssertionError(f"Expected {count} requests queued, got fewer within 10 s.")


def test_requests_arriving_during_a_round_are_ingested_together_in_the_next() -> None:
    combiner, run = Combiner(), Recorder(hold_first=True)
    device = _device(ORG_A)
    sends = [_send(device) for _ in range(8)]
    answers = _submit_all(combiner, sends, run)
    assert [len(r) for r in run.rounds] == [1, 7]
    for send, answer in zip(sends, answers, strict=True):
        assert isinstance(answer, IngestResult)
        assert [r.scan_id for r in answer.results] == [str(s.scan_id) for s in send[1]]


def test_organisations_are_never_combined() -> None:
    combiner, run = Combiner(), Recorder(hold_first=True)
    a, b = _device(ORG_A), _device(ORG_B)
    sends = [_send(a), _send(b), _send(a), _send(b), _send(a)]
    answers = _submit_all(combiner, sends, run, queued=2)  # B's lane is not held up by A's
    assert all(isinstance(answer, IngestResult) for answer in answers)
    for round_ in run.rounds:
        assert len({device.organisation_id for device, _ in round_}) == 1
    rounds_of_a = [len(r) for r in run.rounds if r[0][0].organisation_id == ORG_A]
    assert rounds_of_a == [1, 2]


def test_a_round_holds_at_most_max_scans_and_every_request_is_answered() -> None:
    combiner, run = Combiner(max_scans=5), Recorder(hold_first=True)
    device = _device(ORG_A)
    sends = [_send(device, 1), _send(device, 3), _send(device, 3), _send(device, 2)]
    answers = _submit_all(combiner, sends, run)
    sizes = [sum(len(s[1]) for s in r) for r in run.rounds]
    assert sizes[0] == 1
    assert max(sizes) <= 5
    assert sum(sizes) == 9
    assert len(sizes) == 3  # 8 queued scans in rounds of at most 5: two rounds
    for send, answer in zip(sends, answers, strict=True):
        assert isinstance(answer, IngestResult)
        assert len(answer.results) == len(send[1])


def test_a_failed_round_fails_every_request_in_it_and_the_next_round_still_runs() -> None:
    combiner = Combiner()
    device = _device(ORG_A)
    failing = Recorder(hold_first=True)

    def run(sends: Sequence[Send]) -> list[IngestResult]:
        answers = failing(sends)
        if len(failing.rounds) == 2:
            raise ConnectionError("database went away")
        return answers

    run.entered = failing.entered  # type: ignore[attr-defined]
    run.release = failing.release  # type: ignore[attr-defined]
    answers = _submit_all(combiner, [_send(device) for _ in range(4)], run)  # type: ignore[arg-type]
    assert isinstance(answers[0], IngestResult)
    assert all(isinstance(a, ConnectionError) for a in answers[1:])
    after = combiner.ingest(_send(device), failing)
    assert after.results[0].status == "accepted"


def test_a_lone_request_leads_its_own_round() -> None:
    combiner, run = Combiner(), Recorder()
    send = _send(_device(ORG_A), 2)
    answer = combiner.ingest(send, run)
    assert run.rounds == [[send]]
    assert len(answer.results) == 2


@pytest.mark.parametrize("threads", [16])
def test_many_threads_every_answer_reaches_its_own_request(threads: int) -> None:
    combiner, run = Combiner(), Recorder()
    device = _device(ORG_A)
    sends = [_send(device) for _ in range(threads * 20)]
    answers: dict[int, IngestResult] = {}

    def worker(offset: int) -> None:
        for index in range(offset, len(sends), threads):
            answers[index] = combiner.ingest(sends[index], run)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(30)
    assert len(answers) == len(sends)
    for index, send in enumerate(sends):
        assert answers[index].results[0].scan_id == str(send[1][0].scan_id)
    assert sum(len(r) for r in run.rounds) == len(sends)
