"""Every `failedCode` loadbay answers, with its HTTP status and what it means.

A test greps `src/` for codes and fails when one is missing here, so a new
error cannot ship undocumented. The list is rendered into the OpenAPI
document's description (the top of `/docs`).
"""

from __future__ import annotations

# The vendor's scheme: `{module}-{NNN}`; the number says what kind of failure.
KINDS: dict[str, str] = {
    "001": "a required field or parameter is missing",
    "002": "a value must be unique, or the file type is not accepted (import-002)",
    "003": "a value has the wrong format, or the request is malformed",
    "004": "the import monitoring record does not exist",
    "015": "the file (or body) cannot be read: wrong format or nested too deep",
    "017": "a value is not one of the allowed choices",
    "031": "a duplicate: the name or key is already taken",
    "032": "the object is in a state that does not allow this (confirmed, finished, expired)",
    "033": "not found (in this organisation)",
    "034": "unauthorised (no valid token)",
    "035": "forbidden",
    "036": "too many requests, or the service is shedding load: retry after `Retry-After`",
    "040": "a limit is exceeded (size, count, rows)",
    "041": "the upload was idle too long",
    "045": "a server-side failure (the request can be retried)",
}

# The module part is taken from the path (errors.module_of); any module may answer
# the generic HTTP codes (003, 033, 034, 035, 036, 040, 045) for its own paths.
MODULES = ("auth", "data", "datatype", "hub", "flow", "task", "import", "export", "file")
MODULES_EXTRA = ("webhook", "request", "server")

# (status, meaning) per code actually raised in src/ or named in DECISIONS.md.
CODES: dict[str, tuple[int, str]] = {
    "auth-001": (
        401,
        "No token, a malformed one, a bad signature, an expired token or an unknown organisation; `detail` says which.",
    ),
    "auth-003": (
        403,
        "The token is valid but lacks the permission (import, export, admin) this operation needs.",
    ),
    "data-001": (
        400,
        "A required field of the record is missing (`dataTypeId`, `hubId` when the type's `commonData` is false, `data`).",
    ),
    "data-003": (400, "A record field has the wrong shape (e.g. `data` is not a list)."),
    "data-031": (
        409,
        "Another record already has this `dataId` (per hub, or per organisation for `commonData` types).",
    ),
    "data-033": (404, "The record does not exist in this organisation."),
    "data-040": (400, "A bulk upsert has more items than allowed in one request."),
    "datatype-001": (400, "`name` or `fields` is missing from the data type."),
    "datatype-003": (
        400,
        "A data type field is malformed, or `deleteFields` names an unknown field.",
    ),
    "datatype-031": (409, "A data type with this name already exists."),
    "datatype-032": (
        400,
        "The change is not allowed: `commonData` or the primary-key field cannot change.",
    ),
    "datatype-033": (404, "The data type does not exist in this organisation."),
    "flow-003": (400, "A flow field is malformed (the message names it)."),
    "flow-031": (409, "A flow with this name already exists."),
    "flow-033": (404, "The flow does not exist in this organisation."),
    "hub-003": (400, "A hub field is malformed (the message names it)."),
    "hub-031": (409, "A hub with this name already exists."),
    "hub-033": (404, "The hub does not exist in this organisation."),
    "task-001": (400, "`flowId` is missing from the task."),
    "task-003": (
        400,
        "A task field has the wrong type or length, or `endTime` is before `startTime`.",
    ),
    "task-017": (400, "`status` is not UNASSIGNED, ONGOING or DONE."),
    "task-033": (404, "The task does not exist in this organisation."),
    "import-001": (
        400,
        "A required form field is missing (`file`, `dataTypeId`/`flowId`, `hubId`), or a required column is not in the file.",
    ),
    "import-002": (
        422,
        "The file is not of a type loadbay reads; `detail` names what was found and every accepted format.",
    ),
    "import-003": (
        400,
        "A form field or body value is malformed: `importMode`, `matchField`, `mapping`, a parameter value.",
    ),
    "import-004": (
        404,
        "The import monitoring record (or import job) does not exist in this organisation.",
    ),
    "import-015": (
        400,
        "The file cannot be read (broken, password-protected, nested too deep) or its content does not match its name.",
    ),
    "import-032": (409, "The import job is already confirmed, cancelled or finished."),
    "import-033": (404, "The data type, flow, hub or import config named does not exist."),
    "import-040": (
        413,
        "The upload (or one of its form parts) is larger than the limit, or the file has too many rows.",
    ),
    "import-041": (408, "The upload stalled: no bytes arrived for too long."),
    "export-001": (
        400,
        "A required parameter or field is missing (`download`, a config's `name`...).",
    ),
    "export-002": (400, "An export config with this name already exists."),
    "export-003": (400, "A parameter or body value is malformed."),
    "export-015": (400, "The body is nested deeper than the limit."),
    "export-017": (
        400,
        "A parameter is not one of the allowed values (`download`, `sortOrder`, `collection`, `status`...).",
    ),
    "export-033": (404, "The export config, data type, flow or hub named does not exist."),
    "export-036": (429, "Too many exports are running for this organisation: retry later."),
    "export-040": (400, "The export asks for more records or pages than allowed."),
    "export-045": (500, "The export failed on the server; `error.message` says why."),
    "file-032": (410, "The signed download link has expired: ask the API for a fresh one."),
    "file-033": (404, "The file behind the link no longer exists (files are kept 30 days)."),
    "file-035": (403, "The download link's signature is invalid."),
    "webhook-001": (400, "`url` or `events` is missing from the webhook endpoint."),
    "webhook-003": (400, "The webhook endpoint's `url` or another field is malformed."),
    "webhook-017": (
        400,
        "An event name or a delivery `status` filter is not one of the allowed values.",
    ),
    "webhook-033": (404, "The webhook endpoint does not exist in this organisation."),
    "organization-003": (400, "An organisation setting has a bad value (the message names it)."),
    "request-003": (400, "The `Idempotency-Key` header is malformed (1-255 visible characters)."),
    "request-031": (409, "The `Idempotency-Key` was already used with a different body."),
    "server-036": (
        503,
        "The service is busy (shedding load): retry after the `Retry-After` seconds.",
    ),
    "server-045": (507, "Storage is full: the upload was not kept; try again later."),
}


def markdown() -> str:
    """The code list as Markdown, for the document's description."""
    lines = [
        "## Error codes",
        "",
        'Every error answers `{"status": false, "message": ..., "failedCode": ...}`; some add '
        "`detail` (which case it was) or `error` (what failed).",
        "",
        "| failedCode | HTTP | meaning |",
        "|---|---|---|",
    ]
    lines += [f"| `{code}` | {status} | {meaning} |" for code, (status, meaning) in CODES.items()]
    lines += [
        "",
        "Besides these, any module (`" + "`, `".join(MODULES + MODULES_EXTRA) + "`) may answer "
        "the generic codes for its own paths:",
        "",
        "| suffix | meaning |",
        "|---|---|",
    ]
    lines += [f"| `-{suffix}` | {meaning} |" for suffix, meaning in KINDS.items()]
    return "\n".join(lines)
