"""faceledger as a library: one deployment's settings, ledger, vault and laws, opened once.

Example::

    from pathlib import Path
    from faceledger import FaceLedger, load_settings

    with FaceLedger(load_settings(database_url="sqlite:///ledger.db"), create=True) as fl:
        fl.ingest(Path("examples/photos.csv"))
        fl.scan()
        fl.assess()                       # the default purpose, under fl.policies
        print(fl.explain(1)["decision"])
        fl.file_request(Intake(kind="erasure", owner="70000001@N01"))

The command line (``cli/_common.CliState``) and the portal (``web/deps.Portal``) hold one of
these and only parse and present; every rule lives in the services it calls. What is opened
is opened lazily: reading settings touches no database, and only ``create=True`` (``ingest``
and ``init``) may create a ledger; otherwise a missing one raises
:class:`~faceledger.errors.NoLedgerError`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from faceledger.config import Settings, load_settings

if TYPE_CHECKING:
    from faceledger.core.law import Policy
    from faceledger.services.biometrics.extract import ExtractReport
    from faceledger.services.collection.ingest import IngestReport
    from faceledger.services.collection.scan import ScanReport
    from faceledger.services.decisions.assess import AssessReport
    from faceledger.services.lifecycle.release_versions import VersionInfo
    from faceledger.services.lifecycle.request_intake import Intake
    from faceledger.services.lifecycle.request_records import RequestRecord
    from faceledger.services.progress import Progress
    from faceledger.store import Ledger
    from faceledger.store.vault import KeyVault
    from faceledger.vision.detector import Detector
    from faceledger.vision.dlib_models import Embedder


class FaceLedger:
    """One deployment of faceledger (see the module docs). ``settings`` default to
    :func:`~faceledger.config.load_settings` (environment and ``faceledger.toml``);
    ``ledger`` may be an already open one (the portal's tests pass theirs). ``detector`` and
    ``embedder`` replace the models the settings name (scan and extract then run in this
    process); left out, the real ones are used."""

    def __init__(
        self, settings: Settings | None = None, *, create: bool = False, ledger: Ledger | None = None,
        actor: str = "library", detector: Detector | None = None, embedder: Embedder | None = None,
    ) -> None:  # fmt: skip
        self.settings = settings if settings is not None else load_settings()
        self.actor = actor
        self._create = create
        self._ledger = ledger
        self._owns_ledger = ledger is None
        self._vault: KeyVault | None = None
        self.detector = detector
        self.embedder = embedder

    # --- what a deployment holds -------------------------------------------------------

    @property
    def ledger(self) -> Ledger:
        """The ledger the settings name, opened (and migrated) on first use, with the audit
        checkpoints of ``audit_checkpoint_every`` installed."""
        if self._ledger is None:
            from faceledger.services.oversight.audit import checkpoints_path, install_checkpoints
            from faceledger.store import open_ledger

            ledger = open_ledger(self.settings.database_url, create=self._create)
            install_checkpoints(
                ledger, checkpoints_path(self.settings), every=self.settings.audit_checkpoint_every
            )
            self._ledger = ledger
        return self._ledger

    @property
    def is_open(self) -> bool:
        return self._ledger is not None

    @property
    def vault(self) -> KeyVault:
        """The key vault (master key under ``data_dir``), opened on first use."""
        if self._vault is None:
            from faceledger.store.vault import KeyVault

            self._vault = KeyVault.open(self.settings)
        return self._vault

    @property
    def opened_vault(self) -> KeyVault | None:
        """The vault if something opened it already, else ``None`` (opens nothing)."""
        return self._vault

    @property
    def policies(self) -> list[Policy]:
        """The deployment's one law set: the shipped laws plus ``policy_dir``."""
        from faceledger.services.decisions.policy import laws_for

        return laws_for(self.settings)

    def close(self) -> None:
        """Checkpoint the audit log if this object wrote to it, then release the ledger's
        connections (a ledger handed in is checkpointed but left open for its owner)."""
        if self._ledger is None:
            return
        from faceledger.services.oversight.audit import checkpoints_path, finish_checkpoint

        try:
            finish_checkpoint(self._ledger, checkpoints_path(self.settings))
        finally:
            if self._owns_ledger:
                self._ledger.dispose()
                self._ledger = None

    def __enter__(self) -> FaceLedger:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- the lifecycle, one call each --------------------------------------------------

    def ingest(self, *paths: Path, progress: Progress | None = None) -> IngestReport:
        """Ingest folders and manifests (``faceledger ingest``)."""
        from faceledger.services.collection.ingest import ingest_paths

        return ingest_paths(
            self.ledger, [Path(p) for p in paths], actor=self.actor, progress=progress
        )

    def scan(self, *, limit: int | None = None, progress: Progress | None = None) -> ScanReport:
        """Find the faces of every pending photo (``faceledger scan``)."""
        from faceledger.services.collection.scan import scan_pending

        return scan_pending(
            self.ledger,
            self.settings,
            actor=self.actor,
            limit=limit,
            progress=progress,
            detector=self.detector,
        )

    def assess(
        self, purpose: str | None = None, *, action: str | None = None, on: date | None = None,
        progress: Progress | None = None,
    ) -> AssessReport:  # fmt: skip
        """Decide ``action`` for ``purpose`` (default: the setting) on every face."""
        from faceledger.services.decisions.assess import DEFAULT_ACTION, assess_faces

        return assess_faces(
            self.ledger, self.settings, purpose=self.settings.purpose_or(purpose), action=action or DEFAULT_ACTION,
            on=on, actor=self.actor, progress=progress, policies=self.policies,
        )  # fmt: skip

    def extract(
        self,
        purpose: str | None = None,
        *,
        limit: int | None = None,
        progress: Progress | None = None,
    ) -> ExtractReport:
        """Compute templates where the recorded decision allows it (``faceledger extract``)."""
        from faceledger.services.biometrics.extract import extract_templates

        return extract_templates(
            self.ledger, self.vault, self.settings, purpose=self.settings.purpose_or(purpose), actor=self.actor,
            limit=limit, progress=progress, embedder=self.embedder,
        )  # fmt: skip

    def explain(
        self, face_id: int, purpose: str | None = None, *, action: str | None = None
    ) -> dict[str, Any]:
        """The recorded decision for one face, re-checked against today's laws."""
        from faceledger.services.decisions.assess import DEFAULT_ACTION
        from faceledger.services.decisions.explain import explain_face

        return explain_face(
            self.ledger, face_id=face_id, purpose=self.settings.purpose_or(purpose),
            action=action or DEFAULT_ACTION, policies=self.policies,
        )  # fmt: skip

    def exposure(
        self, purpose: str | None = None, *, turnover: float | None = None
    ) -> dict[str, Any]:
        """Per-law faces, subjects and statutory ranges (``faceledger exposure``)."""
        from faceledger.services.decisions.exposure import ledger_exposure

        return ledger_exposure(
            self.ledger,
            purpose=self.settings.purpose_or(purpose),
            turnover=turnover,
            policies=self.policies,
        )

    def file_request(self, intake: Intake) -> RequestRecord:
        """File a person's opt-out, erasure or access request (``faceledger request new``)."""
        from faceledger.services.lifecycle.request_intake import file_request

        opener: Callable[[], KeyVault] = lambda: self.vault  # noqa: E731 - opened only if needed
        return file_request(self.ledger, self.settings, opener, intake)

    def release(self, name: str, purpose: str | None = None, **options: Any) -> VersionInfo:
        """Freeze what ``purpose`` allows today into the next version of release ``name``
        (``options``: those of :func:`~faceledger.services.lifecycle.releases.create_release`)."""
        from faceledger.services.lifecycle.releases import create_release

        return create_release(
            self.ledger, self.vault, self.settings, name=name, purpose=self.settings.purpose_or(purpose),
            actor=self.actor, **options,
        )  # fmt: skip

    def report(self, purpose: str | None = None) -> dict[str, Any]:
        """The audit report's numbers (``faceledger report --json``)."""
        from faceledger.services.oversight.report import build_report

        return build_report(
            self.ledger, self.settings, vault=lambda: self.vault, purpose=purpose, policies=self.policies,
            actor=self.actor,
        )  # fmt: skip
