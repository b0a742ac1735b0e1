"""Data residency: every tenant lives in one region; data and model calls stay there.

``security.tenant_regions`` maps tenant -> region (``US``, ``EU``, any label);
``security.region_stores`` maps region -> database URL; and
``security.region_endpoints`` maps region -> allowed model endpoint base URLs.
A write to another region's store, or a model call to an endpoint not allowed
for the tenant's region, raises :class:`~codeproof.errors.RegionViolation`
(CP-SEC-004) and records a ``region.refused`` audit event.

Endpoints on the loopback interface (``localhost``, ``127.0.0.0/8``, ``::1``)
are always allowed: a model served on the same machine does not move data.
A URL is allowed when its scheme, host and port equal an allowed base's and
its path starts with the base's path, so ``https://eu.example.com.evil.io`` never
matches ``https://eu.example.com``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from codeproof.audit.events import RegionRefused, emit
from codeproof.errors import RegionViolation

if TYPE_CHECKING:
    from codeproof.config import Settings
    from codeproof.model import Encounter
    from codeproof.runtime import Runtime

__all__ = [
    "ResidencyPolicy",
    "ResidencyStage",
    "allowed_endpoint",
    "ensure_same_region",
    "is_loopback",
    "residency_stage",
]


def is_loopback(url: str) -> bool:
    """True when ``url`` points at this machine."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parts(url: str) -> tuple[str, str, int | None, str]:
    split = urlsplit(url.strip())
    try:
        port = split.port
    except ValueError:
        port = -1
    if port is None:
        port = {"https": 443, "http": 80}.get(split.scheme.lower())
    return (split.scheme.lower(), (split.hostname or "").lower(), port,
            split.path.rstrip("/"))


def allowed_endpoint(region: str, url: str, *,
                     endpoints: Mapping[str, Sequence[str]] | None = None) -> bool:
    """True when a model call from ``region`` to ``url`` stays in the region."""
    if is_loopback(url):
        return True
    scheme, host, port, path = _parts(url)
    if not host or split_has_userinfo(url):
        return False
    for base in (endpoints or {}).get(region, ()):
        b_scheme, b_host, b_port, b_path = _parts(base)
        if (scheme, host, port) == (b_scheme, b_host, b_port) and \
                (path == b_path or path.startswith(b_path + "/") or not b_path):
            return True
    return False


def split_has_userinfo(url: str) -> bool:
    """True when the URL carries ``user:password@`` (never sent, never logged)."""
    return "@" in (urlsplit(url).netloc or "")


def ensure_same_region(tenant_region: str, target_region: str, *, tenant: str,
                       operation: str, actor: str = "system", subject: str = "",
                       audit: Any | None = None, target: str = "") -> None:
    """Raise ``RegionViolation`` (and audit it) when the regions differ."""
    if tenant_region.upper() == target_region.upper():
        return
    if audit is not None:
        emit(audit, RegionRefused(tenant=tenant, actor=actor, subject=subject,
                                  operation=operation, tenant_region=tenant_region,
                                  target_region=target_region, target=target))
    raise RegionViolation(
        f"{operation} for tenant {tenant!r} (region {tenant_region}) would cross into "
        f"region {target_region}", tenant=tenant, operation=operation,
        tenant_region=tenant_region, target_region=target_region,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ResidencyPolicy:
    """The residency configuration, with the checks bound to it."""

    tenant_regions: Mapping[str, str]
    region_stores: Mapping[str, str] = field(default_factory=dict)
    region_endpoints: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> ResidencyPolicy:
        """Policy of ``settings.security``."""
        security = settings.security
        return cls(tenant_regions=dict(security.tenant_regions),
                   region_stores=dict(security.region_stores),
                   region_endpoints={k: tuple(v) for k, v in security.region_endpoints.items()})

    def region_of(self, tenant: str) -> str:
        """The tenant's region; ``RegionViolation`` when none is configured."""
        region = self.tenant_regions.get(tenant)
        if region is None:
            raise RegionViolation(f"tenant {tenant!r} has no configured region; refusing",
                                  tenant=tenant)
        return region.upper()

    def store_url(self, tenant: str, *, default: str | None = None) -> str | None:
        """Database URL of the tenant's region (``default`` when not configured)."""
        return self.region_stores.get(self.region_of(tenant), default)

    def ensure_write(self, *, tenant: str, target_region: str, operation: str = "write",
                     actor: str = "system", subject: str = "",
                     audit: Any | None = None) -> None:
        """Refuse a write of ``tenant``'s data into ``target_region``."""
        ensure_same_region(self.region_of(tenant), target_region, tenant=tenant,
                           operation=operation, actor=actor, subject=subject, audit=audit)

    def ensure_endpoint(self, *, tenant: str, url: str, actor: str = "system",
                        subject: str = "", audit: Any | None = None) -> None:
        """Refuse a model call to ``url`` not allowed in the tenant's region."""
        region = self.region_of(tenant)
        if allowed_endpoint(region, url, endpoints=self.region_endpoints):
            return
        host = urlsplit(url).hostname or "?"
        if audit is not None:
            emit(audit, RegionRefused(tenant=tenant, actor=actor, subject=subject,
                                      operation="model.call", tenant_region=region,
                                      target_region="unlisted", target=host))
        raise RegionViolation(
            f"model endpoint {host} is not allowed for tenant {tenant!r} in region "
            f"{region}", tenant=tenant, host=host, region=region,
        )


class ResidencyStage:
    """``security.residency.v1``: refuse an encounter whose data or model calls would
    leave the tenant's region, before any model sees it.

    Checks that the encounter's ``region`` is the tenant's configured region, and
    that a remote model endpoint configured for the justification writer
    (``justify.openai_base_url`` with ``writer.openai.v1`` or
    ``llm.openai_compat.v1``) is allowed in that region. A refusal raises
    ``RegionViolation`` and records ``region.refused`` in the audit log of
    ``settings`` (opened only when refusing). Place it first in ``pipeline.stages``.
    """

    name = "security.residency.v1"
    requires = frozenset({"tenant", "region"})
    assigns: frozenset[str] = frozenset()

    def __init__(self, policy: ResidencyPolicy, *, model_endpoint: str | None = None,
                 audit: Any | None = None, audit_factory: Any | None = None) -> None:
        self.policy = policy
        self.model_endpoint = model_endpoint
        self._audit = audit
        self._audit_factory = audit_factory

    def _sink(self) -> Any | None:
        if self._audit is None and self._audit_factory is not None:
            self._audit = self._audit_factory()
        return self._audit

    def __call__(self, encounter: Encounter, /) -> Encounter:
        """Return ``encounter`` unchanged, or raise ``RegionViolation``."""
        tenant = encounter.tenant
        try:
            region = self.policy.region_of(tenant)
            ensure_same_region(region, encounter.region, tenant=tenant,
                               operation="encounter.process", subject=encounter.id)
            if self.model_endpoint:
                self.policy.ensure_endpoint(tenant=tenant, url=self.model_endpoint,
                                            subject=encounter.id)
        except RegionViolation as exc:
            sink = self._sink()
            if sink is not None:
                emit(sink, RegionRefused(
                    tenant=tenant, actor="system", subject=encounter.id,
                    operation=str(exc.context.get("operation", "model.call")),
                    tenant_region=str(exc.context.get("tenant_region",
                                                       exc.context.get("region", "?"))),
                    target_region=str(exc.context.get("target_region", "unlisted")),
                    target=str(exc.context.get("host", ""))))
            raise
        return encounter


def residency_stage(runtime: Runtime) -> ResidencyStage:
    """Registry factory of ``security.residency.v1``."""
    settings = runtime.settings
    remote = settings.justify.writer == "writer.openai.v1" or \
        settings.backends.llm == "llm.openai_compat.v1"
    endpoint = settings.justify.openai_base_url if remote else None

    def audit_factory() -> Any:
        from codeproof.audit.log import open_audit_log

        return open_audit_log(settings)

    return ResidencyStage(ResidencyPolicy.from_settings(settings), model_endpoint=endpoint,
                          audit_factory=audit_factory)
