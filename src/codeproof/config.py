"""Settings: one TOML file validated once with pydantic, plus environment overrides.

Resolution order (later wins): built-in defaults, the TOML file
(``$CODEPROOF_CONFIG``, else ``codeproof.toml`` in the working directory when it
exists), then environment variables ``CODEPROOF_<SECTION>__<KEY>`` (for example
``CODEPROOF_ROUTING__AUTO_THRESHOLD=0.95``) and the two top-level shortcuts
``CODEPROOF_HOME`` and ``CODEPROOF_REFERENCE_DIR``.

Every key is documented in ``docs/reference/config.md``; a test checks it.
Unknown keys are errors (``extra="forbid"``), so a typo never passes silently.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from codeproof.errors import ConfigError

__all__ = [
    "BackendsSettings",
    "CodingSettings",
    "DeidSettings",
    "JustifySettings",
    "PipelineSettings",
    "RoutingSettings",
    "RulesSettings",
    "SecuritySettings",
    "ServiceSettings",
    "Settings",
    "load_settings",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PipelineSettings(_Section):
    """Which stages run, in order (versioned registry names)."""

    stages: tuple[str, ...] = (
        "security.residency.v1",
        "deid.engine.v1",
        "nlp.sections.v1",
        "nlp.sentences.v1",
        "nlp.mentions.v1",
        "nlp.context.v1",
        "coding.assign.v1",
        "rules.validate.v1",
        "justify.writer.v1",
        "review.route.v1",
    )


class BackendsSettings(_Section):
    """Pluggable backends chosen by registry name."""

    storage: str = "storage.sqlite.v1"
    database_url: str | None = None  # e.g. postgresql+psycopg://user@127.0.0.1/codeproof
    llm: str = "llm.fake.v1"
    vectorstore: str = "vectorstore.memory.v1"
    key_provider: str = "keys.local_file.v1"
    queue: str = "queue.database.v1"


class CodingSettings(_Section):
    """Code assignment engine."""

    model_path: Path | None = None  # defaults to the committed artifact in the package
    max_codes: int = 40
    min_confidence: float = 0.10  # candidates below this are not emitted as codes
    threshold: float | None = None  # emission threshold; None = the model's tuned one
    seventh_character: bool = True  # complete injury codes with the 7th character
    symptom_policy: Literal["integral", "body_system"] = "integral"  # R-code suppression
    header_codes: Literal["review", "complete"] = "review"  # non-billable: cap / complete
    # "ocg": US Official Guidelines code set; "mentions": every documented condition as
    # stated (abstraction / CodiEsp convention; no combination, 7th character, laterality,
    # integral-symptom or unspecified-code rewrites)
    convention: Literal["ocg", "mentions"] = "ocg"


class RoutingSettings(_Section):
    """Confidence routing thresholds; ``per_setting``/``per_specialty`` override them."""

    auto_threshold: float = 0.90
    review_threshold: float = 0.70
    audit_sample_rate: float = 0.05
    per_setting: dict[str, dict[str, float]] = Field(default_factory=dict)
    per_specialty: dict[str, dict[str, float]] = Field(default_factory=dict)
    # rule-finding ids that signal a documentation gap (-> cdi_query), matched as substrings
    cdi_rule_patterns: tuple[str, ...] = ("cdi", "meat", "documentation")


class RulesSettings(_Section):
    """Compliance validation: which packs, payer, and where user packs live."""

    packs_dir: Path | None = None
    payer: str | None = None
    drg_version: str = "v43"
    hcc_model: str = "CMS-HCC Model V28"
    ncci_dir: Path | None = None  # user-supplied CMS NCCI PTP/MUE files
    ncci_claim_type: Literal["practitioner", "hospital"] = "practitioner"
    families: tuple[str, ...] = ()  # rule families to run; empty = all
    drg_weights_file: Path | None = None  # user-supplied CMS MS-DRG "Table 5" (weights)


class JustifySettings(_Section):
    """Justification writer and verifier."""

    writer: str = "writer.template.v1"
    verifier: str = "verifier.grounding.v1"
    openai_base_url: str | None = None
    openai_model: str | None = None
    openai_api_key_env: str = "OPENAI_API_KEY"
    llamacpp_model_path: Path | None = None
    covered_endpoint: bool = False  # endpoint has a BAA/DPA for the tenant's region
    llm_timeout_s: float = 60.0  # per model call
    llm_max_tokens: int = 384  # per drafted justification
    rejection_penalty: float = 0.15  # confidence subtracted when a model draft is rejected
    guidelines_per_code: int = 2  # guideline passages cited per code (template writer)
    kb_dense: Literal["auto", "on", "off"] = "auto"  # dense half of hybrid retrieval
    kb_dir: Path | None = None  # defaults to <home>/kb


class DeidSettings(_Section):
    """De-identification before any model sees text."""

    enabled: bool = True
    operator: Literal["redact", "placeholder", "surrogate"] = "placeholder"
    date_shift: bool = True
    ner: bool = False  # add spaCy NER (en-core-web-sm) to the clinical recognizers
    keep_years: bool = False  # Safe Harbor allows a year alone; we remove event years


class SecuritySettings(_Section):
    """Tenancy, regions, keys and retention."""

    default_tenant: str = "default"
    tenant_regions: dict[str, str] = Field(default_factory=lambda: {"default": "US"})
    region_stores: dict[str, str] = Field(default_factory=dict)  # region -> database URL
    region_endpoints: dict[str, list[str]] = Field(default_factory=dict)
    retention_days: dict[str, int] = Field(
        default_factory=lambda: {"US": 7 * 365, "EU": 10 * 365}
    )
    encrypt_at_rest: bool = True
    key_file: Path | None = None  # defaults to <home>/keys/master.key
    checkpoint_every: int = 100  # audit events between signed checkpoints
    kms_key_id: str | None = None  # keys.kms.v1: the KMS key id/ARN that wraps data keys
    kms_region: str | None = None  # keys.kms.v1: the KMS region (defaults to the SDK's)


class ServiceSettings(_Section):
    """The HTTP service."""

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    embedded_worker: bool = True  # `serve` also runs one job worker thread
    pipeline: Literal["real", "fake"] = "real"  # "fake": keyword demo coder, no models
    job_lease_seconds: float = 120.0  # a claimed job is re-delivered after this
    job_max_attempts: int = 3
    job_poll_seconds: float = 0.5
    max_body_bytes: int = 5_000_000
    cookie_secure: bool = False  # workbench session cookie only over HTTPS (set behind TLS)


class Settings(_Section):
    """All settings; ``home`` is the data directory ``$CODEPROOF_HOME``."""

    home: Path = Path(".codeproof")
    reference_dir: Path | None = None  # defaults to <home>/reference
    setting: Literal["inpatient", "outpatient"] = "outpatient"
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    backends: BackendsSettings = Field(default_factory=BackendsSettings)
    coding: CodingSettings = Field(default_factory=CodingSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    rules: RulesSettings = Field(default_factory=RulesSettings)
    justify: JustifySettings = Field(default_factory=JustifySettings)
    deid: DeidSettings = Field(default_factory=DeidSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)

    @property
    def reference_path(self) -> Path:
        """Directory of compiled reference data."""
        return self.reference_dir if self.reference_dir is not None else self.home / "reference"

    @property
    def database_url(self) -> str:
        """The storage URL (SQLite file under home unless configured)."""
        if self.backends.database_url:
            return self.backends.database_url
        return f"sqlite:///{(self.home / 'codeproof.db').resolve()}"


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if environ.get("CODEPROOF_HOME"):
        data["home"] = environ["CODEPROOF_HOME"]
    if environ.get("CODEPROOF_REFERENCE_DIR"):
        data["reference_dir"] = environ["CODEPROOF_REFERENCE_DIR"]
    for key, value in environ.items():
        if not key.startswith("CODEPROOF_") or "__" not in key:
            continue
        section, _, name = key[len("CODEPROOF_"):].lower().partition("__")
        data.setdefault(section, {})[name] = value
    return data


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(path: Path | str | None = None, *,
                  environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Load settings from ``path`` (or the default file) + environment + overrides."""
    env = dict(os.environ if environ is None else environ)
    if path is None:
        candidate = env.get("CODEPROOF_CONFIG") or "codeproof.toml"
        path = candidate if Path(candidate).exists() else None
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}", path=str(path)) from exc
    data = _merge(data, _env_overrides(env))
    data = _merge(data, overrides)
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc
