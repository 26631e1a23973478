"""The ledger's tables, as SQLAlchemy 2 declarative models.

The schema is changed only through Alembic migrations (``store/migrations``); a test checks
that these models and the migrated database agree. Times are UTC.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Source(Base):
    """A folder or manifest that photos came from. ``uri`` identifies it across re-ingests."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uri: Mapped[str] = mapped_column(String(2048), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # folder | manifest
    format: Mapped[str] = mapped_column(String(16))  # folder | yfcc | csv | tsv | jsonl | parquet
    name: Mapped[str] = mapped_column(String(512))
    content_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_ingested_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Counts from the most recent ingest of this source.
    rows_seen: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_added: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_rejected: Mapped[int] = mapped_column(BigInteger, default=0)


class Photo(Base):
    """One image with provenance. ``path`` is set when the bytes are local, ``download_url``
    when they are only known by URL (a metadata-only photo is a legal ledger entry)."""

    __tablename__ = "photos"
    __table_args__ = (
        UniqueConstraint("source_id", "source_key", name="uq_photos_source_key"),
        Index("ix_photos_scan_status", "scan_status"),
        Index("ix_photos_owner_id", "owner_id"),
        Index("ix_photos_content_hash", "content_hash"),
        Index("ix_photos_external_id", "external_id"),
        Index("ix_photos_provider_hash", "provider_hash"),  # 0012: tombstones match on it
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="RESTRICT"))
    source_key: Mapped[str] = mapped_column(String(1024))
    external_id: Mapped[str | None] = mapped_column(String(64))  # e.g. the Flickr photo id
    content_hash: Mapped[str | None] = mapped_column(String(64))  # sha256 of the local bytes
    provider_hash: Mapped[str | None] = mapped_column(String(64))  # the source's own hash (YFCC)
    path: Mapped[str | None] = mapped_column(String(2048))
    download_url: Mapped[str | None] = mapped_column(String(2048))
    page_url: Mapped[str | None] = mapped_column(String(2048))
    owner_id: Mapped[str | None] = mapped_column(String(128))
    owner_nickname: Mapped[str | None] = mapped_column(String(256), index=True)  # 0006
    owner_location: Mapped[str | None] = mapped_column(String(512))
    license_id: Mapped[int | None] = mapped_column(Integer)
    license_name: Mapped[str | None] = mapped_column(String(256))
    license_url: Mapped[str | None] = mapped_column(String(512))
    date_taken: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    date_uploaded: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    geo_accuracy: Mapped[int | None] = mapped_column(Integer)
    tags: Mapped[str | None] = mapped_column(Text)  # comma-separated, decoded
    title: Mapped[str | None] = mapped_column(Text)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    # pending | done | error | remote (no local bytes: nothing to scan)
    scan_status: Mapped[str] = mapped_column(String(16))
    scan_error: Mapped[str | None] = mapped_column(String(32))
    scan_error_detail: Mapped[str | None] = mapped_column(Text)
    scan_run_id: Mapped[int | None] = mapped_column(ForeignKey("scan_runs.id"))
    scanned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set by an executed opt-out / erasure request: a tombstone, the row is never deleted.
    excluded_request_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # 0008: when the dataset owner acquired it, where the source says (else: created_at)
    acquired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Acquisition (migration 0010, ``faceledger fetch``): fetched | reserved | failed, None =
    # not tried. A reserved photo carries a machine-readable opt-out: ``reservation`` is the
    # signal's code, ``reservation_evidence`` what was seen (header value, file, rule); it
    # keeps no bytes and its scan_status is ``reserved`` (never scanned).
    fetch_status: Mapped[str | None] = mapped_column(String(16), index=True)
    fetch_error: Mapped[str | None] = mapped_column(String(32))
    fetch_error_detail: Mapped[str | None] = mapped_column(Text)
    fetch_attempts: Mapped[int | None] = mapped_column(Integer)
    fetched_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reservation: Mapped[str | None] = mapped_column(String(32))
    reservation_evidence: Mapped[dict[str, object] | None] = mapped_column(JSON)


class Face(Base):
    """One detected face. Detection only: no landmark geometry beyond the 5 detector points,
    no embedding. Those are templates and belong to the extraction service."""

    __tablename__ = "faces"
    __table_args__ = (UniqueConstraint("photo_id", "face_index", name="uq_faces_photo_index"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photos.id", ondelete="CASCADE"))
    face_index: Mapped[int] = mapped_column(Integer)
    x1: Mapped[float] = mapped_column(Float)
    y1: Mapped[float] = mapped_column(Float)
    x2: Mapped[float] = mapped_column(Float)
    y2: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    landmarks: Mapped[list[list[float]]] = mapped_column(JSON)
    face_size: Mapped[float] = mapped_column(Float)
    quality: Mapped[float | None] = mapped_column(Float)
    detector_name: Mapped[str] = mapped_column(String(64))
    detector_version: Mapped[str] = mapped_column(String(64))
    scan_run_id: Mapped[int] = mapped_column(ForeignKey("scan_runs.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set by an executed opt-out / erasure request: a tombstone, the row is never deleted.
    excluded_request_id: Mapped[int | None] = mapped_column(Integer, index=True)


class ScanRun(Base):
    """One run of ``faceledger scan``. A run killed part-way stays ``running``; the next
    run marks it ``interrupted`` and carries on where it stopped."""

    __tablename__ = "scan_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16))  # running | done | interrupted | failed
    detector_name: Mapped[str] = mapped_column(String(64))
    detector_version: Mapped[str] = mapped_column(String(64))
    threshold: Mapped[float] = mapped_column(Float)
    workers: Mapped[int] = mapped_column(Integer)
    photos_done: Mapped[int] = mapped_column(Integer, default=0)
    photos_failed: Mapped[int] = mapped_column(Integer, default=0)
    faces_found: Mapped[int] = mapped_column(Integer, default=0)


class IngestReject(Base):
    """A manifest row that was skipped, with where it was and why."""

    __tablename__ = "ingest_rejects"
    __table_args__ = (UniqueConstraint("source_id", "line", name="uq_ingest_rejects_line"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """One audited action. Rows are only ever appended (database triggers refuse UPDATE and
    DELETE). ``prev_hash``/``hash`` hold the hash chain."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_name", "name"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(128))
    payload: Mapped[dict[str, object]] = mapped_column(JSON)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class DecisionOutcome(Base):
    """One decided case, stored once and shared by every face decided alike (migration 0018).

    ``scenario`` is the exact input the law engine evaluated (a ``faceledger policy evaluate``
    document whose evidence is *resolved*: kind, code and confidence; the raw clue it came
    from, a geotag or an owner's location text, is the photo's own provenance), ``result`` is
    ``Decision.to_dict()`` of that scenario and ``policy_versions`` the laws' versions. Two
    faces whose scenarios differ only in where exactly in one state they were geotagged share
    one outcome. ``digest`` (sha256 of the three JSON texts) makes each outcome unique.
    """

    __tablename__ = "decision_outcomes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    scenario: Mapped[dict[str, object]] = mapped_column(JSON)
    result: Mapped[dict[str, object]] = mapped_column(JSON)
    policy_versions: Mapped[dict[str, str]] = mapped_column(JSON)


class FaceDecision(Base):
    """The law engine's decision for one face, purpose and action (``faceledger assess``).

    ``outcome_id`` names the decided case (:class:`DecisionOutcome`: scenario, result and
    policy versions). Re-assessing replaces the row (one per key).
    """

    __tablename__ = "face_decisions"
    __table_args__ = (
        UniqueConstraint("face_id", "purpose", "action", name="uq_face_decisions_key"),
        Index("ix_face_decisions_purpose_decision", "purpose", "decision"),
        Index("ix_face_decisions_outcome", "outcome_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    face_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("faces.id", ondelete="CASCADE")
    )
    purpose: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(8))  # allow | block
    destroy_by: Mapped[date | None] = mapped_column(Date)
    #: nullable only because SQLite cannot add a NOT NULL column (0018); assess always sets it
    outcome_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("decision_outcomes.id")
    )
    assessed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# Imported here, beside the one model that needs them, so this append does not touch the
# import block above (other models are appended to this file concurrently).
from sqlalchemy import Boolean, CheckConstraint  # noqa: E402


class Consent(Base):
    """A consent record (``faceledger consent``): who gave it and which faces it covers.

    ``given_by`` is subject | legal-representative (``relationship``, e.g. parent) |
    photo-owner. What it covers: the claimed faces linked in ``consent_claims`` (subject or
    representative), a ``subject_id``, or, for a photo-owner consent, only the faces claimed
    as ``owner_id``'s own (0008). ``kind`` is consent | sale-authorization (``purchaser``);
    ``signer``/``signed_on`` name who signed the evidence and when. ``form`` is written |
    electronic | verbal | none; ``purposes`` a JSON list of purpose names; ``informed``
    whether the purpose and term were disclosed. ``receipt`` is an unguessable id handed to
    the person (``secrets.token_urlsafe``). Revoking sets ``revoked``; rows are never deleted
    here. ``subject_id`` has no foreign key.
    """

    __tablename__ = "consents"
    __table_args__ = (
        UniqueConstraint("receipt", name="uq_consents_receipt"),
        CheckConstraint(
            "form IN ('written', 'electronic', 'verbal', 'none')", name="ck_consents_form"
        ),
        CheckConstraint(
            "given_by IN ('subject', 'legal-representative', 'photo-owner')",
            name="ck_consents_given_by",
        ),
        CheckConstraint("kind IN ('consent', 'sale-authorization')", name="ck_consents_kind"),
        CheckConstraint(
            "given_by <> 'photo-owner' OR owner_id IS NOT NULL", name="ck_consents_photo_owner"
        ),
        Index("ix_consents_owner_id", "owner_id"),
        Index("ix_consents_subject_id", "subject_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    receipt: Mapped[str] = mapped_column(String(64))
    owner_id: Mapped[str | None] = mapped_column(String(128))
    subject_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    form: Mapped[str] = mapped_column(String(16))
    purposes: Mapped[list[str]] = mapped_column(JSON)
    informed: Mapped[bool] = mapped_column(Boolean)
    granted: Mapped[date] = mapped_column(Date)
    expires: Mapped[date | None] = mapped_column(Date)
    revoked: Mapped[date | None] = mapped_column(Date)
    evidence_uri: Mapped[str | None] = mapped_column(String(2048))
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(512))  # cli | the import file's name
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # 0008: who gave it, what kind, who signed (the subject, not the uploader, in general)
    given_by: Mapped[str] = mapped_column(String(32), server_default="subject")
    relationship: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32), server_default="consent")
    purchaser: Mapped[str | None] = mapped_column(String(256))
    signer: Mapped[str | None] = mapped_column(String(256))
    signed_on: Mapped[date | None] = mapped_column(Date)


class Subject(Base):
    """A person, as a cluster of faces. ``key_ref`` names the subject's data key in the key
    vault; shredding that key makes every template of the subject unreadable for good."""

    __tablename__ = "subjects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_ref: Mapped[str] = mapped_column(String(64), unique=True)
    model_version: Mapped[str] = mapped_column(String(64))  # the embedder version that founded it
    owner_id: Mapped[str | None] = mapped_column(String(128), index=True)
    owner_link: Mapped[str | None] = mapped_column(Text)  # the evidence for owner_id
    status: Mapped[str] = mapped_column(String(16))  # active | shredded
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    shredded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FaceSubject(Base):
    """Which subject a face was clustered into (set by extraction, from its embedding).

    One row per face: a subject is a person, whatever the embedder. The face is clustered
    once, by the first embedder version that extracts it (``model_version``, 0017; the space
    ``distance`` is measured in); a later embedder's templates of the face are stored under
    the same subject, so claims, consents and erasure reach every model's templates.
    """

    __tablename__ = "face_subjects"

    face_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("faces.id", ondelete="CASCADE"),
        primary_key=True,
    )
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    distance: Mapped[float | None] = mapped_column(Float)  # to the face it joined; None = founder
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # 0017: the embedder version the face was clustered on (None: not recorded)
    model_version: Mapped[str | None] = mapped_column(String(64))


class Template(Base):
    """One biometric template of one face, encrypted under its subject's data key.

    ``kind`` is ``embedding`` (128 float32) or ``geometry`` (landmarks and DiF measures, JSON).
    ``decision_id`` is the allowing decision it was made under: extraction refuses to write a
    template without one. The ciphertext is bound (AES-GCM associated data) to the face, kind
    and model version, so it cannot be moved to another row.
    """

    __tablename__ = "templates"
    __table_args__ = (
        UniqueConstraint("face_id", "kind", "model_version", name="uq_templates_face_kind_model"),
        Index("ix_templates_model_kind", "model_version", "kind"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    face_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("faces.id", ondelete="CASCADE")
    )
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    model_name: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(128))
    decision_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("face_decisions.id")
    )
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # set aside after failing its integrity check (never read again; migration 0011)
    quarantined_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    quarantine_reason: Mapped[str | None] = mapped_column(String(64))


class Release(Base):
    """A named release for one purpose (``faceledger release``); its content is in versions."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("name", name="uq_releases_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    purpose: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReleaseVersion(Base):
    """One immutable version of a release: its files under ``path`` with their sha256 in
    ``files``, and ``manifest_sha256`` over that list. A new version never overwrites one."""

    __tablename__ = "release_versions"
    __table_args__ = (UniqueConstraint("release_id", "version", name="uq_release_versions_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("releases.id"))
    version: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("release_versions.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(128))
    with_features: Mapped[bool] = mapped_column(Boolean)
    photo_count: Mapped[int] = mapped_column(Integer)
    face_count: Mapped[int] = mapped_column(Integer)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(2048))
    files: Mapped[dict[str, str]] = mapped_column(JSON)
    # issue 13.6 (migration 0016): the basis its faces are disclosed on, and what it holds
    disclosure_basis: Mapped[str | None] = mapped_column(String(32))
    content_sha256: Mapped[str | None] = mapped_column(String(64))


class ReleaseItem(Base):
    """One face (and its photo) in one release version."""

    __tablename__ = "release_items"
    __table_args__ = (
        Index("ix_release_items_face_id", "face_id"),
        Index("ix_release_items_photo_id", "photo_id"),
    )

    version_id: Mapped[int] = mapped_column(ForeignKey("release_versions.id"), primary_key=True)
    face_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True
    )
    photo_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))


class Consumer(Base):
    """Who received a release version (a disclosure): a model, a partner, an export."""

    __tablename__ = "consumers"
    __table_args__ = (
        UniqueConstraint("name", "version_id", name="uq_consumers_name_version"),
        Index("ix_consumers_version_id", "version_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    version_id: Mapped[int] = mapped_column(ForeignKey("release_versions.id"))
    contact: Mapped[str | None] = mapped_column(String(512))
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Request(Base):
    """An opt-out, erasure or access request from a person (``faceledger request``).

    Keyed by ``key_type`` (owner | photo | url | tag | face) and ``key_value`` (None for a
    face: the selfie is matched when the request is made and only the matched face ids are
    kept, in ``request_faces``). ``receipt`` is unguessable (``secrets.token_urlsafe``).
    Lifecycle: received -> verified -> executed -> confirmed, or rejected with a reason.
    """

    __tablename__ = "requests"
    __table_args__ = (
        UniqueConstraint("receipt", name="uq_requests_receipt"),
        CheckConstraint("kind IN ('optout', 'erasure', 'access')", name="ck_requests_kind"),
        CheckConstraint(
            "key_type IN ('owner', 'photo', 'url', 'tag', 'face')", name="ck_requests_key_type"
        ),
        Index("ix_requests_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    receipt: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    key_type: Mapped[str] = mapped_column(String(16))
    key_value: Mapped[str | None] = mapped_column(String(2048))
    owner_scope: Mapped[str | None] = mapped_column(String(128))  # a tag request's owner
    consent_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("consents.id")
    )
    law: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    deadline: Mapped[date] = mapped_column(Date)
    verified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    executed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rejected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, object] | None] = mapped_column(JSON)
    # Who is asking (migration 0009): the requester's contact, encrypted under its own vault
    # key (``contact_key_ref``; shredding that key erases the contact everywhere), the
    # identity evidence (a list of IdentityEvidence documents), what the request covers
    # (account | tag | photo | faces), and a deadline extension (GDPR Art. 12(3)).
    contact_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    contact_key_ref: Mapped[str | None] = mapped_column(String(64))
    evidence: Mapped[list[dict[str, object]] | None] = mapped_column(JSON)
    covers: Mapped[str | None] = mapped_column(String(16))
    deadline_original: Mapped[date | None] = mapped_column(Date)
    extended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    extension_reason: Mapped[str | None] = mapped_column(Text)


class RequestFace(Base):
    """A face a request covers (the selfie itself is never stored).

    ``basis`` says why: ``selfie`` (a match) or ``cluster`` (another face of a matched
    subject), each ``pending`` until a reviewer ``confirmed`` or ``rejected`` it, face by
    face; or ``claim`` (the person's claim ``claim_id`` of that face: ``claimed``). Executing
    acts only on confirmed and claimed faces.
    """

    __tablename__ = "request_faces"

    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"), primary_key=True)
    face_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True
    )
    subject_id: Mapped[int | None] = mapped_column(Integer)
    distance: Mapped[float | None] = mapped_column(Float)
    basis: Mapped[str] = mapped_column(String(16), server_default="selfie")
    claim_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decision_reason: Mapped[str | None] = mapped_column(Text)


class ConsumerNotice(Base):
    """A notice owed to a release consumer because a request removed faces it received."""

    __tablename__ = "consumer_notices"
    __table_args__ = (
        UniqueConstraint("consumer_id", "request_id", name="uq_consumer_notices_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consumer_id: Mapped[int] = mapped_column(ForeignKey("consumers.id"))
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("release_versions.id"))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Destruction(Base):
    """A destruction certificate: one face's templates destroyed, why, and whether its
    subject's key was shredded. ``certificate`` is the sha256 of the record's fields."""

    __tablename__ = "destructions"
    __table_args__ = (Index("ix_destructions_face_id", "face_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    face_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    subject_id: Mapped[int | None] = mapped_column(Integer)
    templates: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(
        String(16)
    )  # erasure | optout | retention | revoked | excluded
    destroy_by: Mapped[date | None] = mapped_column(Date)
    request_id: Mapped[int | None] = mapped_column(Integer)
    key_shredded: Mapped[bool] = mapped_column(Boolean)
    destroyed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    certificate: Mapped[str] = mapped_column(String(64))
    # 0012: the revoked consent a ``revoked`` destruction was for (retention sweep)
    consent_id: Mapped[int | None] = mapped_column(Integer)


class WebUser(Base):
    """A person who may use the owner console (``faceledger user add``): admin | reviewer."""

    __tablename__ = "web_users"
    __table_args__ = (
        UniqueConstraint("name", name="uq_web_users_name"),
        CheckConstraint("role IN ('admin', 'reviewer')", name="ck_web_users_role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebToken(Base):
    """An API token of a console user: ``flt_<id>_<secret>``; only an scrypt hash is kept."""

    __tablename__ = "web_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A console login session; ``id_hash`` is the SHA-256 of the cookie's 256-bit id."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Claim(Base):
    """A person's statement that a detected face is theirs, or their child's (0008).

    No template is computed to claim. ``claimed_by`` is subject | legal-representative
    (``relationship``, e.g. parent; ``minor``/``age`` of the depicted person when stated);
    ``is_photo_owner`` says the claimant says it is the photo owner's own face (it counts
    only with verified owner evidence). ``evidence`` is an ``IdentityEvidence`` document.
    ``status`` is active | revoked; rows are never deleted here.
    """

    __tablename__ = "claims"
    __table_args__ = (
        UniqueConstraint("receipt", name="uq_claims_receipt"),
        CheckConstraint(
            "claimed_by IN ('subject', 'legal-representative')", name="ck_claims_claimed_by"
        ),
        CheckConstraint("status IN ('active', 'revoked')", name="ck_claims_status"),
        Index("ix_claims_face_id", "face_id"),
        Index("ix_claims_photo_id", "photo_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    receipt: Mapped[str] = mapped_column(String(64))
    face_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("faces.id", ondelete="CASCADE")
    )
    photo_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    claimed_by: Mapped[str] = mapped_column(String(32))
    relationship: Mapped[str | None] = mapped_column(String(64))
    is_photo_owner: Mapped[bool] = mapped_column(Boolean)
    minor: Mapped[bool | None] = mapped_column(Boolean)
    age: Mapped[int | None] = mapped_column(Integer)
    evidence: Mapped[dict[str, object]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ConsentClaim(Base):
    """Which claimed faces a consent covers (a subject's or representative's consent)."""

    __tablename__ = "consent_claims"
    __table_args__ = (Index("ix_consent_claims_claim_id", "claim_id"),)

    consent_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("consents.id", ondelete="CASCADE"),
        primary_key=True,
    )
    claim_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("claims.id", ondelete="CASCADE"),
        primary_key=True,
    )


class OptOutEntry(Base):
    """One entry of an imported opt-out list (``faceledger optouts import``), migration 0010.

    ``kind`` is url | domain | owner; ``value`` is normalised (a URL without fragment and
    default port, a lower-case domain that also covers its subdomains, an owner id as given).
    ``list_name``/``list_sha256`` name the file it came from (the evidence of a reservation).
    """

    __tablename__ = "optout_entries"
    __table_args__ = (
        UniqueConstraint("kind", "value", name="uq_optout_entries_key"),
        CheckConstraint("kind IN ('url', 'domain', 'owner')", name="ck_optout_entries_kind"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(2048))
    list_name: Mapped[str] = mapped_column(String(512))
    list_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Dataset(Base):
    """A published face dataset whose membership list was imported (``faceledger datasets
    import``, migration 0013): its name, citation, licence and the opt-out route its
    maintainer offers. ``labels`` is the sorted list of annotation *kinds* it attached to its
    members (``gender``, ``ethnic-group``...), never their values. ``files`` lists the
    imported files (name, sha256, members seen and added)."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("name", name="uq_datasets_name"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    citation: Mapped[str | None] = mapped_column(Text)
    licence: Mapped[str | None] = mapped_column(String(256))
    optout_url: Mapped[str | None] = mapped_column(String(2048))
    labels: Mapped[list[str]] = mapped_column(JSON)
    files: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DatasetMember(Base):
    """One entry of a dataset's membership list: a Flickr account (``owner_id``, an NSID), a
    Flickr photo (``photo_id``) and, for a face crop, the face's index in the photo. ``labels``
    names the annotation kinds the dataset attached to this entry (comma-separated, no
    values). ``member_key`` (owner/photo/face) makes a re-import add nothing."""

    __tablename__ = "dataset_members"
    __table_args__ = (
        UniqueConstraint("dataset_id", "member_key", name="uq_dataset_members_key"),
        Index("ix_dataset_members_owner_id", "owner_id"),
        Index("ix_dataset_members_photo_id", "photo_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("datasets.id", ondelete="CASCADE")
    )
    member_key: Mapped[str] = mapped_column(String(256))
    owner_id: Mapped[str | None] = mapped_column(String(128))
    photo_id: Mapped[str | None] = mapped_column(String(64))
    face_index: Mapped[int | None] = mapped_column(Integer)
    labels: Mapped[str | None] = mapped_column(String(256))


class WebBucket(Base):
    """Portal state shared by every server process (0015): a client's token bucket
    (``rate:<HMAC of the address>``; the address itself is never stored) or one clock hour's
    anonymous audit budget (``audit:<hour>``). Updated only by one atomic upsert per request;
    ``allowed`` is that upsert's decision, ``expires`` when the row may be deleted."""

    __tablename__ = "web_buckets"
    __table_args__ = (Index("ix_web_buckets_expires", "expires"),)

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated: Mapped[float] = mapped_column(Float)
    expires: Mapped[float] = mapped_column(Float)
    allowed: Mapped[bool] = mapped_column(Boolean)


class TemplateIndexEntry(Base):
    """The searchable embeddings, one row per template (issue 15.2, migration 0014): ids
    only, never a vector or a code derived from one. ``generation`` is the index generation
    of the row's last change; ``removed`` rows (destroyed, quarantined, erased) stay as
    tombstones until ``faceledger index rebuild`` so that every process can drop them."""

    __tablename__ = "template_index"
    __table_args__ = (
        Index("ix_template_index_model_generation", "model_version", "generation"),
        Index("ix_template_index_face_id", "face_id"),
        Index("ix_template_index_subject_id", "subject_id"),
    )

    template_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True
    )
    face_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    subject_id: Mapped[int] = mapped_column(Integer)
    model_version: Mapped[str] = mapped_column(String(64))
    generation: Mapped[int] = mapped_column(BigInteger)
    removed: Mapped[bool] = mapped_column(Boolean)


class TemplateIndexState(Base):
    """One model version's index generation (bumped in the transaction of every extract,
    destruction and quarantine) and ``epoch`` (new at each rebuild): a process whose copy
    was built at another epoch or generation brings it up to date before it searches."""

    __tablename__ = "template_index_state"

    model_version: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)
    epoch: Mapped[str] = mapped_column(String(32))
    rebuilt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
