"""Postmortems: edited sections win over generated ones and go back when emptied; every edit is on the
timeline; user text cannot break the Markdown table or inject HTML."""

import pytest

from reynard.cases.errors import InvalidValue
from reynard.cases.postmortem import Bullets, Paragraph, blocks_of_text, build
from reynard.cases.render import to_html, to_markdown
from reynard.cases.store import IncidentStore
from reynard.state import open_state


@pytest.fixture
def store(tmp_path):
    return IncidentStore(open_state(f"sqlite:///{tmp_path / 'state.db'}"))


def document(store, incident_id):
    return build(store.get(incident_id), store.timeline(incident_id))


def test_edited_sections_are_kept_on_the_timeline_and_used_until_emptied(store):
    incident = store.open_incident("Key leak", "alice")
    store.set_fields(incident.id, "alice", {"root_cause": "a key in a public repository"})
    generated = {s.key: s for s in document(store, incident.id).sections}
    assert generated["root_cause"].blocks == (Paragraph("a key in a public repository"),)
    assert not generated["root_cause"].edited

    store.set_postmortem_section(
        incident.id, "root-cause", "A key committed to GitHub.\n\n- found by a scanner", "bob"
    )
    edited = {s.key: s for s in document(store, incident.id).sections}["root_cause"]
    assert edited.edited and edited.blocks == (
        Paragraph("A key committed to GitHub."),
        Bullets(("found by a scanner",)),
    )
    assert store.timeline(incident.id)[-1].kind == "postmortem"
    assert store.timeline(incident.id)[-1].data == {
        "section": "root_cause",
        "text": "A key committed to GitHub.\n\n- found by a scanner",
    }

    store.set_postmortem_section(incident.id, "root_cause", "", "bob")
    again = {s.key: s for s in document(store, incident.id).sections}["root_cause"]
    assert not again.edited and again.blocks == generated["root_cause"].blocks
    with pytest.raises(InvalidValue, match="'epilogue' is not a postmortem section"):
        store.set_postmortem_section(incident.id, "epilogue", "x", "bob")


def test_user_text_cannot_break_the_table_or_inject_html(store):
    incident = store.open_incident("<b>bold</b> & | pipes", "alice")
    store.note(incident.id, "eve", "a | b\nnew line <img src=x onerror=alert(1)>")
    doc = document(store, incident.id)
    markdown = to_markdown(doc)
    row = next(line for line in markdown.splitlines() if "| eve |" in line)
    assert row.endswith("| a \\| b new line <img src=x onerror=alert(1)> |")
    assert row.count(" | ") == 3  # four cells: time, who, kind, what
    html = to_html(doc)
    assert "<img" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "&lt;b&gt;bold&lt;/b&gt; &amp; | pipes" in html


def test_text_blocks():
    assert blocks_of_text("one\ntwo\n\n* a\n- b\n\n\n") == (Paragraph("one\ntwo"), Bullets(("a", "b")))
    assert blocks_of_text("  \n") == ()
