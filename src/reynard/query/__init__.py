"""The one query AST, its builders (query strings, MozDef models) and its compilers (tantivy, predicate)."""
