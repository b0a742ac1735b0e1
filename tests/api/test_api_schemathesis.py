"""Property-based fuzzing of the published OpenAPI spec: no operation ever answers 5xx.

Schemathesis generates requests for every operation of ``/openapi.json`` (valid and
invalid parameters and bodies) and sends them, authenticated as a coder, to the
ASGI app. Small and fast on purpose: a few examples per operation. Error responses
must also be in the error-envelope shape.
"""

from __future__ import annotations

from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

pytestmark = pytest.mark.issue(8)


def test_no_server_errors(api_factory: Any) -> None:
    api = api_factory()
    api.submit("Pneumonia and possible sepsis.", encounter_id="enc-1")
    token = api.tokens["coder"]
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 18
    seen: list[tuple[str, str, int]] = []

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=4, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            seen.append((case.method, case.path, response.status_code))
            assert response.status_code < 500, (case.method, case.formatted_path,
                                                response.text[:300])
            if response.status_code >= 400 and "json" in str(
                    response.headers.get("content-type", "")):
                body = response.json()
                assert body["ok"] is False and str(body["code"]).startswith("CP-")

        fuzz()
    assert len({(m, p) for m, p, _ in seen}) == len(operations)
    assert any(status < 300 for _, _, status in seen)
    assert any(400 <= status < 500 for _, _, status in seen)
