"""The HTTP server: MozDef-compatible ingest, the JSON API, and (later) the console."""
