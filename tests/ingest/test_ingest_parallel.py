"""Parallel ingest knows no backend: its workers prepare events with the store's own `prepare`, and an
event the store refuses goes to the dead letters as the store gives it back (`original`)."""

from datetime import UTC, datetime

import orjson

from reynard.ingest.deadletter import DeadLetterStore
from reynard.ingest.parallel import ingest_parallel
from reynard.ingest.sources.base import ReadOptions
from reynard.query import ast
from reynard.runtime import worker_pipeline
from reynard.settings import Settings
from reynard.state import open_state
from reynard.store.base import WriteResult
from reynard.store.memory import MemoryEventStore


class RefusingStore(MemoryEventStore):
    """The memory store, refusing the events of process id 3."""

    def write_prepared(self, items, *, commit=False):
        refused = [item for item in items if self.original(item)["processid"] == "3"]
        result = super().write_prepared([item for item in items if item not in refused], commit=commit)
        result.add(WriteResult(failed=[(item.id, "the store refused it: process 3") for item in refused]))
        return result


def test_workers_prepare_for_the_store_they_are_given_and_refusals_become_dead_letters(tmp_path):
    log = tmp_path / "auth.log"
    log.write_text(
        "".join(
            f"Nov 20 10:00:{i:02d} host sshd[{i}]: Failed password for root from 203.0.113.9 port {1000 + i}"
            " ssh2\n"
            for i in range(6)
        )
    )
    settings = Settings(data_dir=tmp_path)
    store = RefusingStore()
    dead_letters = DeadLetterStore(open_state(settings.state_url))
    rejected: list[str] = []
    summary = ingest_parallel(
        [log],
        settings,
        store,
        dead_letters,
        workers=1,
        options=ReadOptions(reference_time=datetime(2026, 11, 28, tzinfo=UTC)),
        on_reject=rejected.append,
        pipeline_factory=worker_pipeline,
    )
    assert (summary.read, summary.stored, summary.rejected) == (6, 5, 1)
    stored = store.search(ast.Search(limit=None, fields=("processid", "utctimestamp"))).events
    assert stored == [
        {"processid": str(i), "utctimestamp": f"2026-11-20T10:00:{i:02d}.000000+00:00"}
        for i in (5, 4, 2, 1, 0)
    ]
    (letter,) = dead_letters.list()
    event = orjson.loads(letter.raw)
    assert (event["processid"], event["details"]["sourceport"]) == ("3", 1003)
    assert letter.reason == "the store refused it: process 3"
    assert rejected == [f"ingest: input rejected: {letter.reason}"]
