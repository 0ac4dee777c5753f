"""The OpenAPI document is a manual: every operation described, with examples, errors and auth.

No OpenAPI validator library is in the allowed dependencies, so the structural
rules of OpenAPI 3.1 that matter here are checked by walking the document.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI

from loadbay.api import create_app
from loadbay.apidocs.failed_codes import CODES
from loadbay.apidocs.operations import FORM_FIELDS

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
UPLOADS = ("/api/v3/data/import", "/api/v3/tasks/import", "/api/v3/import-jobs")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    schema: dict[str, Any] = create_app(run_migrations=False).openapi()
    return schema


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def has_example(answer: dict[str, Any]) -> bool:
    for media in answer.get("content", {}).values():
        if "example" in media or media.get("examples") or "example" in media.get("schema", {}):
            return True
    return False


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"$ref {ref} does not resolve"
        node = node[part]
    return node


def walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def test_the_document_has_the_shape_of_openapi_3_1(doc: dict[str, Any]) -> None:
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"]
    op_ids = [op["operationId"] for _m, _p, op in operations(doc)]
    assert len(op_ids) == len(set(op_ids)), "operationIds must be unique"
    for method, path, op in operations(doc):
        assert path.startswith("/")
        assert op["responses"], f"{method} {path} has no responses"
        for status, answer in op["responses"].items():
            assert re.fullmatch(r"[1-5](\d\d|XX)|default", status), (path, status)
            assert answer.get("description"), f"{method} {path} {status}: no description"
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"{([^}]+)}", path)), f"{method} {path}"
        for param in op.get("parameters", []):
            assert param["in"] in ("query", "header", "path", "cookie")
            assert "schema" in param or "content" in param, (path, param["name"])
    for node in walk(doc):
        if "$ref" in node:
            resolve(doc, node["$ref"])


def test_every_operation_is_described_with_examples_and_errors(doc: dict[str, Any]) -> None:
    """A route added without an entry in apidocs/operations.py fails here."""
    assert len(operations(doc)) >= 48
    for method, path, op in operations(doc):
        where = f"{method.upper()} {path}"
        assert op.get("summary") and op.get("description"), f"{where}: no summary/description"
        assert len(op["description"]) > 10, where
        success = [a for s, a in op["responses"].items() if s.startswith("2")]
        assert success and any(has_example(a) for a in success), f"{where}: no answer example"
        body = op.get("requestBody")
        if body is not None:
            assert any(
                "example" in m
                or "examples" in m
                or "example" in m.get("schema", {})
                or "properties" in m.get("schema", {})
                for m in body["content"].values()
            ), f"{where}: request body without example or fields"
        for param in op.get("parameters", []):
            assert param.get("description"), f"{where}: parameter {param['name']} undescribed"
        assert "HTTPValidationError" not in str(op), f"{where}: loadbay answers 400, not 422"
        errors = {s: a for s, a in op["responses"].items() if s[0] in "45"}
        assert "401" in errors, f"{where}: the 401 answer is not documented"
        for status, answer in errors.items():
            examples = answer["content"]["application/json"]["examples"]
            for code, example in examples.items():
                assert example["value"]["failedCode"] == code in CODES, (where, code)
                assert str(CODES[code][0]) == status, (where, code, status)


def test_bearer_auth_is_declared_so_try_it_out_sends_the_token(doc: dict[str, Any]) -> None:
    scheme = doc["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    assert doc["security"] == [{"bearerAuth": []}]
    for method, path, op in operations(doc):
        # Only public routes opt out; everything under /api/v3 needs the token.
        if path.startswith("/api/v3"):
            assert op.get("security", doc["security"]) == [{"bearerAuth": []}], (method, path)


def test_uploads_document_every_form_field(doc: dict[str, Any]) -> None:
    wave2 = {"sheet", "headerRow", "locale", "useMemory", "unmappedColumns"}
    for path in UPLOADS:
        form = doc["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]
        fields = form["schema"]["properties"]
        assert {"file", "importMode", "matchField", "hubId"} | wave2 <= set(fields), path
        assert fields["file"]["format"] == "binary"
        assert "file" in form["schema"]["required"]
        for name, spec in fields.items():
            assert spec == FORM_FIELDS[name] and spec["description"], (path, name)
    assert "dataTypeId" in doc["paths"]["/api/v3/data/import"]["post"]["requestBody"][
        "content"]["multipart/form-data"]["schema"]["properties"]  # fmt: skip
    tasks = doc["paths"]["/api/v3/tasks/import"]["post"]["requestBody"]
    assert "flowId" in tasks["content"]["multipart/form-data"]["schema"]["properties"]


def test_vendor_operations_keep_the_vendors_examples(doc: dict[str, Any]) -> None:
    monitoring = doc["paths"]["/api/v3/import-monitoring/{job_id}"]["get"]["responses"]["200"]
    assert has_example(monitoring)
    export = doc["paths"]["/api/v3/data/export"]["post"]
    names = {p["name"] for p in export["parameters"]}  # read by hand from the query string
    assert {"download", "background", "fields", "dataTypeId"} <= names
    assert "requestBody" in doc["paths"]["/api/v3/tasks/export"]["post"]


def test_docs_page_and_its_assets_are_served_without_network(
    app_client: Any,
) -> None:
    page = app_client.get("/docs")
    assert page.status_code == 200
    html = page.text
    assert "/docs/static/swagger-ui-bundle.js" in html and "/docs/static/swagger-ui.css" in html
    assert not re.search(r"(src|href)=\"https?://", html), "an asset from the network"
    js = app_client.get("/docs/static/swagger-ui-bundle.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert len(js.content) > 500_000  # the real bundle, not a placeholder
    css = app_client.get("/docs/static/swagger-ui.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert app_client.get("/redoc").status_code == 404  # FastAPI's CDN page is off
    schema = app_client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_try_it_out_with_the_documented_token_works(app_client: Any, auth: dict[str, str]) -> None:
    """What Swagger UI sends after Authorize: the bearer header the scheme declares."""
    assert app_client.get("/api/v3/hubs").status_code == 401
    assert app_client.get("/api/v3/hubs", headers=auth).status_code == 200


def test_a_route_without_docs_is_left_bare_and_caught() -> None:
    app: FastAPI = create_app(run_migrations=False)

    @app.get("/api/v3/undocumented")
    def undocumented() -> dict[str, str]:
        return {}

    op = app.openapi()["paths"]["/api/v3/undocumented"]["get"]
    assert "description" not in op  # so the completeness test above would fail on it
