"""Property-based API testing with schemathesis against the app's own OpenAPI schema,
in-process (ASGI), with a bounded number of examples per operation: no 5xx, responses that
conform to the schema, and no accepted request the schema says is invalid.

The operations are driven by hand (hypothesis over each operation's strategy) rather than by
schemathesis' pytest plugin, which does not run under pytest 9."""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from faceledger.web.deps import get_selfie_search

EXAMPLES = 15
# Valid data for these depends on secrets the server issued (signed tokens, receipts, a real
# photo, an existing request): a schema-valid but made-up value is rightly refused with 4xx.
SERVER_ISSUED = (
    "/api/v1/requests",
    "/api/v1/claims",
    "/api/v1/verify/check",
    "/api/v1/selfie",
    "/api/v1/thumbnails",
    "/api/v1/console/requests/",
    "/api/v1/console/consents/import",
    "/api/v1/console/exposure",
)


def test_the_api_keeps_its_contract(app: Any, admin_token: str) -> None:
    app.dependency_overrides[get_selfie_search] = lambda: lambda image: []  # no model needed here
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        excluded = (
            [checks.positive_data_acceptance] if operation.path.startswith(SERVER_ISSUED) else []
        )
        headers = (
            {"Authorization": f"Bearer {admin_token}"}
            if operation.path.startswith("/api/v1/console")
            else {}
        )
        _explore(operation, headers, excluded)


def _explore(operation: Any, headers: dict[str, str], excluded: list[Any]) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
              database=None)  # fmt: skip
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, excluded_checks=excluded)

    check()
