"""Schemathesis fuzzes every operation of ``/openapi.json`` on each backend.

In-process over ASGI (Starlette's test client drives the real app with its middleware: request
guard, error handlers), which is faithful for what is checked here and several times faster than
a uvicorn server on loopback. Authenticated as the demo organization's owner, so ids and data
exist. Checks: no 5xx, the status code, content type and body are the documented ones, and every
4xx body has Missive's shape ``{"error": {"message": "..."}}``.

A third, hostile pass (``tests/fuzz/hostile.py``) replaces one value of a valid request by a lone
surrogate, a NUL, an integer past 64 bits, a far-future timestamp or a ``javascript:`` URL: the
request must not answer 5xx, nor may a later read (API and web page) of what it wrote.

The operations are split into ``SHARDS`` tests per backend (every fourth one, each test on a
freshly seeded database) so that pytest-xdist spreads them over its workers; one more test
checks that the shards together are every documented operation.

``MISSIVE_FUZZ_EXAMPLES`` (default 20) sets the examples per operation and mode (the hostile pass
runs half as many); the run is derandomized, so a CI failure reproduces locally with the same
number.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from missive_server.clock import FrozenClock
from missive_server.services.directory import tokens
from missive_server.services.seed import seed
from missive_server.services.seed.demo import DEMO_OWNER_TOKEN, demo_document
from missive_server.settings import Settings
from missive_server.web.session import COOKIE
from tests.conftest import bearer
from tests.fuzz import hostile

EXAMPLES = int(os.environ.get("MISSIVE_FUZZ_EXAMPLES", "20"))
HOSTILE_EXAMPLES = max(1, EXAMPLES // 2)

#: The operations are split into this many tests per backend, so that pytest-xdist runs the
#: ~70 s of fuzzing on every worker at once instead of in one test on one worker.
SHARDS = 4

#: Emulator routes that would reset or bend the state of the whole run.
EXCLUDED_PATHS = ("/_emulator/reset", "/_emulator/faults", "/_emulator/clock")

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def error_shape(body: Any) -> str | None:
    """Why ``body`` is not Missive's error shape, or None when it is."""
    if not isinstance(body, dict) or set(body) != {"error"}:
        return f"not an error envelope: {body!r}"
    error = body["error"]
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return f"error has no message: {body!r}"
    if not error["message"]:
        return "empty error message"
    return None


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings with the emulator's control plane mounted, to fuzz it too."""
    return settings.model_copy(update={"emulator": True})


@pytest.fixture
def fuzz_app(app: FastAPI, session: Session, clock: FrozenClock) -> FastAPI:
    seed.seed(session, demo_document(clock.now()), now=clock.now())
    session.commit()
    return app


@pytest.fixture
def reader(fuzz_app: FastAPI, session: Session) -> TestClient:
    """A client signed in to the web UI as the demo owner, for the hostile pass's later reads."""
    owner = tokens.authenticate(session, DEMO_OWNER_TOKEN)
    assert owner is not None
    client = TestClient(fuzz_app, raise_server_exceptions=False)
    client.cookies.set(COOKIE, fuzz_app.state.web_signer.dump(owner.user_id))
    return client


def _serves_html(operation: dict[str, Any]) -> bool:
    """Web UI pages (normally kept out of the schema) are not part of the JSON API."""
    return any("text/html" in r.get("content", {}) for r in operation["responses"].values())


def _operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith(EXCLUDED_PATHS) or _serves_html(operation.definition.raw):
            continue
        operations.append(operation)
    return operations


def _shard(operations: list[Any], shard: int) -> list[Any]:
    """Every SHARDS-th operation from ``shard`` on, in the schema's order."""
    return operations[shard::SHARDS]


def _fuzz(operation: Any, mode: GenerationMode, headers: dict[str, str]) -> int:
    seen = 0

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Case) -> None:
        nonlocal seen
        seen += 1
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)
        if 400 <= response.status_code < 500 and response.content:
            problem = error_shape(response.json())
            assert problem is None, f"{case.method} {case.formatted_path}: {problem}"

    try:
        run()
    except Unsatisfiable:
        # Negative mode of an operation whose only input is a free-form string path id: nothing
        # invalid can be generated for it.
        assert mode is GenerationMode.NEGATIVE
        assert seen == 0
    return seen


def _fuzz_hostile(operation: Any, client: TestClient, headers: dict[str, str]) -> int:
    seen = 0

    @hypothesis_settings(
        max_examples=HOSTILE_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE), data=st.data())
    def run(case: Case, data: st.DataObject) -> None:
        nonlocal seen
        body = None if isinstance(case.body, NotSet) else case.body
        made = hostile.hostile_request(data, body, case.query)
        if made is None:
            return
        seen += 1
        body, query, what = made
        path, method = case.formatted_path, case.method.upper()
        response = hostile.send(client, method, path, body, query, headers)
        assert response.status_code < 500, f"{method} {path} with {what}: {response.status_code}"
        if 200 <= response.status_code < 300 and method != "GET" and response.content:
            reads = hostile.later_reads(path, response.json())
            problems = hostile.read_problems(client, reads, headers)
            assert not problems, f"{method} {path} with {what}: {problems}"

    run()
    return seen


def test_every_documented_operation_is_fuzzed(fuzz_app: FastAPI) -> None:
    operations = _operations(fuzz_app)
    paths = {op.path for op in operations}
    spec = fuzz_app.openapi()
    expected = sum(
        len([m for m in item if m in {"get", "post", "put", "patch", "delete"}])
        for path, item in spec["paths"].items()
        if not path.startswith(EXCLUDED_PATHS)
        and not any(_serves_html(op) for op in item.values() if isinstance(op, dict))
    )
    assert len(operations) == expected
    assert len(operations) >= 50  # 52 when this was written: v1, /_files and /_emulator
    assert "/v1/conversations" in paths
    assert any(p.startswith("/_emulator/") for p in paths)
    shards = [_shard(operations, shard) for shard in range(SHARDS)]
    assert sorted(op.label for shard in shards for op in shard) == sorted(
        op.label for op in operations
    )


@pytest.mark.slow(20)
@pytest.mark.parametrize(
    "shard", range(SHARDS), ids=[f"shard{i + 1}of{SHARDS}" for i in range(SHARDS)]
)
def test_every_operation_survives_fuzzing(
    fuzz_app: FastAPI, reader: TestClient, shard: int
) -> None:
    operations = _shard(_operations(fuzz_app), shard)
    assert operations

    examples, hostile_examples, failures = 0, 0, []
    for operation in operations:
        try:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                examples += _fuzz(operation, mode, bearer(DEMO_OWNER_TOKEN))
            hostile_seen = _fuzz_hostile(operation, reader, bearer(DEMO_OWNER_TOKEN))
            examples += hostile_seen
            hostile_examples += hostile_seen
        except (
            Exception,
            BaseExceptionGroup,
        ) as error:  # every operation is fuzzed; all failures are reported
            failures.append(f"{operation.method.upper()} {operation.path}: {error}")
    assert not failures, "\n\n".join(failures)
    print(f"fuzzed {len(operations)} operations with {examples} examples")
    assert examples >= len(operations)
    # Most operations take a body or a query: the hostile pass must have had values to replace.
    assert hostile_examples >= len(operations)
