"""Tenant regions: stores and model endpoints stay in the region; refusals are audited."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeproof.audit.log import AuditLog
from codeproof.config import load_settings
from codeproof.errors import RegionViolation
from codeproof.security.residency import (
    ResidencyPolicy,
    allowed_endpoint,
    ensure_same_region,
    is_loopback,
)

pytestmark = pytest.mark.issue(7)

ENDPOINTS = {
    "EU": ["https://eu.llm.example.com/v1", "https://westeurope.openai.azure.com"],
    "US": ["https://us.llm.example.com:8443/v1"],
}


@pytest.mark.parametrize(
    ("region", "url", "ok"),
    [
        ("EU", "https://eu.llm.example.com/v1/chat/completions", True),  # positive
        ("EU", "https://EU.llm.example.com/v1", True),  # host is case-insensitive
        ("EU", "https://westeurope.openai.azure.com:443/openai/deployments/x", True),
        ("US", "https://us.llm.example.com:8443/v1/", True),  # trailing slash
        ("US", "http://127.0.0.1:8080/v1", True),  # loopback model server
        ("EU", "http://localhost:11434/api", True),
        ("EU", "http://[::1]:8000/v1", True),
        ("EU", "https://eu.llm.example.com/v10", False),  # borderline: path prefix only
        ("EU", "https://eu.llm.example.com:8443/v1", False),  # other port
        ("EU", "http://eu.llm.example.com/v1", False),  # other scheme
        ("EU", "https://eu.llm.example.com.evil.io/v1", False),  # suffix trick
        ("EU", "https://user:pw@eu.llm.example.com/v1", False),  # credentials in URL
        ("US", "https://eu.llm.example.com/v1", False),  # another region's endpoint
        ("APAC", "https://eu.llm.example.com/v1", False),  # region without endpoints
        ("EU", "not a url", False),
    ],
)
def test_allowed_endpoint(region: str, url: str, ok: bool) -> None:
    assert allowed_endpoint(region, url, endpoints=ENDPOINTS) is ok


def test_is_loopback() -> None:
    assert is_loopback("http://127.0.0.5/x") and not is_loopback("http://10.0.0.1/x")


def _policy(tmp_path: Path) -> ResidencyPolicy:
    settings = load_settings(environ={}, home=str(tmp_path), security={
        "tenant_regions": {"acme": "US", "bergen": "eu"},
        "region_stores": {"US": "sqlite:///us.db", "EU": "sqlite:///eu.db"},
        "region_endpoints": ENDPOINTS,
    })
    return ResidencyPolicy.from_settings(settings)


def test_policy_from_settings(tmp_path: Path) -> None:
    policy = _policy(tmp_path)
    assert policy.region_of("bergen") == "EU"
    assert policy.store_url("bergen") == "sqlite:///eu.db"
    with pytest.raises(RegionViolation):
        policy.region_of("unknown-tenant")


@pytest.mark.parametrize(
    ("tenant", "target", "ok"),
    [("acme", "US", True), ("bergen", "eu", True), ("bergen", "US", False),
     ("acme", "EU", False)],
)
def test_cross_region_write_refused(tmp_path: Path, audit_log: AuditLog, tenant: str,
                                    target: str, ok: bool) -> None:
    policy = _policy(tmp_path)
    if ok:
        policy.ensure_write(tenant=tenant, target_region=target, audit=audit_log)
        assert list(audit_log.iter_events()) == []
        return
    with pytest.raises(RegionViolation) as info:
        policy.ensure_write(tenant=tenant, target_region=target, operation="encounter.store",
                            actor="u1", subject="enc-1", audit=audit_log)
    assert info.value.code == "CP-SEC-004"
    (event,) = audit_log.iter_events()
    assert event.name == "region.refused"
    assert event.properties["operation"] == "encounter.store"
    assert event.properties["target_region"] == target


def test_cross_region_model_call_refused(tmp_path: Path, audit_log: AuditLog) -> None:
    policy = _policy(tmp_path)
    policy.ensure_endpoint(tenant="bergen", url="https://eu.llm.example.com/v1/chat",
                           audit=audit_log)
    with pytest.raises(RegionViolation):
        policy.ensure_endpoint(tenant="bergen",
                               url="https://key:secret@us.llm.example.com:8443/v1",
                               audit=audit_log)
    (event,) = audit_log.iter_events()
    assert event.properties["target"] == "us.llm.example.com"
    assert "secret" not in str(event.to_dict())
    assert audit_log.verify().ok


def test_module_level_check() -> None:
    ensure_same_region("EU", "eu", tenant="t", operation="write")
    with pytest.raises(RegionViolation):
        ensure_same_region("EU", "US", tenant="t", operation="write")


def _encounter(tenant: str, region: str):  # type: ignore[no-untyped-def]
    from codeproof.model import Encounter, Note, SourceRef

    return Encounter(id="enc-1", tenant=tenant, region=region,
                     source=SourceRef(format="text", sha256="0" * 64,
                                      received_at="2026-01-01T00:00:00Z"),
                     notes=(Note(id="n1", text="synthetic"),))


@pytest.mark.parametrize(
    ("tenant", "region", "endpoint", "ok"),
    [
        ("bergen", "EU", None, True),
        ("bergen", "EU", "https://eu.llm.example.com/v1", True),
        ("bergen", "EU", "http://127.0.0.1:8080/v1", True),
        ("bergen", "US", None, False),  # encounter labelled for another region
        ("bergen", "EU", "https://us.llm.example.com:8443/v1", False),  # model abroad
        ("nobody", "US", None, False),  # tenant without a region
    ],
)
def test_residency_stage(tmp_path: Path, audit_log: AuditLog, tenant: str, region: str,
                         endpoint: str | None, ok: bool) -> None:
    from codeproof.pipeline import Pipeline
    from codeproof.security.residency import ResidencyStage

    stage = ResidencyStage(_policy(tmp_path), model_endpoint=endpoint, audit=audit_log)
    pipeline = Pipeline([stage])
    encounter = _encounter(tenant, region)
    if ok:
        assert pipeline.run(encounter).id == "enc-1"
        assert list(audit_log.iter_events()) == []
        return
    with pytest.raises(RegionViolation):
        pipeline.run(encounter)
    (event,) = audit_log.iter_events()
    assert event.name == "region.refused" and event.subject == "enc-1"


def test_residency_stage_factory(tmp_path: Path) -> None:
    from codeproof.registrations import get_registry
    from codeproof.runtime import Runtime

    settings = load_settings(environ={}, home=str(tmp_path / "home"), security={
        "tenant_regions": {"default": "EU"}, "region_endpoints": ENDPOINTS},
        justify={"writer": "writer.openai.v1",
                 "openai_base_url": "https://api.us-only.example.com/v1"})
    stage = get_registry("stages").get("security.residency.v1")(Runtime(settings))
    with pytest.raises(RegionViolation):
        stage(_encounter("default", "EU"))
    # the refusal went to the configured audit log (opened on demand)
    from codeproof.audit.log import open_audit_log

    events = list(open_audit_log(settings).iter_events(name="region.refused"))
    assert len(events) == 1 and events[0].properties["target"] == "api.us-only.example.com"
