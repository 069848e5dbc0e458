"""Reports over incidents: how many in each phase, of each type, opened each month; how long they take
to contain and to close; the most common types ("understand your weaknesses").

A type is the incident's category (the alert's, for an escalated one); tags and ATT&CK techniques are
counted beside it. Times come from the phase changes (MozDef's dates, `phases.py`): contained is the
last entry into Eradication, closed into Closed; an incident counts in a mean only once it has that
date, so the report says how many each mean is over.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import fmean
from typing import Any

from reynard.cases.model import Incident
from reynard.cases.phases import PHASES

UNCATEGORIZED = "uncategorized"


@dataclass(frozen=True)
class Mean:
    seconds: float | None
    count: int  # incidents the mean is over

    def as_dict(self) -> dict[str, Any]:
        hours = None if self.seconds is None else round(self.seconds / 3600, 2)
        return {"seconds": self.seconds, "hours": hours, "incidents": self.count}


@dataclass(frozen=True)
class Report:
    total: int
    open: int
    by_phase: dict[str, int]
    by_type: dict[str, int]
    by_tag: dict[str, int]
    by_technique: dict[str, int]
    by_month: dict[str, int]
    time_to_contain: Mean
    time_to_close: Mean
    top_types: list[tuple[str, int]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "open": self.open,
            "by_phase": self.by_phase,
            "by_type": self.by_type,
            "by_tag": self.by_tag,
            "by_technique": self.by_technique,
            "by_month": self.by_month,
            "mean_time_to_contain": self.time_to_contain.as_dict(),
            "mean_time_to_close": self.time_to_close.as_dict(),
            "top_types": [{"type": t, "count": n} for t, n in self.top_types],
        }


def _mean(spans: list[float]) -> Mean:
    return Mean(fmean(spans) if spans else None, len(spans))


def _span(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds()


def report(incidents: Sequence[Incident], top: int = 5) -> Report:
    phases = Counter(i.phase for i in incidents)
    types = Counter(i.category or UNCATEGORIZED for i in incidents)
    tags = Counter(t for i in incidents for t in i.tags if t not in i.techniques)
    techniques = Counter(t for i in incidents for t in i.techniques)
    months = Counter(i.created.strftime("%Y-%m") for i in incidents)
    contain, close = [], []
    for incident in incidents:
        dates = incident.dates()
        opened = dates["dateOpened"] or incident.created
        if (span := _span(opened, dates["dateContained"])) is not None:
            contain.append(span)
        if (span := _span(opened, dates["dateClosed"])) is not None:
            close.append(span)
    return Report(
        total=len(incidents),
        open=sum(1 for i in incidents if i.is_open),
        by_phase={p: phases.get(p, 0) for p in PHASES},
        by_type=dict(types.most_common()),
        by_tag=dict(tags.most_common()),
        by_technique=dict(techniques.most_common()),
        by_month=dict(sorted(months.items())),
        time_to_contain=_mean(contain),
        time_to_close=_mean(close),
        top_types=types.most_common(top),
    )
