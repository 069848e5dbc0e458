"""`reynard search`: Kibana/Lucene query strings over the stored events (works while a server writes)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson

from reynard.cli.options import data_dir_option, runtime_of, user_errors


@click.command()
@click.argument("query", default="*")
@click.option("--since", help="Start: a duration before now (15m, 24h, 7d) or ISO 8601. Default: all time.")
@click.option("--until", help="End (exclusive): a duration before now or ISO 8601. Default: now.")
@click.option("--limit", type=int, help="Events to show (default 100; NDJSON: all).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "ndjson"]), default="table")
@click.option("--count", "count_only", is_flag=True, help="Print the number of matching events only.")
@click.option("--agg", "agg_field", help="Count events by the values of this field instead.")
@click.option("--fields", help="Comma-separated fields to show (dotted paths).")
@data_dir_option
@click.pass_context
@user_errors
def search(
    ctx: click.Context,
    query: str,
    since: str | None,
    until: str | None,
    limit: int | None,
    fmt: str,
    count_only: bool,
    agg_field: str | None,
    fields: str | None,
    data_dir: Path | None,
) -> None:
    """Search stored events with a Kibana/Lucene query string.

    Examples: `details.eventname:DescribeInstances`, `source:cloudtrail AND details.eventname:Delete*`,
    `details.sourceipaddress:10.0.0.0/8`, `summary:"failed password" AND NOT details.username:root`.
    Works while a server is writing.
    """
    from reynard.query import ast, render
    from reynard.query.lucene import parse_query
    from reynard.query.window import window

    if limit is not None and limit < 1:
        raise click.BadParameter("must be at least 1", param_hint="--limit")
    node = parse_query(query)
    span = window(since, until)
    store = runtime_of(ctx, data_dir=data_dir).events
    columns = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
    if count_only:
        click.echo(store.count(node, span))
        return
    if agg_field:
        request = ast.Aggregate(node, span, {"a": ast.TermsAgg(agg_field.lower(), size=limit or 20)})
        buckets = store.aggregate(request)["a"]
        rows = [{"value": b["value"], "count": b["count"]} for b in buckets]
        if fmt == "table":
            click.echo(render.buckets_table(buckets, agg_field))
        elif fmt == "json":
            click.echo(orjson.dumps({"field": agg_field, "buckets": rows}).decode())
        else:
            for row in rows:
                click.echo(orjson.dumps(row).decode())
        return
    if fmt == "ndjson":
        out = sys.stdout.buffer
        for number, event in enumerate(store.stream(ast.Search(node, span, limit=None)), 1):
            out.write(orjson.dumps(render.project(event, columns)) + b"\n")
            if limit is not None and number >= limit:
                break
        out.flush()
        return
    result = store.search(ast.Search(node, span, limit=limit or 100))
    if fmt == "json":
        body = {
            "events": [render.project(e, columns) for e in result.events],
            "count": len(result.events),
            "next_after": result.next_after,
        }
        click.echo(orjson.dumps(body).decode())
    else:
        click.echo(render.table(result.events, columns or render.DEFAULT_FIELDS))
