"""`/api/iocs`: the indicator lists over HTTP (list, add, show, expire, remove, import, export).

Errors: a bad value, kind, state or time is 400 `{"error": ...}` naming it; an unknown id 404.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from reynard.identity.roles import Permission
from reynard.intel.formats import (
    detect_format,
    export,
    exportable,
    import_indicators,
    parse_expiry,
)
from reynard.intel.indicators import Indicator
from reynard.intel.store import IndicatorStore, NewIndicator
from reynard.web.auth import CanTriage, allow
from reynard.web.fields import Id
from reynard.web.hygiene import BodyTypes

MAX_IMPORT_BYTES = 16 * 1024 * 1024
# An import's body: CSV, or a file as it is (a text list, or CSV, told apart by its content). Never
# text/plain, which a page on another site may post unasked (web/hygiene.py).
IMPORT_TYPES = BodyTypes(("text/csv", "application/octet-stream"))
IMPORT_BODY = {
    "required": True,
    "content": {media: {"schema": {"type": "string"}} for media in IMPORT_TYPES.accepted},
}
KindName = Literal["ip", "domain", "access_key", "principal", "hash", "term"]


class IndicatorIn(BaseModel):
    value: str = Field(..., description="203.0.113.9, 198.51.100.0/24, evil.example, AKIA..., an ARN...")
    kind: KindName | None = Field(None, description="detected from the value when absent")
    expires: str | None = Field(None, description="ISO 8601, or a duration from now (30d, 12h)")
    source: str | None = None
    reference: str | None = None
    comment: str | None = None


class IndicatorOut(BaseModel):
    id: int
    kind: KindName
    value: str
    source: str | None
    reference: str | None
    comment: str | None
    creator: str
    created: str
    updated: str
    expires: str | None
    removed: str | None
    removed_by: str | None
    state: Literal["active", "expired", "removed"]
    active: bool


class Change(BaseModel):
    action: Literal["added", "updated", "expired", "removed"]
    by: str
    at: str
    detail: dict | str | None


class IndicatorDetail(IndicatorOut):
    history: list[Change]


class WrittenOut(BaseModel):
    created: bool = Field(..., description="false: an indicator with this kind and value was updated")
    indicator: IndicatorOut


class IndicatorList(BaseModel):
    indicators: list[IndicatorOut]
    count: int


class ExpireIn(BaseModel):
    at: str | None = Field(None, description="ISO 8601 or a duration from now; default now")


class RowErrorOut(BaseModel):
    line: int
    reason: str


class ImportOut(BaseModel):
    added: int
    updated: int
    rejected: int
    errors: list[RowErrorOut]


def _out(item: Indicator) -> IndicatorOut:
    return IndicatorOut(**item.as_dict(datetime.now(UTC)))


def iocs_router(indicators: IndicatorStore) -> APIRouter:
    router = APIRouter(prefix="/api/iocs", tags=["indicators"])

    def store() -> IndicatorStore:
        return indicators

    def one(indicator_id: int) -> Indicator:
        return indicators.get(indicator_id)  # UnknownIndicator: 404

    @router.get("", response_model=IndicatorList, dependencies=[allow(Permission.READ)])
    def list_iocs(
        state: Literal["active", "expired", "removed", "all"] = "active",
        kind: KindName | None = None,
        limit: int = Query(1000, ge=1, le=100_000),
    ) -> IndicatorList:
        """The indicators in a state, of a kind, oldest first."""
        items = store().list(state, kind=kind, limit=limit)
        return IndicatorList(indicators=[_out(i) for i in items], count=len(items))

    @router.post("", response_model=WrittenOut, status_code=201)
    def add_ioc(body: IndicatorIn, who: CanTriage) -> JSONResponse:
        """Add an indicator; the same kind and value again updates it (200 instead of 201)."""
        new = NewIndicator(
            value=body.value,
            kind=body.kind,
            expires=parse_expiry(body.expires),
            source=body.source,
            reference=body.reference,
            comment=body.comment,
            creator=who.name,
        )
        written = store().add(new, by=who.name)
        out = WrittenOut(created=written.created, indicator=_out(written.indicator))
        return JSONResponse(out.model_dump(), status_code=201 if written.created else 200)

    @router.get("/export", response_class=Response, dependencies=[allow(Permission.READ)])
    def export_iocs(
        fmt: Literal["csv", "text"] = Query("csv", alias="format"),
        state: Literal["active", "expired", "all"] = "active",
        kind: KindName | None = None,
    ) -> Response:
        """CSV (every field, what import reads) or text (one value a line). Never the removed ones."""
        body = export(exportable(store(), state, kind), fmt)
        media = "text/csv" if fmt == "csv" else "text/plain"
        return Response(body, media_type=f"{media}; charset=utf-8")

    @router.post(
        "/import",
        response_model=ImportOut,
        max_body_size=MAX_IMPORT_BYTES,
        openapi_extra={"requestBody": IMPORT_BODY},
    )
    async def import_iocs(
        request: Request,
        who: CanTriage,
        fmt: Literal["auto", "csv", "text"] = Query("auto", alias="format"),
        kind: KindName | None = None,
        source: str | None = None,
        expires: str | None = Query(None, description="for rows without one: 30d or ISO 8601"),
    ) -> ImportOut:
        """A CSV body (text/csv), or a file as it is (application/octet-stream: a text list or CSV, told
        apart by its content). Bad rows are reported by line; the good ones are written in one
        transaction. Over 16 MiB: 413, answered as soon as the body passes the limit."""
        raw = await request.body()
        try:
            data = raw.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise HTTPException(400, f"body is not UTF-8 text (byte {e.start})") from None
        chosen: str = fmt
        if fmt == "auto":
            csv_type = request.headers.get("content-type", "").startswith("text/csv")
            chosen = "csv" if csv_type else detect_format(data)
        defaults = NewIndicator(value="", expires=parse_expiry(expires), source=source)
        report = await run_in_threadpool(
            import_indicators, store(), data, chosen, kind=kind, defaults=defaults, by=who.name
        )
        return ImportOut(**report.as_dict())

    @router.get("/{indicator_id}", response_model=IndicatorDetail, dependencies=[allow(Permission.READ)])
    def get_ioc(indicator_id: Id) -> IndicatorDetail:
        """One indicator and its history (added, updated, expired, removed: who and when)."""
        item = one(indicator_id)
        history = [Change(**change) for change in store().history(item.id)]
        return IndicatorDetail(**_out(item).model_dump(), history=history)

    @router.post("/{indicator_id}/expire", response_model=IndicatorOut)
    def expire_ioc(indicator_id: Id, who: CanTriage, body: ExpireIn | None = None) -> IndicatorOut:
        """Expire now, or at a time: from then on it no longer matches."""
        body = body or ExpireIn()
        one(indicator_id)
        return _out(store().expire(indicator_id, parse_expiry(body.at, name="at"), by=who.name))

    @router.delete("/{indicator_id}", response_model=IndicatorOut)
    def remove_ioc(indicator_id: Id, who: CanTriage, reason: str | None = None) -> IndicatorOut:
        """Take it off the lists; the record and its history stay (state `removed`)."""
        one(indicator_id)
        return _out(store().remove(indicator_id, by=who.name, reason=reason))

    return router
