"""Turn FastAPI's generated schema into the manual: texts, forms, examples, errors, auth."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from loadbay.apidocs.failed_codes import CODES, markdown
from loadbay.apidocs.operations import API, COMMON_PARAMS, FORM_FIELDS, Op, operation

PUBLIC = frozenset({"/healthz", "/metrics"})
ERROR_SCHEMA = "ErrorEnvelope"

INTRO = """Bulk import and export of field-operations data, wire-compatible with the
MileApp v3 ImportExport API.

**Authentication.** Every `/api/v3` operation takes `Authorization: Bearer <token>`.
Get a token with `loadbay token --org ORG --email EMAIL` (or `loadbay login` for the
CLI), press **Authorize** above, paste it, and "Try it out" sends it.

**Answers.** Success: `{"status": true, "message": ..., "data": ...}`; lists are
Laravel paginators (`current_page`, `data`, `per_page`, `total`...). Errors: the
envelope below with an HTTP status and a `failedCode`. Fields without a value in a
state are left out, never null.
"""


@cache
def _load(name: str) -> dict[str, Any]:
    text = resources.files("loadbay.apidocs").joinpath(name).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _error_response(codes: list[str]) -> dict[str, Any]:
    examples = {
        code: {
            "summary": CODES[code][1] if code in CODES else code,
            "value": {"status": False, "message": _message(code), "failedCode": code},
        }
        for code in codes
    }
    return {
        "description": ", ".join(f"`{c}`" for c in codes),
        "content": {
            "application/json": {
                "schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"},
                "examples": examples,
            }
        },
    }


def _message(code: str) -> str:
    if code == "auth-001":
        return "Unauthorized"
    if code == "import-002":
        return "The file must be a file of type: csv, xls, xlsx."
    meaning = CODES.get(code, (0, "Error"))[1]
    return meaning.split(";")[0].split(":")[0].rstrip(".")


def _errors(op: Op) -> dict[str, dict[str, Any]]:
    by_status: dict[str, list[str]] = {}
    for code in ("auth-001", *op.errors):
        status = str(CODES[code][0]) if code in CODES else "400"
        by_status.setdefault(status, []).append(code)
    return {status: _error_response(codes) for status, codes in sorted(by_status.items())}


def _form_body(fields: tuple[str, ...]) -> dict[str, Any]:
    targets = [f for f in ("dataTypeId", "flowId") if f in fields]
    # With both on offer (the import-job upload) one of the two is needed: said in words.
    required = ["file", *targets] if len(targets) == 1 else ["file"]
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {name: FORM_FIELDS[name] for name in fields},
                    "required": required,
                },
                "encoding": {"file": {"contentType": "application/octet-stream"}},
            }
        },
    }


def _success(op_doc: dict[str, Any], key: str, vendor: dict[str, Any] | None) -> None:
    responses: dict[str, Any] = op_doc.setdefault("responses", {})
    if vendor is not None:  # the vendor's own answers, with its examples
        for status, answer in vendor.get("responses", {}).items():
            if status.startswith("2"):
                responses.pop("200", None)
                responses.pop("201", None)
                responses[status] = answer
        return
    captured = _load("examples.json").get(key)
    if captured is None:
        return
    status = str(captured["status"])
    for code in [s for s in responses if s.startswith("2") and s != status]:
        responses.pop(code)
    answer = responses.setdefault(status, {"description": "Success"})
    if answer.get("description") == "Successful Response":
        answer["description"] = "Success"
    content = answer.setdefault("content", {}).setdefault("application/json", {})
    if content.get("schema") == {}:  # FastAPI's "anything": the example says more
        del content["schema"]
    content["example"] = captured["body"]


def _parameters(op_doc: dict[str, Any], op: Op, vendor: dict[str, Any] | None) -> None:
    vendor_params = {p["name"]: p for p in (vendor or {}).get("parameters", [])}
    params: list[dict[str, Any]] = op_doc.setdefault("parameters", [])
    seen = {p["name"] for p in params}
    for param in params:
        name = param["name"]
        if name in op.params:
            param["description"] = op.params[name]
        elif name in vendor_params and vendor_params[name].get("description"):
            param["description"] = vendor_params[name]["description"]
            if "example" in vendor_params[name]:
                param["example"] = vendor_params[name]["example"]
        elif name in COMMON_PARAMS:
            param["description"] = COMMON_PARAMS[name]
    # Parameters read by hand from the query string (e.g. POST /data/export).
    params.extend(p for name, p in vendor_params.items() if name not in seen)


def _operation(path: str, method: str, op_doc: dict[str, Any]) -> None:
    op = operation(method, path)
    if op is None:
        return  # left bare: the completeness test names it
    key = f"{method.upper()} {path}"
    vendor = _load("vendor.json").get(key)
    op_doc["summary"] = op.summary
    op_doc["description"] = op.description
    if op.tag:
        op_doc["tags"] = [op.tag]
    _parameters(op_doc, op, vendor)
    if not op_doc["parameters"]:
        del op_doc["parameters"]
    if op.form:
        op_doc["requestBody"] = _form_body(op.form)
    elif vendor is not None and "requestBody" in vendor:
        op_doc["requestBody"] = vendor["requestBody"]
    elif op.body is not None:
        body = op_doc.setdefault("requestBody", {"required": True, "content": {}})
        content = body["content"].setdefault("application/json", {})
        content["schema"] = {"type": "object"}
        content["example"] = op.body
    responses = op_doc.setdefault("responses", {})
    responses.pop("422", None)  # FastAPI's; loadbay answers a malformed request with 400
    _success(op_doc, key, vendor)
    for status, answer in _errors(op).items():
        responses[status] = answer


def enrich(schema: dict[str, Any]) -> dict[str, Any]:
    """Merge the manual into FastAPI's schema (in place) and return it."""
    schema["info"]["description"] = INTRO + "\n" + markdown()
    components = schema.setdefault("components", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.get("schemas", {}).pop(name, None)
    components.setdefault("schemas", {})[ERROR_SCHEMA] = {
        "type": "object",
        "required": ["status", "message", "failedCode"],
        "properties": {
            "status": {"type": "boolean", "const": False},
            "message": {"type": "string", "description": "What went wrong, for a person."},
            "failedCode": {"type": "string", "description": "`{module}-{NNN}`: see Error codes."},
            "detail": {"type": "string", "description": "Which case it was, when it helps."},
        },
    }
    components["securitySchemes"] = {
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A token from `loadbay token` (or the console).",
        }
    }
    schema["security"] = [{"bearerAuth": []}]
    for path, item in schema.get("paths", {}).items():
        for method, op_doc in item.items():
            if path in PUBLIC or not path.startswith(API):
                op_doc["security"] = []
            _operation(path, method, op_doc)
    return schema
