"""The reference the issue names for Sigma results: pySigma's SQLite backend over the same raw records
flattened into one in-memory SQLite table with case-insensitive text columns (what Zircolite does).
Used by tests/test_sigma_reference.py and by benchmarks/sigma.py."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import orjson
from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule

from reynard.detect.sigma.loader import POLICY


def flatten(record: dict, prefix: str = "", out: dict | None = None) -> dict:
    """A record as Zircolite flattens JSON: nested keys joined with dots, lists as JSON text, booleans
    as 'true'/'false'."""
    out = {} if out is None else out
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flatten(value, f"{name}.", out)
        elif isinstance(value, list):
            out[name] = json.dumps(value)
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        else:
            out[name] = value
    return out


def _regexp(pattern: str, value: object) -> bool:
    return value is not None and re.search(pattern, str(value)) is not None


class SqliteTable:
    """One in-memory table `logs`, a NOCASE text column per flattened field (SQLite's column names are
    case-insensitive: one column per name, whatever its case)."""

    def __init__(self, columns: Iterable[str]):
        by_name: dict[str, str] = {}
        for column in sorted(set(columns) | {"eventID"}):
            by_name.setdefault(column.lower(), column)
        self.columns = list(by_name.values())
        self.keys = [c.lower() for c in self.columns]
        self.db = sqlite3.connect(":memory:")
        self.db.create_function("regexp", 2, _regexp, deterministic=True)
        quoted = [f'"{c}"' for c in self.columns]
        self.db.execute(f"CREATE TABLE logs ({', '.join(q + ' TEXT COLLATE NOCASE' for q in quoted)})")
        marks = ", ".join("?" for _ in self.columns)
        self.insert_sql = f"INSERT INTO logs ({', '.join(quoted)}) VALUES ({marks})"

    @classmethod
    def of(cls, records: list[dict]) -> SqliteTable:
        rows = [flatten(r) for r in records]
        table = cls(c for row in rows for c in row)
        table.insert_flat(rows)
        return table

    def insert_flat(self, rows: list[dict]) -> None:
        folded = [{k.lower(): v for k, v in row.items()} for row in rows]
        self.db.executemany(self.insert_sql, [tuple(row.get(k) for k in self.keys) for row in folded])

    def run(self, sql: str) -> list[tuple]:
        """The matching rows, whole (as Zircolite returns them); none when the rule names a column that no
        record has (SQLite refuses the query)."""
        try:
            return self.db.execute(sql).fetchall()
        except sqlite3.OperationalError as e:
            if "no such column" in str(e):
                return []
            raise

    def ids(self, sql: str) -> set[str]:
        column = self.keys.index("eventid")
        return {str(row[column]) for row in self.run(sql)}

    def clear(self) -> None:
        self.db.execute("DELETE FROM logs")


def sqlite_query(rule: SigmaRule) -> str | None:
    """The SQLite backend's query for one detection rule, or None when it cannot convert it."""
    try:
        (query,) = sqliteBackend().convert_rule(rule)
    except Exception:  # the reference has its own limits (keywords, some modifiers)
        return None
    return query


def sqlite_queries(files: Iterable[Path]) -> dict[str, str]:
    """Rule key (id, else name, else title) -> query, for the detection rules the backend converts."""
    out: dict[str, str] = {}
    for path in files:
        collection = SigmaCollection.from_yaml(path.read_text(), collect_errors=True, policy=POLICY)
        for rule in collection.rules:
            if isinstance(rule, SigmaRule) and not rule.errors and (query := sqlite_query(rule)):
                out[str(rule.id) if rule.id else (rule.name or rule.title)] = query
    return out


def records_of(folder: Path) -> list[dict]:
    found: list[dict] = []
    for path in sorted(folder.rglob("*.json")):
        raw = path.read_bytes()
        try:
            bodies = [orjson.loads(raw)]
        except orjson.JSONDecodeError:  # OTRF's export is NDJSON
            bodies = [orjson.loads(line) for line in raw.splitlines() if line.strip()]
        for body in bodies:
            items = body.get("Records", [body]) if isinstance(body, dict) else body
            found.extend(r for r in items if isinstance(r, dict) and r.get("eventID"))
    return found
