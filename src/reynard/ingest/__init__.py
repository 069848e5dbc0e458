"""Sources (parsers), the plugin pipeline and the dead-letter store: files in, normalized events out."""
