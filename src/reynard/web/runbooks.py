"""`/api/runbooks`: the runbooks in force, one runbook (front matter, Markdown, HTML), and which one applies.

The runbooks are re-read when a file changes (`RunbookLibrary`), so an edited user runbook shows without a
restart. Bodies are rendered as CommonMark with raw HTML escaped (markdown-it-py, `html` off): a runbook
is text a user wrote, and the console shows it inside its own page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from markdown_it import MarkdownIt

from reynard.cases.runbook_file import missing_sections
from reynard.cases.runbooks import RunbookLibrary
from reynard.errors import NotFound
from reynard.identity.roles import Permission
from reynard.web.auth import allow

_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")


def render_html(markdown: str) -> str:
    """A runbook body as HTML: CommonMark plus tables; raw HTML in it is escaped, unsafe links dropped."""
    return _MARKDOWN.render(markdown)


def runbooks_router(library: RunbookLibrary) -> APIRouter:
    router = APIRouter(prefix="/api/runbooks", tags=["runbooks"])

    @router.get("", dependencies=[allow(Permission.READ)])
    def list_runbooks() -> dict[str, Any]:
        """Every runbook in force (front matter only), the files that did not load, and the shipped
        runbooks that user runbooks replace."""
        current = library.current()
        return {
            "runbooks": [r.front_matter() for r in current],
            "count": len(current),
            "problems": [p.as_dict() for p in current.problems],
            "overridden": list(current.overridden),
        }

    @router.get("/suggest", dependencies=[allow(Permission.READ)])
    def suggest(
        rule: Annotated[
            list[str] | None, Query(description="built-in name, Sigma id/name/title, classname")
        ] = None,
        category: Annotated[list[str] | None, Query(description="an alert category")] = None,
        finding_type: Annotated[list[str] | None, Query(description="a GuardDuty finding type")] = None,
    ) -> dict[str, Any]:
        """The runbook that applies (rule > finding type > finding type wildcard > category), and why;
        `runbook` is null when none does. Each parameter may repeat, in order of preference."""
        if not (rule or category or finding_type):
            raise HTTPException(400, "give at least one of rule, category, finding_type")
        found = library.current().match(
            rules=rule or (), finding_types=finding_type or (), categories=category or ()
        )
        if found is None:
            return {"runbook": None, "matched": None}
        return {"runbook": found.runbook.front_matter(), "matched": found.as_dict()}

    @router.get("/{name}", dependencies=[allow(Permission.READ)])
    def get_runbook(name: str) -> dict[str, Any]:
        """One runbook: its front matter, its body as Markdown and as HTML, and the recommended
        sections it lacks."""
        runbook = library.current().get(name)
        if runbook is None:
            raise NotFound(f"no runbook named {name!r}")
        return {
            "name": runbook.name,
            "front_matter": runbook.front_matter(),
            "body": runbook.body,
            "html": render_html(runbook.body),
            "missing_sections": missing_sections(runbook),
        }

    return router
