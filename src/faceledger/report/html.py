"""The report as one self-contained HTML page: inline CSS, inline SVG charts, no script, no
external URL of any kind (a Content-Security-Policy forbids fetching anything).

Example::

    page = render_html(document, render_charts(document), changes=None)
    Path("report.html").write_text(page)

It presents the numbers of :mod:`faceledger.services.oversight.report_numbers` and computes none. The first
screen answers "how bad is it": the key figures, then what changed since the last report
(with ``--compare``), then the sections in the order of the data's life: collection,
jurisdictions, decisions, exposure, consent, requests, retention, diversity, audit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from faceledger.report.css import CSS
from faceledger.report.evaluation import evaluation_section
from faceledger.report.figure import Chart

SECTIONS = (
    ("collection", "Collection"), ("jurisdictions", "Jurisdictions"), ("decisions", "Decisions"),
    ("exposure", "Exposure"), ("consent", "Consent"), ("requests", "Requests"),
    ("retention", "Retention and releases"), ("diversity", "Diversity"),
    ("evaluation", "How well the models see these faces"), ("audit", "Audit log"),
)  # fmt: skip


def _n(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "–" if value is None else ("yes" if value else "no")
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() or abs(value) >= 100 else f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else escape(str(value))


def _table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Iterable[int] = ()
) -> str:
    nums = set(numeric)
    head = "".join(f'<th{" class=n" if i in nums else ""} scope="col">{escape(h)}</th>'
                   for i, h in enumerate(headers))  # fmt: skip
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=n' if i in nums else ''}>{_n(v)}</td>" for i, v in enumerate(row))
        + "</tr>"
        for row in rows
    )
    if not body:
        return '<p class="empty">nothing recorded</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _pairs(items: dict[str, Any], key: str, value: str) -> str:
    return _table([key, value], items.items(), numeric=[1])


def _figure(chart: Chart | None, empty: str) -> str:
    if chart is None:
        return f'<p class="empty">{escape(empty)}</p>'
    return (f'<figure data-chart="{escape(chart.key)}">{chart.svg}'
            f"<figcaption>{escape(chart.caption)}</figcaption></figure>")  # fmt: skip


def _notes(notes: Iterable[str]) -> str:
    items = "".join(f"<li>{escape(n)}</li>" for n in notes)
    return f'<ul class="note">{items}</ul>' if items else ""


def _card(value: Any, label: str, tone: str = "") -> str:
    return (f'<div class="card {tone}"><span class="value">{_n(value)}</span>'
            f'<span class="label">{escape(label)}</span></div>')  # fmt: skip


def _cards(doc: dict[str, Any]) -> str:
    h = doc["headline"]
    chain = doc["audit"]["chain"]
    return '<section class="cards" aria-label="Key figures">' + "".join([
        _card(h["photos"], f"photos ({h['photos_scanned']:,} scanned, {h['photos_metadata_only']:,} metadata only)"),
        _card(h["photos_reserved"], f"photos reserved by their rights holder (TDM opt-out; "
              f"{h['photos_fetched']:,} fetched, {h['photos_fetch_failed']:,} failed)",
              "warn" if h["photos_reserved"] else ""),
        _card(h["faces"], f"faces detected ({h['faces_geotagged']:,} geotagged)"),
        _card(h["faces_blocked"], f"of {h['faces_assessed']:,} assessed faces blocked", "bad" if h["faces_blocked"] else "good"),
        _card(h["faces_allowed"], "faces allowed a template", "good"),
        _card(h["bipa_faces_at_risk"], _graded("faces at risk under BIPA", h["bipa_faces_at_risk_by_grade"]),
              _grade_tone(h["bipa_faces_at_risk_by_grade"])),
        _card(h["faces_with_templates"], f"faces with templates ({h['subjects']:,} subjects)"),
        _card(h["consents_active"], f"active consents ({h['faces_covered_by_consent']:,} faces covered)"),
        _card(h["faces_not_measured"], f"of {h['faces']:,} faces not measured (DiF)", "warn"),
        _card(h["requests_open"], f"open requests ({h['requests_overdue']:,} overdue)",
              "bad" if h["requests_overdue"] else ""),
        _card("intact" if chain["ok"] else f"BROKEN at {chain['first_bad_event']}",
              f"audit chain ({chain['events']:,} events)", "good" if chain["ok"] else "bad"),
        _card(h["photos_in_sensitive_datasets"], "photos also in a published dataset with ethnic-group "
              "or other sensitive labels", "bad" if h["photos_in_sensitive_datasets"] else ""),
    ]) + "</section>"  # fmt: skip


#: Card tone of the strongest ``applies`` grade among a law's faces: a law that certainly
#: applies is red, a likely one orange, one that only may apply is marked uncertain.
GRADE_TONE = (("yes", "bad"), ("likely", "warn"), ("uncertain", "uncertain"))


def _graded(label: str, grades: dict[str, int]) -> str:
    return f"{label} ({grades['yes']:,} yes, {grades['likely']:,} likely, {grades['uncertain']:,} uncertain)"


def _grade_tone(grades: dict[str, int]) -> str:
    return next((tone for grade, tone in GRADE_TONE if grades.get(grade)), "good")


def _warnings(items: Iterable[str]) -> str:
    return "".join(f'<p class="warning" role="note"><b>Warning:</b> {escape(w)}</p>' for w in items)


def _changes(changes: dict[str, Any] | None) -> str:
    if changes is None:
        return ""
    lines = "".join(f'<li class="{"up" if c.get("alarm") else ""}">{escape(c["text"])}</li>'
                    for c in changes["changes"])  # fmt: skip
    body = (
        f'<ul class="changes">{lines}</ul>' if lines else '<p class="empty">no figure changed</p>'
    )
    return (f'<section id="changes"><h2>What changed since {escape(str(changes["old"]["generated_at"]))}</h2>'
            f"{body}</section>")  # fmt: skip


def _collection(doc: dict[str, Any], charts: dict[str, Chart | None]) -> str:
    c = doc["collection"]
    sources = [(s["uri"], s["format"], s["photos"], s["scanned"], s["metadata_only"], s.get("reserved", 0),
                s["errors"], s["faces"], s["rejected_rows"]) for s in c["sources"]]  # fmt: skip
    return "".join([
        _table(["source", "format", "photos", "scanned", "metadata only", "reserved", "scan errors", "faces",
                "rejected rows"], sources, numeric=range(2, 9)),
        f"<p>{_n(c['faces_per_scanned_photo'])} faces per scanned photo; "
        f"{c['geotagged']['photos']:,} photos and {c['geotagged']['faces']:,} faces are geotagged.</p>",
        _figure(charts["collection.faces_per_photo"], "no photo has been scanned"),
        _figure(charts["collection.licences"], "no photo recorded"),
        "<h3>Scan errors by reason</h3>",
        _pairs(c["scan_errors_by_reason"], "reason", "photos"),
        _acquisition(c.get("acquisition")),
        _datasets(doc.get("datasets")),
    ])  # fmt: skip


def _acquisition(a: dict[str, Any] | None) -> str:
    """What ``faceledger fetch`` downloaded, what rights holders reserved (by signal, in plain
    words) and what failed (by reason)."""
    if not a:
        return ""
    signals = [(code, a["signals"].get(code, ""), n) for code, n in a["reserved_by_signal"].items()]
    return "".join([
        '<h3 id="acquisition">Downloads and opt-outs</h3>',
        f"<p>{a['fetched']:,} photos fetched, <span class=status-bad>{a['reserved']:,} reserved</span> "
        f"by their rights holder (kept as metadata only, never scanned), {a['failed']:,} failed; "
        f"{a['not_fetched']:,} with a download URL not fetched yet.</p>",
        "<h4>Reserved, by signal</h4>",
        _table(["signal", "what it says", "photos"], signals, numeric=[2]),
        "<h4>Failed, by reason</h4>",
        _pairs(a["failed_by_reason"], "reason", "photos"),
        _notes(a.get("notes", [])),
    ])  # fmt: skip


def _datasets(d: dict[str, Any] | None) -> str:
    """Which imported published datasets (``faceledger datasets import``) hold ledger photos."""
    if not d:
        return ""
    if not d["imported"]:
        return ('<h3>Also in published datasets</h3><p class="empty">no published dataset\'s '
                "membership list imported (faceledger datasets import)</p>")  # fmt: skip
    rows = [(name, v["photos"], ", ".join(v["labels"]) or "none", "yes" if v["sensitive"] else "")
            for name, v in d["by_dataset"].items()]  # fmt: skip
    return "".join([
        "<h3>Also in published datasets</h3>",
        f"<p>{d['photos_in_datasets']:,} ledger photos are listed by an imported dataset; "
        f"<span class=status-bad>{d['photos_in_sensitive_datasets']:,}</span> by one that attached "
        "sensitive labels such as ethnic group.</p>",
        _table(["dataset", "ledger photos", "labels attached (kinds)", "sensitive"], rows, numeric=[1]),
        _notes(d["notes"]),
    ])  # fmt: skip


def _jurisdictions(doc: dict[str, Any], charts: dict[str, Chart | None]) -> str:
    j = doc["jurisdictions"]
    rows = [(law, v["title"], *v["faces"].values(), v["in_scope_faces"], v["subjects"], v["owners"])
            for law, v in j["laws"].items()]  # fmt: skip
    return "".join([
        f"<p>{j['faces_decided']:,} faces have a decision for <b>{escape(doc['purpose'])}</b> "
        f"({escape(doc['action'])}).</p>",
        _figure(charts["jurisdictions.grades"], "no face has been assessed"),
        _table(["law", "title", "yes", "likely", "uncertain", "no", "in scope", "subjects", "owners"],
               rows, numeric=range(2, 9)),
        _figure(charts["jurisdictions.map"], "no assessed face is geotagged"),
        f"<p>{j['map']['faces_without_geotag']:,} assessed faces have no geotag and are not on the map.</p>",
        "<h3>Candidate jurisdictions</h3>",
        _pairs(j["candidate_jurisdictions"], "jurisdiction", "faces"),
        _notes(j["notes"]),
    ])  # fmt: skip


def _decisions(doc: dict[str, Any], charts: dict[str, Chart | None]) -> str:
    d = doc["decisions"]
    purposes = [
        (v["purpose"], v["action"], v["allow"], v["block"]) for v in d["by_purpose"].values()
    ]
    reasons = [(r["law"], r["section"], r["reason"], r["faces"]) for r in d["top_reasons"]]
    return "".join([
        f"<p><span class=status-good>{d['allowed']:,} allowed</span>, "
        f"<span class=status-bad>{d['blocked']:,} blocked</span>.</p>",
        _figure(charts["decisions.blocked_by"], "no face is blocked"),
        "<h3>Top reasons</h3>",
        _table(["law", "section", "reason", "faces"], reasons, numeric=[3]),
        "<h3>Every purpose and action decided</h3>",
        _table(["purpose", "action", "allowed", "blocked"], purposes, numeric=[2, 3]),
        _notes(d["notes"]),
    ])  # fmt: skip


def _money(item: dict[str, Any] | None) -> str:
    if item is None:
        return "–"
    return f"{item['currency']} {item['low']:,.0f} – {item['high']:,.0f}"


def _exposure(doc: dict[str, Any]) -> str:
    e = doc["exposure"]
    if not e["recorded"]:
        return f'<p class="empty">{escape(e["note"])}</p>'
    rows = [(row["law"], row["faces"], row["subjects"],
             f"{row['exposure']['units']:,} × {row['exposure']['unit']}" if row["exposure"] else row["note"],
             _money(row["exposure"]), row["exposure"]["citation"] if row["exposure"] else "")
            for row in e["laws"]]  # fmt: skip
    regimes = [(row["law"], r["from"] or "", r["until"] or "", f"{r['units']:,} × {r['unit']}", _money(r), r["citation"])
               for row in e["laws"] for r in row.get("regimes", [])]  # fmt: skip
    parts = [
        f"<p>Statutory ranges as of {escape(e['date'])} for the {e['faces_blocked']:,} blocked faces of "
        f"{e['faces_assessed']:,} assessed. Not a prediction of damages.</p>",
        _table(
            ["law", "faces at risk", "people at risk", "units", "range", "citation"],
            rows,
            numeric=[1, 2],
        ),
    ]
    if regimes:
        parts += [
            "<h3>Per scan or per person: the same faces under each penalty regime</h3>",
            _table(["law", "from", "until", "units", "range", "citation"], regimes),
        ]
    per_law = [f"{row['law']}: " + "; ".join(row["exposure"]["assumptions"])
               for row in e["laws"] if row["exposure"]]  # fmt: skip
    parts += ["<h3>Assumptions</h3>", _notes([*e["assumptions"], *per_law])]
    return "".join(parts)


def _consent(doc: dict[str, Any], charts: dict[str, Chart | None]) -> str:
    c = doc["consent"]
    return "".join([
        f"<p>{c['total']:,} consent records; {c['active_for_purpose']:,} active for "
        f"<b>{escape(doc['purpose'])}</b>, covering {c['faces_covered']:,} of {c['faces']:,} faces. "
        f"{c['expiring_within_90_days']:,} active consents expire within 90 days; "
        f"{c['active_without_expiry']:,} have no end date.</p>",
        _table(["state", "consents"], c["by_state"].items(), numeric=[1]),
        _table(["form", "consents"], c["by_form"].items(), numeric=[1]),
        _figure(charts["consent.expiry"], "no active consent has an expiry date"),
        _notes(c["notes"]),
    ])  # fmt: skip


def _requests(doc: dict[str, Any]) -> str:
    r = doc["requests"]
    if not r["recorded"]:
        return f'<p class="empty">{escape(r["note"])}</p>'
    items = [(i["id"], i["kind"] or "", i["status"], i["due"] or "", "OVERDUE" if i["overdue"] else "")
             for i in r["open_items"]]  # fmt: skip
    return "".join([
        f"<p>{r['total']:,} requests, {r['open']:,} open, "
        f"<span class=status-bad>{r['overdue']:,} overdue</span>.</p>",
        _table(["status", "requests"], r["by_status"].items(), numeric=[1]),
        "<h3>Open requests, overdue first</h3>",
        _table(["id", "kind", "status", "due", ""], items),
    ])  # fmt: skip


def _retention(doc: dict[str, Any], charts: dict[str, Chart | None]) -> str:
    r, rel = doc["retention"], doc["releases"]
    subjects = r["subjects"]
    releases = (f'<p class="empty">{escape(rel["note"])}</p>' if not rel["recorded"] else
                f"<p>{rel['releases']:,} releases, {rel['versions']:,} versions, "
                f"{rel['consumers']:,} consumers registered.</p>")  # fmt: skip
    return "".join([
        f"<p>{r['templates_overdue']:,} stored templates are past their destroy-by date; "
        f"{r['templates_without_deadline']:,} have no deadline; "
        f"<span class=status-bad>{r['templates_now_blocked']:,}</span> belong to faces whose decision "
        f"now blocks a template. {subjects['erased']:,} of "
        f"{subjects['total']:,} subjects have been erased (data key shredded).</p>",
        _held(r),
        _warnings(r.get("warnings", [])),
        _figure(charts["retention.due"], "no assessed face has a destroy-by date"),
        "<h3>Templates due, by month</h3>",
        _pairs(r["templates_due_by_month"], "destroy by", "faces with templates"),
        "<h3>Erasures done, by month</h3>",
        _pairs(subjects["erased_by_month"], "month", "subjects erased"),
        "<h3>Releases</h3>", releases,
        _notes(r["notes"]),
    ])  # fmt: skip


def _held(r: dict[str, Any]) -> str:
    if "held_faces" not in r:
        return ""
    source = r["deadline_source"]
    limit = r["retention_limit_days"]
    return (f"<p>{r['held_faces']:,} faces hold biometric data: {source['law']:,} with a legal deadline, "
            f"{source['organisation limit']:,} under the organisation's limit "
            f"({'not set' if limit is None else f'{limit:,} days'}), {source['none']:,} with none.</p>")  # fmt: skip


def _diversity(doc: dict[str, Any], charts: dict[str, Chart | None]) -> str:
    d = doc["diversity"]
    return "".join([
        _warnings([d["small_sample"]] if d.get("small_sample") else []),
        f"<p>{d['measured']:,} of {d['faces']:,} detected faces were lawfully measured; the "
        f"distributions below describe those faces only. {d['photos_not_scanned']:,} photos were "
        "not scanned, so their faces are not counted at all.</p>",
        _figure(charts["diversity.not_measured"], "no face has been detected"),
        "<h3>Blocked faces by law section</h3>",
        _pairs(d["blocked_by"], "law section", "faces"),
        _figure(charts["diversity.skin_band"], "no measured face has a skin-tone band"),
        _figure(charts["diversity.yaw"], "no measured face has a yaw angle"),
        _figure(charts["diversity.roll"], "no measured face has a roll angle"),
        _figure(charts["diversity.iod"], "no measured face has an inter-ocular distance"),
        "<h3>Coding schemes computed</h3>",
        _pairs(d["schemes"], "DiF scheme", "faces"),
        _table(["DiF scheme never computed", "why"], d["refused_schemes"].items()),
        _pairs(d["missing"], "measure absent from a measured face", "faces"),
        _notes(d["notes"]),
    ])  # fmt: skip


def _audit(doc: dict[str, Any], charts: dict[str, Chart | None]) -> str:
    a = doc["audit"]
    chain = a["chain"]
    status = ('<span class="status-good">intact</span>' if chain["ok"] else
              f'<span class="status-bad">BROKEN at event {chain["first_bad_event"]}</span>')  # fmt: skip
    return "".join([
        f"<p>Hash chain: {status}; {chain['events']:,} events from {escape(str(a['first_at']))} "
        f"to {escape(str(a['last_at']))}.</p>",
        _figure(charts["audit.events"], "the audit log is empty"),
        _notes(a["notes"]),
    ])  # fmt: skip


def _evaluation(doc: dict[str, Any]) -> str:
    return evaluation_section(doc.get("evaluation") or {})


def render_html(doc: dict[str, Any], charts: dict[str, Chart | None], *,
                changes: dict[str, Any] | None = None) -> str:  # fmt: skip
    """The whole page (a string); ``changes`` is a :func:`~faceledger.report.compare.compare_reports`
    result to show first."""
    processor = doc.get("processor") or {}
    where = processor.get("location") or "unknown"
    bodies = {
        "collection": _collection(doc, charts), "jurisdictions": _jurisdictions(doc, charts),
        "decisions": _decisions(doc, charts), "exposure": _exposure(doc),
        "consent": _consent(doc, charts), "requests": _requests(doc),
        "retention": _retention(doc, charts), "diversity": _diversity(doc, charts),
        "evaluation": _evaluation(doc), "audit": _audit(doc, charts),
    }  # fmt: skip
    nav = "".join(f'<li><a href="#{key}">{escape(title)}</a></li>' for key, title in SECTIONS)
    sections = "".join(f'<section id="{key}"><h2>{escape(title)}</h2>{bodies[key]}</section>'
                       for key, title in SECTIONS)  # fmt: skip
    title = f"faceledger audit report: {doc['purpose']}"
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{escape(title)}</h1>"
        f'<p class="meta">Ledger {escape(doc["ledger"])} · action {escape(doc["action"])} · processing in '
        f"{escape(str(where))} · as of {escape(doc['as_of'])} · generated {escape(doc['generated_at'])}</p>"
        "</header>"
        f"{_cards(doc)}"
        "<p class=note>Every figure is counted from the ledger when the report was made. Exposure is a "
        "statutory range, not a prediction of damages. The JSON file beside this page holds the same "
        "numbers.</p>"
        f"{_changes(changes)}"
        f'<nav aria-label="Sections"><ol>{nav}</ol></nav>{sections}'
        "</body></html>\n"
    )
