"""A postmortem as Markdown, and as one standalone HTML page: every text escaped, the style inline,
nothing loaded from anywhere (it is mailed, archived and opened offline)."""

from __future__ import annotations

from html import escape

from reynard.cases.postmortem import Block, Bullets, Paragraph, Postmortem, Table

EDITED_MARK = " (edited)"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|")


def _markdown_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return block.text
    if isinstance(block, Bullets):
        return "\n".join(f"- {' '.join(item.split())}" for item in block.items)
    lines = [
        "| " + " | ".join(_cell(h) for h in block.header) + " |",
        "|" + "|".join("---" for _ in block.header) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
    return "\n".join(lines)


def to_markdown(document: Postmortem) -> str:
    parts = [
        f"# {' '.join(document.title.split())}",
        f"_Incident {document.incident_id}, version {document.version}._",
    ]
    for section in document.sections:
        parts.append(f"## {section.heading}")
        parts.extend(_markdown_block(b) for b in section.blocks)
    return "\n\n".join(parts) + "\n"


STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #1d1d1f; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .3rem .5rem; text-align: left; vertical-align: top; }
th { background: #f4f4f6; } .meta, .edited { color: #666; font-size: .85rem; }
"""


def _html_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return "<p>" + "<br>\n".join(escape(line) for line in block.text.split("\n")) + "</p>"
    if isinstance(block, Bullets):
        return "<ul>\n" + "\n".join(f"<li>{escape(item)}</li>" for item in block.items) + "\n</ul>"
    assert isinstance(block, Table)
    head = "".join(f"<th>{escape(h)}</th>" for h in block.header)
    body = "\n".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in block.rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def to_html(document: Postmortem) -> str:
    """A complete page (`<!doctype html>` to `</html>`) with no script and no external reference."""
    parts = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{escape(document.title)}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(document.title)}</h1>",
        f'<p class="meta">Incident {document.incident_id}, version {document.version}.</p>',
    ]
    for section in document.sections:
        mark = f'<span class="edited">{EDITED_MARK}</span>' if section.edited else ""
        parts.append(f'<section id="{section.key}">')
        parts.append(f"<h2>{escape(section.heading)}{mark}</h2>")
        parts.extend(_html_block(b) for b in section.blocks)
        parts.append("</section>")
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"
