"""The console's audit page: filtered by event and actor on the server (the page and the API),
with details shown as readable key/values rather than raw JSON; console tables carry a column
label on every cell, so they can stack on a 390 px screen."""

from __future__ import annotations

import re
from typing import Any

from faceledger.core.law import load_policies
from faceledger.services.oversight.audit import event_facets, find_events


def _events(corpus: Any) -> None:
    from faceledger.store.audit import AuditRecord, append

    with corpus.begin() as conn:
        append(conn, AuditRecord(name="template.read", actor="web:ada", object_type="face", object_id="7",
                                 payload={"face_id": 7, "purpose": "research", "laws": {"us-il-bipa": "likely"}}))  # fmt: skip
        append(conn, AuditRecord(name="template.read", actor="cli", object_type="face", object_id="8",
                                 payload={"face_id": 8}))  # fmt: skip
        append(conn, AuditRecord(name="claim.add", actor="web:ada", object_type="claim", object_id="1",
                                 payload={"claim_id": 1, "by": "subject", "evidence_verified": False}))  # fmt: skip


def test_find_events_filters_by_name_and_actor_in_the_database(corpus: Any) -> None:
    _events(corpus)
    reads = find_events(corpus, name="template.read")
    assert [e["object_id"] for e in reads] == ["8", "7"]  # newest first
    assert [e["name"] for e in find_events(corpus, actor="web:ada")] == [
        "claim.add",
        "template.read",
    ]
    both = find_events(corpus, name="template.read", actor="web:ada")
    assert [e["object_id"] for e in both] == ["7"]
    assert find_events(corpus, name="template.rea") == []  # exact names only, no prefix search
    facets = event_facets(corpus)
    assert {"template.read", "claim.add"} <= set(facets["names"]) and {"cli", "web:ada"} <= set(
        facets["actors"]
    )


def test_the_audit_page_filters_on_the_server_and_shows_details_as_key_values(
    client: Any, corpus: Any, admin_token: str, web: Any
) -> None:  # fmt: skip
    _events(corpus)
    web.console_login(client, "ada", admin_token)
    page = client.get("/console/audit", params={"event": "template.read", "actor": "web:ada"}).text
    rows = re.findall(r'<tr data-event="\d+">.*?</tr>', page, flags=re.S)
    assert len(rows) == 1 and "template.read" in rows[0]
    assert "<dt>face id</dt><dd>7</dd>" in rows[0]  # a key/value list, not a JSON blob
    assert "<dt>us-il-bipa</dt><dd>likely</dd>" in rows[0]  # nested values nest
    assert '{"face_id"' not in page
    assert 'id="filter-summary"' in page and '<option value="template.read" selected>' in page
    everything = client.get("/console/audit").text
    assert len(re.findall(r'<tr data-event="\d+">', everything)) >= 3
    api = client.get(
        "/api/v1/console/audit", params={"event": "claim.add"}, headers=web.bearer(admin_token)
    )
    assert [e["name"] for e in api.json()] == ["claim.add"]
    none = client.get("/console/audit", params={"actor": "nobody"}).text
    assert 'id="no-events"' in none


def test_every_console_table_cell_names_its_column(
    client: Any, corpus: Any, admin_token: str, web: Any
) -> None:
    """On a narrow screen (CSS ``table.stack``) each cell shows its column name from data-label."""
    from faceledger.config import load_settings
    from faceledger.services.lifecycle.requests import new_request
    from faceledger.services.people.consent import add_consent

    _events(corpus)
    new_request(corpus, load_settings(), kind="optout", key_type="photo", value="ex-0003")
    add_consent(corpus, owner_id="70000003@N01", given_by="photo-owner", form="written",
                purposes=["research"], informed=True, policies=load_policies())  # fmt: skip
    web.console_login(client, "ada", admin_token)
    for path in ("/console/audit", "/console", "/console/consents"):
        page = client.get(path).text
        cells = re.findall(r"<td(?![^>]*data-label)[^>]*>", page)
        assert "<td" in page and 'class="stack"' in page and not cells, (path, cells[:3])
