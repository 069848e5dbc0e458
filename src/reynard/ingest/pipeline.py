"""The plugin pipeline: ordered enrichment of draft events, where no plugin bug can lose an event.

A plugin is a small object with a `name`, a `priority` (lower runs first, as in MozDef) and two methods:
`wants(draft)`, a cheap test of whether it applies (look at `source` or `category`, never scan every
value as MozDef's token registration did), and `apply(draft)`, which returns the enriched draft, or
None to drop the event on purpose. A plugin that raises leaves a note in the event's `errors` and
the event goes on to the next plugin. Every plugin that ran is named in `plugins`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Protocol


class Plugin(Protocol):
    name: ClassVar[str]
    priority: ClassVar[int]

    def wants(self, draft: dict) -> bool: ...

    def apply(self, draft: dict) -> dict | None: ...


class Pipeline:
    """Runs plugins in priority order (ties keep the order given)."""

    def __init__(self, plugins: Iterable[Plugin]):
        self.plugins = sorted(plugins, key=lambda p: p.priority)

    def run(self, draft: dict) -> dict | None:
        ran = draft.get("plugins")
        if not isinstance(ran, list):
            ran = draft["plugins"] = []
        for plugin in self.plugins:
            try:
                if not plugin.wants(draft):
                    continue
                result = plugin.apply(draft)
            except Exception as e:  # a plugin bug must not lose the event
                draft.setdefault("errors", []).append(f"plugin {plugin.name} failed: {type(e).__name__}: {e}")
                continue
            if result is None:
                return None
            if result is not draft:  # a plugin that built a new dict keeps the record of who ran
                result["plugins"] = ran
            draft = result
            ran.append(plugin.name)
        return draft
