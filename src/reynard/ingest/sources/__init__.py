"""The source parsers by name, and telling which one an input needs from its first bytes.

Each source scores the head of an input from 0 (not mine) to 100; the highest score wins, ties going
to the earlier source in `SOURCES` (the specific AWS formats before the generic JSON fallback). A head
every source scores 0 is not a log Reynard knows: `detect_source` returns None and the caller rejects
the input.
"""

from __future__ import annotations

from reynard.ingest.sources.base import ReadOptions, Source
from reynard.ingest.sources.cloudtrail import CloudTrail
from reynard.ingest.sources.guardduty import GuardDuty
from reynard.ingest.sources.mozdef import MozDef
from reynard.ingest.sources.syslog import Syslog
from reynard.ingest.sources.vpcflow import VpcFlow

SOURCES: dict[str, Source] = {s.name: s for s in (CloudTrail(), GuardDuty(), VpcFlow(), Syslog(), MozDef())}

__all__ = ["SOURCES", "ReadOptions", "Source", "detect_source"]


def detect_source(head: bytes) -> Source | None:
    """The source that reads this input best, or None when no source recognizes it."""
    best, best_score = None, 0
    for source in SOURCES.values():
        score = source.sniff(head)
        if score > best_score:
            best, best_score = source, score
    return best
