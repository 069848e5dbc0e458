"""`reynard ioc`: the indicator lists from the command line (registered in `reynard.cli`).

Exit codes as the rest of `reynard`: 0 done; 1 an import rejected some rows (the good ones were
written); 2 a usage error or an error of the user's (bad value, unknown id), one line on stderr.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
import orjson

from reynard.cli.audited import audit_note, audited
from reynard.cli.options import ExitStatus, by_option, data_dir_option, runtime_of, user_errors, who
from reynard.events.timestamps import display
from reynard.intel.indicators import KINDS, Indicator, IndicatorError

if TYPE_CHECKING:  # the store and the formats load with the command that needs them: `reynard` starts fast
    from reynard.intel.store import IndicatorStore

FORMATS = ("csv", "text")

_kind = click.option("--kind", type=click.Choice(KINDS), help="The indicator kind (default: detected).")


def _store(ctx: click.Context, data_dir: Path | None) -> IndicatorStore:
    return runtime_of(ctx, data_dir=data_dir).indicators


def _line(item: Indicator, now: datetime) -> str:
    expires = f" expires {display(item.expires)}" if item.expires else ""
    source = f" source {item.source}" if item.source else ""
    comment = f"  # {item.comment}" if item.comment else ""
    return f"{item.id:>6}  {item.kind:<10} {item.value}  [{item.state(now)}]{expires}{source}{comment}"


def _target(store: IndicatorStore, indicator: str, kind: str | None) -> Indicator:
    """An indicator by id (digits) or by value (with --kind, or detected)."""
    if indicator.isdigit() and kind is None:
        return store.get(int(indicator))
    return store.find(kind, indicator)


@click.group("ioc")
def ioc() -> None:
    """Indicator lists (IOCs): IPs and CIDRs, domains, access keys, principals, hashes, terms.

    Events that touch an active indicator are tagged `ioc` at ingest (the indicators in
    `details.iocs`) and raise the `indicator_match` alert. See docs/cases.md.
    """


@ioc.command("add")
@click.argument("value")
@_kind
@click.option("--expires", help="When it stops matching: a duration from now (30d, 12h) or ISO 8601.")
@click.option("--source", help="Where it comes from (a feed, a report, an incident).")
@click.option("--reference", help="A link or ticket id.")
@click.option("--comment", help="Why it is on the list.")
@by_option
@data_dir_option
@click.pass_context
@user_errors
@audited(target="value", detail=("kind", "expires", "source", "reference", "comment"))
def ioc_add(
    ctx: click.Context,
    value: str,
    kind: str | None,
    expires: str | None,
    source: str | None,
    reference: str | None,
    comment: str | None,
    by: str | None,
    data_dir: Path | None,
) -> None:
    """Add VALUE, or update it when it is on the list already (same kind and value)."""
    from reynard.intel.formats import parse_expiry
    from reynard.intel.store import NewIndicator

    new = NewIndicator(
        value=value,
        kind=kind,
        expires=parse_expiry(expires, name="--expires"),
        source=source,
        reference=reference,
        comment=comment,
        creator=who(by),
    )
    written = _store(ctx, data_dir).add(new, by=who(by))
    audit_note(id=written.indicator.id, created=written.created)
    verb = "added" if written.created else "updated"
    click.echo(f"{verb} {_line(written.indicator, datetime.now(UTC)).strip()}")


@ioc.command("list")
@click.option(
    "--state",
    type=click.Choice(["active", "expired", "removed", "all"]),
    default="active",
    show_default=True,
)
@_kind
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True
)
@data_dir_option
@click.pass_context
@user_errors
def ioc_list(ctx: click.Context, state: str, kind: str | None, fmt: str, data_dir: Path | None) -> None:
    """The indicators in a state (json: one object a line; csv: the export format)."""
    from reynard.intel.formats import export

    now = datetime.now(UTC)
    items = _store(ctx, data_dir).list(state, kind=kind, now=now)
    if fmt == "csv":
        click.echo(export(items, "csv"), nl=False)
    elif fmt == "json":
        for item in items:
            click.echo(orjson.dumps(item.as_dict(now)).decode())
    else:
        for item in items:
            click.echo(_line(item, now))
        click.echo(f"{len(items)} indicators")


@ioc.command("show")
@click.argument("indicator")
@_kind
@data_dir_option
@click.pass_context
@user_errors
def ioc_show(ctx: click.Context, indicator: str, kind: str | None, data_dir: Path | None) -> None:
    """One indicator (by id, or by value) and its history, as JSON."""
    store = _store(ctx, data_dir)
    item = _target(store, indicator, kind)
    body = {**item.as_dict(datetime.now(UTC)), "history": store.history(item.id)}
    click.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())


@ioc.command("import")
@click.argument("path", type=click.Path(dir_okay=False, allow_dash=True, path_type=str))
@click.option("--format", "fmt", type=click.Choice(["auto", *FORMATS]), default="auto", show_default=True)
@click.option("--kind", type=click.Choice(KINDS), help="The kind of every row that does not give one.")
@click.option("--source", help="Source of the rows that do not give one (e.g. the feed's name).")
@click.option("--expires", help="Expiry of the rows that do not give one: 30d, 12h or ISO 8601.")
@by_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as a JSON object.")
@data_dir_option
@click.pass_context
@user_errors
@audited(target="path", detail=("fmt", "kind", "source", "expires"))
def ioc_import(
    ctx: click.Context,
    path: str,
    fmt: str,
    kind: str | None,
    source: str | None,
    expires: str | None,
    by: str | None,
    as_json: bool,
    data_dir: Path | None,
) -> None:
    """Import a CSV file or a text file (one value a line) of indicators; - reads stdin.

    Bad rows are reported by line and skipped; the good rows are written in one transaction. Ends with
    `added A updated U rejected R`; exits 1 when a row was rejected.
    """
    from reynard.intel.formats import detect_format, import_indicators, parse_expiry
    from reynard.intel.store import NewIndicator

    data = _read(path)
    chosen = detect_format(data, None if path == "-" else path) if fmt == "auto" else fmt
    defaults = NewIndicator(value="", expires=parse_expiry(expires, name="--expires"), source=source)
    report = import_indicators(_store(ctx, data_dir), data, chosen, kind=kind, defaults=defaults, by=who(by))
    audit_note(added=report.added, updated=report.updated, rejected=len(report.errors))
    if as_json:
        click.echo(orjson.dumps(report.as_dict()).decode())
    else:
        where = "stdin" if path == "-" else path
        for error in report.errors:
            click.echo(f"{where}:{error}", err=True)
        click.echo(report.line())
    sys.exit(ExitStatus.REJECTED if report.errors else ExitStatus.OK)


def _read(path: str) -> str:
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as e:
        raise IndicatorError(f"cannot read: {e.strerror}", where=path) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise IndicatorError(f"not UTF-8 text (byte {e.start})", where=path) from None


@ioc.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@_kind
@click.option("--state", type=click.Choice(["active", "expired", "all"]), default="active", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file.")
@data_dir_option
@click.pass_context
@user_errors
def ioc_export(
    ctx: click.Context, fmt: str, kind: str | None, state: str, output: Path | None, data_dir: Path | None
) -> None:
    """The indicators as CSV (every field; what `ioc import` reads) or text (one value a line).

    Removed indicators are never exported; `--state all` is the active and the expired ones.
    """
    from reynard.intel.formats import export, exportable

    items = exportable(_store(ctx, data_dir), state, kind)
    text = export(items, fmt)
    if output is None:
        click.echo(text, nl=False)
        return
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(output)
    click.echo(f"exported {len(items)} indicators to {output}", err=True)


@ioc.command("expire")
@click.argument("indicator")
@click.option("--at", "at", help="When (ISO 8601 or a duration from now: 2h); default now.")
@_kind
@by_option
@data_dir_option
@click.pass_context
@user_errors
@audited(target="indicator", detail=("at", "kind"))
def ioc_expire(
    ctx: click.Context,
    indicator: str,
    at: str | None,
    kind: str | None,
    by: str | None,
    data_dir: Path | None,
) -> None:
    """Expire INDICATOR (an id, or a value) now or at a time: from then on it does not match."""
    from reynard.intel.formats import parse_expiry

    store = _store(ctx, data_dir)
    item = store.expire(_target(store, indicator, kind).id, parse_expiry(at, name="--at"), by=who(by))
    click.echo(f"expired {_line(item, datetime.now(UTC)).strip()}")


@ioc.command("remove")
@click.argument("indicator")
@click.option("--reason", help="Why (kept in its history).")
@_kind
@by_option
@data_dir_option
@click.pass_context
@user_errors
@audited(target="indicator", detail=("reason", "kind"))
def ioc_remove(
    ctx: click.Context,
    indicator: str,
    reason: str | None,
    kind: str | None,
    by: str | None,
    data_dir: Path | None,
) -> None:
    """Take INDICATOR (an id, or a value) off the lists; its record and history stay."""
    store = _store(ctx, data_dir)
    item = store.remove(_target(store, indicator, kind).id, by=who(by), reason=reason)
    click.echo(f"removed {_line(item, datetime.now(UTC)).strip()}")


@ioc.command("hunt")
@click.option("--since", default="24h", show_default=True, help="Start: 24h, 7d or ISO 8601.")
@click.option("--until", help="End (exclusive): a duration before now or ISO 8601. Default: now.")
@click.option("--alert", is_flag=True, help="Raise indicator_match alerts for the events found.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@data_dir_option
@click.pass_context
@user_errors
@audited(detail=("since", "until"), when=lambda options: options["alert"])
def ioc_hunt(
    ctx: click.Context, since: str, until: str | None, alert: bool, fmt: str, data_dir: Path | None
) -> None:
    """Search the stored events for the indicators active now (those added after the events came in).

    One line per event that touches one (json: one object a line); `--alert` raises the
    indicator_match alert for each, once per event.
    """
    from reynard.detect.hunt import raise_alerts
    from reynard.intel.hunt import HuntReport, hunt
    from reynard.query.window import window

    runtime = runtime_of(ctx, data_dir=data_dir)
    span = window(since, until)
    report = HuntReport()
    found = []
    for event, hits in hunt(runtime.events, runtime.indicators, span.start, span.end, report):
        iocs = [hit.as_dict() for hit in hits]
        if fmt == "json":
            row = {"id": event["id"], "utctimestamp": event["utctimestamp"], "summary": event["summary"]}
            click.echo(orjson.dumps({**row, "iocs": iocs}).decode())
        else:
            touched = ", ".join(f"{h['kind']} {h['value']}" for h in iocs)
            click.echo(f"{event['utctimestamp'][:19]}  {event['id']}  {event['summary']}  -> {touched}")
        if alert:
            found.append((event, hits))
    if alert:
        report.alerts = raise_alerts(runtime.rules, runtime.alerts, found)
        audit_note(alerts=len(report.alerts))
    click.echo(report.line(), err=True)
