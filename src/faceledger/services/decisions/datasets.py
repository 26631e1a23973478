"""Published face datasets: import their membership lists, answer "which datasets hold me?".

Example::

    report = import_dataset(ledger, "DiveFace", [Path("Group1_Female_subset.txt")],
                            citation="Morales et al., IEEE TPAMI 2020", licence="non-commercial research")
    report.added, report.rejects          # ['Group1_Female_subset.txt:17: not a ... line']
    datasets_holding(ledger, owner_id="100016927@N02")
    # [DatasetHolding(name='DiveFace', photos=12, faces=14, labels=['ethnic-group', 'gender'], ...)]
    datasets_holding(ledger, photo_ids=["9469948405"])   # the portal's photo / URL search

Accepted files (a file that cannot be read, or a table without an owner or photo column, is
refused; one bad line is reported as ``file:line: reason`` and skipped):

- **MegaFace / DiveFace identity lists**: one face crop a line,
  ``<FlickrNSID>_identity_<k>/<FlickrPhotoId>_<faceIndex>.jpg``. A file named like DiveFace's
  ``Group<N>_<Male|Female>[_subset].txt`` carries DiveFace's two annotations on every line,
  ``gender`` and ``ethnic-group`` (Group1 East Asian, Group2 Sub-Saharan and South Indian,
  Group3 Caucasian); any other list carries none unless ``labels`` says so.
- **CSV / TSV** with a header: the Flickr owner id (``owner_id``, ``owner``, ``nsid``,
  ``flickr_user_nsid``), the photo id (``photo_id``, ``flickr_photo_id``), optionally the
  face index (``face_index``, ``face_index_in_photo``) and labels: a ``labels`` column of
  kinds (``gender;ethnic-group``; ``kind=value`` items keep only the kind) and/or columns
  named after a known annotation (``gender``, ``ethnic_group``, ``race``, ``age``, DiveFace's
  ``diveface_group`` / ``diveface_gender``...): a non-empty cell means the dataset attached
  that kind of label. Other columns are ignored and listed. ``diveface_sample.csv`` is one.

Only label *kinds* are kept, never their values: a ledger that copied DiveFace's ethnic
group of a person would itself hold an inference of racial or ethnic origin. Kinds in
:data:`SENSITIVE_LABELS` make the dataset one that holds special-category (GDPR Art. 9(1))
or sensitive (CPRA, Cal. Civ. Code 1798.140(ae)) data about the people it lists.

Rows go in bulk (executemany, ``INSERT ... ON CONFLICT DO NOTHING`` on the dataset and the
member's owner/photo/face key), so importing a file twice adds nothing. Each import appends
one ``datasets.import`` audit event (ids, names, hashes and counts only) in its transaction.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, or_, select

from faceledger.errors import DatasetError
from faceledger.store import Ledger
from faceledger.store.audit import AuditRecord, append
from faceledger.store.ledger import utcnow
from faceledger.store.tables import DATASET_MEMBERS, DATASETS, PHOTOS, bound_in_chunks, chunks

#: Annotation kinds that are special-category (GDPR Art. 9(1)) or sensitive (CPRA) data.
SENSITIVE_LABELS = frozenset({
    "ethnic-group", "race", "religion", "sexual-orientation", "health", "disability",
    "political-opinion", "trade-union", "genetic",
})  # fmt: skip
#: Header names (normalised) that are a known annotation, and the kind they stand for.
LABEL_COLUMNS = {
    "gender": "gender", "sex": "gender", "diveface-gender": "gender",
    "ethnic-group": "ethnic-group", "ethnicity": "ethnic-group", "diveface-group": "ethnic-group",
    "diveface-group-description": "ethnic-group", "race": "race", "age": "age",
    "age-group": "age", "skin-tone": "skin-tone", "religion": "religion",
}  # fmt: skip
LABEL_ALIASES = {"ethnicity": "ethnic-group", "ethnic": "ethnic-group", "sex": "gender"}
OWNER_COLUMNS = ("owner-id", "owner", "nsid", "flickr-user-nsid", "user-nsid", "flickr-owner-id")
PHOTO_COLUMNS = ("photo-id", "photo", "flickr-photo-id")
FACE_COLUMNS = ("face-index", "face", "face-index-in-photo")
DIVEFACE_FILE = re.compile(r"^Group\d+_(Male|Female)(_subset)?\.txt$", re.I)
DIVEFACE_LABELS = ("ethnic-group", "gender")
_IDENTITY_LINE = re.compile(
    r"^(?P<owner>\d{1,20}@N\d{1,4})_identity_\d{1,9}/(?P<photo>\d{1,20})_(?P<face>\d{1,4})"
    r"\.(?:jpe?g|png)$", re.I,
)  # fmt: skip
_NSID = re.compile(r"^\d{1,20}@N\d{1,4}$")
_PHOTO = re.compile(r"^\d{1,20}$")
_KIND = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._+()-]{0,127}$")
MAX_REJECTS_SHOWN = 20
MAX_PHOTO_IDS = 1_000


@dataclass
class DatasetImport:
    """What :func:`import_dataset` did."""

    dataset: str
    dataset_id: int
    files: list[dict[str, Any]] = field(default_factory=list)
    seen: int = 0
    added: int = 0
    rejected: int = 0
    rejects: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DatasetHolding:
    """One dataset that lists some of the photos asked about: counts and annotation kinds."""

    name: str
    photos: int
    faces: int
    labels: list[str]
    sensitive: bool
    citation: str | None
    licence: str | None
    optout_url: str | None

    def to_dict(self) -> dict[str, Any]:
        """The four public keys ``datasets lookup --json`` prints."""
        return {
            "name": self.name,
            "photos": self.photos,
            "faces": self.faces,
            "labels": self.labels,
        }


@dataclass(frozen=True)
class _Member:
    owner_id: str | None
    photo_id: str | None
    face_index: int | None
    labels: frozenset[str]

    @property
    def key(self) -> str:
        face = "" if self.face_index is None else str(self.face_index)
        return f"{self.owner_id or ''}/{self.photo_id or ''}/{face}"


def _norm(header: str) -> str:
    return re.sub(r"[\s_]+", "-", header.strip().lower())


def label_kind(text: str) -> str | None:
    """The normalised annotation kind of ``text`` (``Ethnic group`` -> ``ethnic-group``)."""
    kind = _norm(text.split("=", 1)[0])
    kind = LABEL_ALIASES.get(kind, kind)
    return kind if _KIND.match(kind) else None


def label_kinds(texts: Iterable[str]) -> list[str]:
    """Sorted normalised kinds; :class:`DatasetError` for one that is not a kind."""
    kinds = set()
    for text in texts:
        if not text.strip():
            continue
        kind = label_kind(text)
        if kind is None:
            raise DatasetError(
                f"{text!r} is not a label kind (letters, digits and '-', e.g. ethnic-group)"
            )
        kinds.add(kind)
    return sorted(kinds)


def is_sensitive(labels: Iterable[str]) -> bool:
    return any(kind in SENSITIVE_LABELS for kind in labels)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read the membership list: {exc}") from None


Parsed = tuple[int, _Member | None, str]  # line, member or None, reason


def _identity_lines(path: Path, text: str, extra: frozenset[str]) -> Iterator[Parsed]:
    labels = extra | (frozenset(DIVEFACE_LABELS) if DIVEFACE_FILE.match(path.name) else frozenset())
    for number, line in enumerate(text.splitlines(), 1):
        body = line.strip()
        if not body or body.startswith("#"):
            continue
        match = _IDENTITY_LINE.match(body)
        if match is None:
            yield number, None, "not a MegaFace identity line (NSID_identity_K/PHOTOID_FACE.jpg)"
            continue
        yield number, _Member(match["owner"], match["photo"], int(match["face"]), labels), ""


def _column(names: dict[str, str], choices: Sequence[str]) -> str | None:
    return next((names[c] for c in choices if c in names), None)


def _table(path: Path, text: str, extra: frozenset[str], ignored: list[str]) -> Iterator[Parsed]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise DatasetError(f"{path}: empty file") from None
    names = {_norm(h): h for h in header if h.strip()}
    owner_col, photo_col = _column(names, OWNER_COLUMNS), _column(names, PHOTO_COLUMNS)
    face_col = _column(names, FACE_COLUMNS)
    if owner_col is None and photo_col is None:
        raise DatasetError(f"{path}: a membership table needs an owner_id or photo_id column "
                           f"(has {', '.join(header)})")  # fmt: skip
    label_cols = {names[n]: LABEL_COLUMNS[n] for n in names if n in LABEL_COLUMNS}
    list_col = names.get("labels")
    used = {owner_col, photo_col, face_col, list_col, *label_cols}
    ignored.extend(sorted({h for h in header if h.strip() and h not in used} - set(ignored)))
    index = {h: i for i, h in enumerate(header)}
    for row in reader:
        number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield number, None, f"{len(row)} fields where the header has {len(header)}"
            continue

        def cell(name: str | None, row: list[str] = row) -> str:
            return row[index[name]].strip() if name is not None else ""

        owner, photo, face = cell(owner_col) or None, cell(photo_col) or None, cell(face_col)
        reason = _check(owner, photo, face)
        if reason:
            yield number, None, reason
            continue
        kinds = set(extra) | {kind for col, kind in label_cols.items() if cell(col)}
        for item in re.split(r"[;|,]", cell(list_col)):
            if item.strip():
                kind = label_kind(item)
                if kind is None:
                    reason = f"label {item.strip()[:40]!r} is not a label kind"
                    break
                kinds.add(kind)
        if reason:
            yield number, None, reason
            continue
        yield number, _Member(owner, photo, int(face) if face else None, frozenset(kinds)), ""


def _check(owner: str | None, photo: str | None, face: str) -> str:
    if owner is None and photo is None:
        return "neither an owner id nor a photo id"
    if owner is not None and not _NSID.match(owner):
        return f"owner id {owner[:40]!r} is not a Flickr NSID (like 12345678@N01)"
    if photo is not None and not _PHOTO.match(photo):
        return f"photo id {photo[:40]!r} is not a Flickr photo id (digits)"
    if face and not (face.isdigit() and int(face) < 10_000):
        return f"face index {face[:20]!r} is not a whole number from 0"
    return ""


def parse_members(
    path: Path, *, labels: Iterable[str] = (), ignored: list[str] | None = None
) -> Iterator[Parsed]:
    """``(line, member or None, reason)`` for every entry of ``path`` (see the module docs)."""
    text = _read(path)
    extra = frozenset(label_kinds(labels))
    if path.suffix.lower() in (".csv", ".tsv"):
        yield from _table(path, text, extra, ignored if ignored is not None else [])
    else:
        yield from _identity_lines(path, text, extra)


def _check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.match(name):
        raise DatasetError(
            "a dataset name is 1-128 letters, digits, spaces or ._+()- (e.g. DiveFace)"
        )
    return name


def _insert_ignoring_duplicates(conn: Connection) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    return insert(DATASET_MEMBERS).on_conflict_do_nothing(
        index_elements=["dataset_id", "member_key"]
    )


def _members_of(conn: Connection, dataset_id: int) -> int:
    return int(
        conn.execute(
            select(func.count()).where(DATASET_MEMBERS.c.dataset_id == dataset_id)
        ).scalar_one()
    )


def import_dataset(
    ledger: Ledger,
    name: str,
    paths: Sequence[Path],
    *,
    citation: str | None = None,
    licence: str | None = None,
    optout_url: str | None = None,
    labels: Iterable[str] = (),
    actor: str = "cli",
) -> DatasetImport:
    """Import the membership lists ``paths`` of dataset ``name`` (created, or updated: given
    citation, licence and opt-out URL replace the recorded ones). See the module docs."""
    name = _check_name(name)
    if not paths:
        raise DatasetError("give at least one membership file")
    if optout_url is not None and not optout_url.startswith(("https://", "http://", "mailto:")):
        raise DatasetError("--optout-url must be an http(s):// or mailto: address")
    extra = label_kinds(labels)
    members: dict[str, _Member] = {}
    files: list[dict[str, Any]] = []
    ignored: list[str] = []
    seen = rejected = 0
    rejects: list[str] = []
    for path in paths:
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
        entry: dict[str, Any] = {"name": path.name, "sha256": digest, "seen": 0, "rejected": 0}
        for number, member, reason in parse_members(path, labels=extra, ignored=ignored):
            entry["seen"] += 1
            if member is None:
                entry["rejected"] += 1
                if len(rejects) < MAX_REJECTS_SHOWN:
                    rejects.append(f"{path.name}:{number}: {reason}")
                continue
            previous = members.get(member.key)
            members[member.key] = (
                member
                if previous is None
                else _Member(
                    member.owner_id,
                    member.photo_id,
                    member.face_index,
                    previous.labels | member.labels,
                )
            )
        seen += entry["seen"]
        rejected += entry["rejected"]
        files.append(entry)
    kinds = sorted({kind for m in members.values() for kind in m.labels})
    now = utcnow()
    with ledger.begin() as conn:
        row = conn.execute(select(DATASETS).where(DATASETS.c.name == name)).first()
        given = {k: v for k, v in (("citation", citation), ("licence", licence), ("optout_url", optout_url))
                 if v is not None}  # fmt: skip
        if row is None:
            dataset_id = int(conn.execute(
                DATASETS.insert().values(name=name, labels=kinds, files=[], created_at=now, updated_at=now,
                                         **given).returning(DATASETS.c.id)
            ).scalar_one())  # fmt: skip
            old_labels: list[str] = []
            old_files: list[dict[str, Any]] = []
        else:
            dataset_id, old_labels, old_files = (
                int(row.id),
                list(row.labels or []),
                list(row.files or []),
            )
        before = _members_of(conn, dataset_id)
        statement = _insert_ignoring_duplicates(conn)
        batch = [{"dataset_id": dataset_id, "member_key": m.key, "owner_id": m.owner_id,
                  "photo_id": m.photo_id, "face_index": m.face_index,
                  "labels": ",".join(sorted(m.labels)) or None} for m in members.values()]  # fmt: skip
        for chunk in chunks(batch):
            conn.execute(statement, chunk)  # executemany
        added = _members_of(conn, dataset_id) - before
        imported = {f["sha256"] for f in old_files}
        new_files = old_files + [{**f, "imported_at": now.isoformat(timespec="seconds")}
                                 for f in files if f["sha256"] not in imported]  # fmt: skip
        all_labels = sorted(set(old_labels) | set(kinds))
        conn.execute(DATASETS.update().where(DATASETS.c.id == dataset_id).values(
            labels=all_labels, files=new_files, updated_at=now, **given))  # fmt: skip
        append(conn, AuditRecord(
            name="datasets.import", actor=actor, object_type="dataset", object_id=str(dataset_id),
            payload={"dataset": name, "files": [{"name": f["name"], "sha256": f["sha256"]} for f in files],
                     "seen": seen, "added": added, "rejected": rejected, "labels": all_labels},
        ))  # fmt: skip
    return DatasetImport(dataset=name, dataset_id=dataset_id, files=files, seen=seen, added=added,
                         rejected=rejected, rejects=rejects, labels=all_labels,
                         ignored_columns=ignored)  # fmt: skip


def _exact(value: str | None, what: str, pattern: re.Pattern[str]) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not pattern.match(text):
        raise DatasetError(f"give an exact {what}")
    return text


_DATASETS_BY_ID = select(DATASETS).where(DATASETS.c.id.in_(bindparam("ids", expanding=True)))


@functools.cache
def _holding_statements(by_owner: bool, by_photos: bool) -> tuple[Any, Any]:
    """(member counts per dataset, label kinds per dataset) of the members matching the bound
    ``owner`` and / or ``photos``: built once for each of the three ways to ask."""
    where = []
    if by_owner:
        where.append(DATASET_MEMBERS.c.owner_id == bindparam("owner"))
    if by_photos:
        where.append(DATASET_MEMBERS.c.photo_id.in_(bindparam("photos", expanding=True)))
    matched = and_(*where)
    counts = (
        select(DATASET_MEMBERS.c.dataset_id, func.count(func.distinct(DATASET_MEMBERS.c.photo_id)),
               func.count(DATASET_MEMBERS.c.face_index))
        .where(matched).group_by(DATASET_MEMBERS.c.dataset_id)
    )  # fmt: skip
    labels = (
        select(DATASET_MEMBERS.c.dataset_id, DATASET_MEMBERS.c.labels).where(matched).distinct()
    )
    return counts, labels


def datasets_holding(
    ledger: Ledger | Connection, *, owner_id: str | None = None,
    photo_ids: Iterable[str] | None = None,
) -> list[DatasetHolding]:  # fmt: skip
    """The imported datasets that list this Flickr account's photos (``owner_id``, an NSID),
    these photos (``photo_ids``: Flickr photo ids), or both (the photos of that account).

    No enumeration: one of them is required and must be exact. Photo ids that are not Flickr
    ids (digits) are skipped, since no membership list names them. Sorted by dataset name.
    """
    owner = _exact(owner_id, "Flickr NSID (like 12345678@N01)", _NSID)
    photos = (
        None
        if photo_ids is None
        else sorted({p.strip() for p in photo_ids if _PHOTO.match(p.strip())})
    )
    if owner is None and photos is None:
        raise DatasetError("give an owner id or photo ids")
    if photos is not None and len(photos) > MAX_PHOTO_IDS:
        raise DatasetError(f"at most {MAX_PHOTO_IDS} photo ids at once")
    if photos == [] and owner is None:
        return []
    counts_of, labels_of = _holding_statements(owner is not None, photos is not None)
    params = {"owner": owner, "photos": photos}
    with _with_conn(ledger) as conn:
        counts = conn.execute(counts_of, params).all()
        if not counts:
            return []
        kinds: dict[int, set[str]] = {}
        for dataset_id, labels in conn.execute(labels_of, params).all():
            kinds.setdefault(int(dataset_id), set()).update(
                k for k in (labels or "").split(",") if k
            )
        listed = conn.execute(_DATASETS_BY_ID, {"ids": [int(c[0]) for c in counts]}).all()
    rows = {int(r.id): r for r in listed}
    found = [
        DatasetHolding(
            name=rows[int(dataset_id)].name,
            photos=int(n_photos),
            faces=int(n_faces),
            labels=sorted(kinds.get(int(dataset_id), set())),
            sensitive=is_sensitive(kinds.get(int(dataset_id), set())),
            citation=rows[int(dataset_id)].citation,
            licence=rows[int(dataset_id)].licence,
            optout_url=rows[int(dataset_id)].optout_url,
        )  # fmt: skip
        for dataset_id, n_photos, n_faces in counts
    ]
    return sorted(found, key=lambda d: d.name.lower())


def list_datasets(ledger: Ledger) -> list[dict[str, Any]]:
    """Every imported dataset: metadata, annotation kinds and member counts (no member)."""
    with ledger.read() as conn:
        datasets = conn.execute(select(DATASETS).order_by(DATASETS.c.name)).all()
        counts = {int(r[0]): r[1:] for r in conn.execute(
            select(DATASET_MEMBERS.c.dataset_id, func.count(), func.count(func.distinct(DATASET_MEMBERS.c.owner_id)),
                   func.count(func.distinct(DATASET_MEMBERS.c.photo_id)), func.count(DATASET_MEMBERS.c.face_index))
            .group_by(DATASET_MEMBERS.c.dataset_id)
        ).all()}  # fmt: skip
    listed = []
    for row in datasets:
        members, owners, photos, faces = counts.get(int(row.id), (0, 0, 0, 0))
        listed.append({
            "name": row.name, "members": int(members), "owners": int(owners), "photos": int(photos),
            "faces": int(faces), "labels": list(row.labels or []), "sensitive": is_sensitive(row.labels or []),
            "citation": row.citation, "licence": row.licence, "optout_url": row.optout_url,
            "files": [{"name": f.get("name"), "sha256": f.get("sha256")} for f in row.files or []],
            "updated_at": row.updated_at.isoformat(timespec="seconds") if row.updated_at else None,
        })  # fmt: skip
    return listed


def _photo_matches() -> Any:
    """A ledger photo is the dataset's photo when the Flickr photo ids are equal and the owner
    ids, where both are known, are too."""
    return and_(
        DATASET_MEMBERS.c.photo_id == PHOTOS.c.external_id,
        or_(
            DATASET_MEMBERS.c.owner_id.is_(None),
            PHOTOS.c.owner_id.is_(None),
            DATASET_MEMBERS.c.owner_id == PHOTOS.c.owner_id,
        ),
    )


_PAIRS = (
    select(PHOTOS.c.id, DATASET_MEMBERS.c.dataset_id)
    .select_from(PHOTOS.join(DATASET_MEMBERS, _photo_matches()))
    .where(PHOTOS.c.id.in_(bindparam("ids", expanding=True)))
    .distinct()
)


def ledger_overlap(ledger: Ledger) -> dict[str, Any]:
    """How many ledger photos the imported datasets also list (the report's ``datasets``
    section): in any dataset, in one that carries sensitive labels, and per dataset."""
    with ledger.read() as conn:
        datasets = conn.execute(select(DATASETS.c.id, DATASETS.c.name, DATASETS.c.labels)
                                .order_by(DATASETS.c.name)).all()  # fmt: skip
        sensitive = [int(d.id) for d in datasets if is_sensitive(d.labels or [])]
        joined = PHOTOS.join(DATASET_MEMBERS, _photo_matches())
        per_dataset: dict[Any, Any] = dict(conn.execute(
            select(DATASET_MEMBERS.c.dataset_id, func.count(func.distinct(PHOTOS.c.id))).select_from(joined)
            .group_by(DATASET_MEMBERS.c.dataset_id)
        ).all())  # fmt: skip
        in_any = conn.execute(
            select(func.count(func.distinct(PHOTOS.c.id))).select_from(joined)
        ).scalar_one()
        in_sensitive = conn.execute(
            select(func.count(func.distinct(PHOTOS.c.id))).select_from(joined)
            .where(DATASET_MEMBERS.c.dataset_id.in_(sensitive))
        ).scalar_one() if sensitive else 0  # fmt: skip
    return {
        "imported": len(datasets),
        "photos_in_datasets": int(in_any),
        "photos_in_sensitive_datasets": int(in_sensitive),
        "by_dataset": {
            d.name: {"photos": int(per_dataset.get(d.id, 0)), "labels": list(d.labels or []),
                     "sensitive": int(d.id) in sensitive}
            for d in datasets
        },
        "sensitive_labels": sorted(SENSITIVE_LABELS),
        "notes": [
            "a ledger photo is in a dataset when its Flickr photo id is on the dataset's "
            "membership list (and the owner ids agree where both are known)",
            "sensitive: the dataset attached labels such as ethnic group, inferences of racial or "
            "ethnic origin: special-category data (GDPR Art. 9(1)) and sensitive personal "
            "information (CPRA, Cal. Civ. Code 1798.140(ae)) about the people it lists",
        ],
    }  # fmt: skip


def _photo_dataset_pairs(conn: Connection, photo_ids: Iterable[int]) -> Iterator[tuple[int, int]]:
    """``(ledger photo id, dataset id)`` for every imported dataset listing one of these
    ledger photos (:func:`_photo_matches`), in chunks that fit any backend's parameter limit."""
    for photo_id, dataset_id in bound_in_chunks(conn, _PAIRS, sorted({int(p) for p in photo_ids})):
        yield int(photo_id), int(dataset_id)


def _with_conn(conn_or_ledger: Connection | Ledger) -> Any:
    from contextlib import nullcontext

    if isinstance(conn_or_ledger, Ledger):
        return conn_or_ledger.read()
    return nullcontext(conn_or_ledger)


def sensitive_dataset_photo_ids(
    conn_or_ledger: Connection | Ledger, photo_ids: Iterable[int]
) -> set[int]:
    """The ledger photo ids among ``photo_ids`` that an imported dataset carrying sensitive
    labels (:func:`is_sensitive` of the dataset's annotation kinds, e.g. DiveFace's
    ``ethnic-group``) also lists: special-category (GDPR Art. 9(1)) / sensitive (CPRA) data
    is held about the people in them. Matching as :func:`ledger_overlap` counts it.

    Example::

        sensitive_dataset_photo_ids(ledger, [1, 2, 3])   # {2}
        with ledger.read() as conn:
            sensitive_dataset_photo_ids(conn, photo_ids)
    """
    ids = list(photo_ids)
    if not ids:
        return set()
    with _with_conn(conn_or_ledger) as conn:
        sensitive = {int(d.id) for d in conn.execute(select(DATASETS.c.id, DATASETS.c.labels)).all()
                     if is_sensitive(d.labels or [])}  # fmt: skip
        if not sensitive:
            return set()
        return {photo for photo, dataset in _photo_dataset_pairs(conn, ids) if dataset in sensitive}


def dataset_names_by_photo(
    conn_or_ledger: Connection | Ledger, photo_ids: Iterable[int]
) -> dict[int, list[str]]:
    """For each of these ledger photo ids that an imported dataset lists, the sorted names of
    those datasets (the portal names them per photo; :func:`datasets_holding` gives counts)."""
    ids = list(photo_ids)
    if not ids:
        return {}
    with _with_conn(conn_or_ledger) as conn:
        pairs = list(_photo_dataset_pairs(conn, ids))
        if not pairs:  # the common case: one query, not two
            return {}
        rows = conn.execute(select(DATASETS.c.id, DATASETS.c.name)).all()
    names = {int(r.id): str(r.name) for r in rows}
    found: dict[int, set[str]] = {}
    for photo, dataset in pairs:
        found.setdefault(photo, set()).add(names[dataset])
    return {photo: sorted(held, key=str.lower) for photo, held in found.items()}


def holds_members(conn: Connection) -> bool:
    """Whether any dataset membership list was imported (else no photo can be listed)."""
    return conn.execute(select(DATASET_MEMBERS.c.id).limit(1)).first() is not None


def sensitive_labels(conn: Connection, photo_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """For each ledger photo an imported dataset lists, the special-category label kinds
    (:data:`SENSITIVE_LABELS`) that the dataset attached to that
    entry, sorted; photos without any are left out. A ledger photo is the dataset's photo when
    the Flickr photo ids are equal and the owner ids agree where both are known (as
    :func:`ledger_overlap` counts them)."""
    ids = sorted({int(i) for i in photo_ids})
    if not ids:
        return {}
    matched = _photo_matches()
    rows = conn.execute(
        select(PHOTOS.c.id, DATASET_MEMBERS.c.labels).select_from(PHOTOS.join(DATASET_MEMBERS, matched))
        .where(PHOTOS.c.id.in_(ids), DATASET_MEMBERS.c.labels.is_not(None)).distinct()
    ).all()  # fmt: skip
    found: dict[int, set[str]] = {}
    for photo_id, labels in rows:
        kinds = {k for k in (labels or "").split(",") if k in SENSITIVE_LABELS}
        if kinds:
            found.setdefault(int(photo_id), set()).update(kinds)
    return {photo: tuple(sorted(kinds)) for photo, kinds in found.items()}


def sensitive_datasets(conn: Connection, photo_id: int) -> list[dict[str, Any]]:
    """The imported datasets that list this ledger photo with special-category labels:
    ``[{"name", "labels", "citation", "optout_url"}]`` sorted by name (for ``explain``)."""
    matched = _photo_matches()
    rows = conn.execute(
        select(DATASETS.c.name, DATASETS.c.citation, DATASETS.c.optout_url, DATASET_MEMBERS.c.labels)
        .select_from(PHOTOS.join(DATASET_MEMBERS, matched).join(DATASETS, DATASETS.c.id == DATASET_MEMBERS.c.dataset_id))
        .where(PHOTOS.c.id == photo_id, DATASET_MEMBERS.c.labels.is_not(None))
    ).all()  # fmt: skip
    found: dict[str, dict[str, Any]] = {}
    for name, citation, optout_url, labels in rows:
        kinds = {k for k in (labels or "").split(",") if k in SENSITIVE_LABELS}
        if kinds:
            entry = found.setdefault(name, {"name": name, "labels": set(), "citation": citation,
                                            "optout_url": optout_url})  # fmt: skip
            entry["labels"].update(kinds)
    return [{**e, "labels": sorted(e["labels"])} for _, e in sorted(found.items())]
