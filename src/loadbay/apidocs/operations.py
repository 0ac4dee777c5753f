"""What each operation is for, keyed by (method, path): the manual's text.

Kept apart from the route modules so the routes stay short and the docs can be
read (and reviewed) in one place. A test fails when a route has no entry here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

API = "/api/v3"


@dataclass(frozen=True)
class Op:
    summary: str
    description: str
    errors: tuple[str, ...] = ()  # failedCodes besides auth-001 (every secured route)
    form: tuple[str, ...] = ()  # multipart form fields, for uploads parsed by hand
    params: dict[str, str] = field(default_factory=dict)  # descriptions of path/query params
    body: object = None  # a request body example (JSON)
    tag: str = ""


# Descriptions of parameters that mean the same everywhere.
COMMON_PARAMS = {
    "page": "Page number, from 1.",
    "limit": "Items per page (default 10; at most 100 on most lists).",
    "search": "Only items whose name contains this text (case-insensitive).",
    "sortOrder": "`asc` or `desc`.",
    "sortBy": "The field to sort by.",
    "hub_id": "The hub's `_id`.",
    "flow_id": "The flow's `_id`.",
    "data_type_id": "The data type's `_id`.",
    "record_id": "The record's `_id`.",
    "task_id": "The task's `_id`.",
    "job_id": "The import monitoring record's `_id` (the same id as the import job's `code`).",
    "code": "The import job's `code` (the same id as the monitoring record's `_id`).",
    "config_id": "The config's `_id`.",
    "endpoint_id": "The webhook endpoint's `_id`.",
    "dataTypeId": "Only items of this data type (`_id`).",
    "flowId": "Only items of this flow (`_id`).",
    "hubId": "Only items of this hub (`_id`).",
}

# Multipart form fields of the uploads (parsed by hand, so FastAPI cannot see them).
FORM_FIELDS: dict[str, dict[str, object]] = {
    "file": {
        "type": "string",
        "format": "binary",
        "description": "The file: CSV, TSV, XLSX, XLS, JSON or NDJSON. The type is decided by "
        "content as well as name. Size limit: `LOADBAY_MAX_UPLOAD_BYTES` (413 `import-040`).",
    },
    "dataTypeId": {
        "type": "string",
        "description": "The data type to import records into (`GET /data-types`). "
        "Example: `63db2fb476bc679c540369c4`.",
    },
    "hubId": {
        "type": "string",
        "description": "The hub; required when the data type's `commonData` is false. "
        "Example: `63c63ab1b6972d3150348172`.",
    },
    "flowId": {
        "type": "string",
        "description": "The flow to import tasks into (`GET /flows`).",
    },
    "importMode": {
        "type": "string",
        "enum": ["CreateOnly", "UpdateOnly", "CreateAndUpdate"],
        "default": "CreateAndUpdate",
        "description": "CreateOnly skips rows whose match exists; UpdateOnly skips rows "
        "without one; CreateAndUpdate does both.",
    },
    "matchField": {
        "type": "string",
        "description": "The field that finds an existing record or task (default: the "
        "data type's primary key `dataId`).",
    },
    "importConfigId": {
        "type": "string",
        "description": "A saved column mapping (`GET /import-configs`) to apply.",
    },
    "hasHeaderRow": {
        "type": "boolean",
        "default": True,
        "description": "Whether the first row holds column names.",
    },
    "sheet": {
        "type": "string",
        "description": "For workbooks: the sheet's name, or its 0-based index. Default: the first.",
    },
    "headerRow": {
        "type": "integer",
        "minimum": 1,
        "description": "The 1-based row holding the column names (rows above it are ignored).",
    },
    "locale": {
        "type": "string",
        "description": "BCP 47 locale for numbers and dates, e.g. `id-ID` "
        "(vendor endpoints apply it only when given).",
    },
    "useMemory": {
        "type": "boolean",
        "description": "Apply the organisation's remembered column mappings "
        "(vendor endpoints: only when `true`).",
    },
    "unmappedColumns": {
        "type": "string",
        "enum": ["ignore", "error"],
        "description": "A column that maps to no field: `ignore` (listed in "
        "`ignoredColumns`; default on the vendor endpoints) or `error`.",
    },
    "showPreview": {
        "type": "boolean",
        "default": True,
        "description": "Answer the preview (headers, first rows, suggested mapping) and wait "
        "for a confirm; `false` queues the import at once.",
    },
}

WAVE2_FORM = ("sheet", "headerRow", "locale", "useMemory", "unmappedColumns")
UPLOAD_ERRORS = ("import-001", "import-002", "import-003", "import-015", "import-033",
                 "import-040", "import-041", "server-045")  # fmt: skip

_MAPPING = [
    {"id": "dataId", "headerColumn": "Outlet Code"},
    {"id": "name", "headerColumn": "Name"},
]
_DATA_TYPE = {
    "name": "Outlet",
    "commonData": False,
    "fields": [
        {"id": "dataId", "title": "Outlet Code", "type": "string", "primaryKey": True},
        {"id": "name", "title": "Name", "type": "string", "required": True},
    ],
}
_WEBHOOK = {
    "url": "https://example.com/hooks/loadbay",
    "events": ["import.completed", "import.failed"],
    "description": "ops alerts",
}

OPERATIONS: dict[tuple[str, str], Op] = {
    # ---- catalog --------------------------------------------------------------------------
    ("POST", "/hub"): Op(
        "Create a hub",
        "A hub is a site (warehouse, branch) that records and tasks belong to. Keys other "
        "than `name` are kept as the hub's own fields.",
        ("hub-003", "hub-031", "auth-003"),
        body={"name": "Jakarta"},
        tag="Catalog",
    ),
    ("GET", "/hubs"): Op(
        "List hubs", "The organisation's hubs, newest first, paginated.", tag="Catalog"
    ),
    ("GET", "/hub/{hub_id}"): Op("Get a hub", "One hub by `_id`.", ("hub-033",), tag="Catalog"),
    ("POST", "/flow"): Op(
        "Create a flow",
        "A flow is a kind of task with its own fields (as a data type has). Tasks are "
        "imported into a flow with `POST /tasks/import`.",
        ("flow-003", "flow-031", "auth-003"),
        body={
            "name": "Delivery",
            "fields": [
                {"id": "orderNumber", "title": "Order Number", "type": "string", "required": True}
            ],
        },
        tag="Catalog",
    ),
    ("GET", "/flows"): Op("List flows", "The organisation's flows, paginated.", tag="Catalog"),
    ("GET", "/flow/{flow_id}"): Op(
        "Get a flow", "One flow by `_id`.", ("flow-033",), tag="Catalog"
    ),
    ("POST", "/data-type"): Op(
        "Create a data type",
        "A data type describes records: its `fields` (id, title, type, required, options) and "
        "one primary-key field (`dataId`). `commonData: false` makes `dataId` unique per hub, "
        "`true` per organisation.",
        ("datatype-001", "datatype-003", "datatype-031", "auth-003"),
        body=_DATA_TYPE,
        tag="Catalog",
    ),
    ("GET", "/data-types"): Op(
        "List data types",
        "The organisation's data types, paginated (under `data_types`, as the vendor answers).",
        tag="Catalog",
    ),
    ("GET", "/data-type/{data_type_id}"): Op(
        "Get a data type", "One data type with its fields.", ("datatype-033",), tag="Catalog"
    ),
    ("PUT", "/data-type/{data_type_id}"): Op(
        "Replace a data type",
        "Replaces name, description and fields. `commonData` and the primary-key field cannot "
        "change (400 `datatype-032`).",
        (
            "datatype-001",
            "datatype-003",
            "datatype-031",
            "datatype-032",
            "datatype-033",
            "auth-003",
        ),
        body=_DATA_TYPE,
        tag="Catalog",
    ),
    ("PATCH", "/data-type/{data_type_id}"): Op(
        "Change a data type",
        "Changes only the keys given; `fields` adds or replaces fields by id, `deleteFields` "
        "removes them (never the primary key).",
        ("datatype-003", "datatype-031", "datatype-032", "datatype-033", "auth-003"),
        body={"description": "Shops we visit", "deleteFields": ["fax"]},
        tag="Catalog",
    ),
    ("DELETE", "/data-type/{data_type_id}"): Op(
        "Delete a data type",
        "Deletes the data type and answers it as it was.",
        ("datatype-033", "auth-003"),
        tag="Catalog",
    ),
    ("POST", "/data"): Op(
        "Create a record",
        "One record of a data type: `dataTypeId`, `hubId` (unless `commonData`), and the "
        "type's fields as top-level keys. Values are converted by field type.",
        ("data-001", "data-003", "data-031", "datatype-033", "hub-033"),
        body={
            "dataTypeId": "6b1307f6e68ec35c74296138",
            "hubId": "6b1307f6e68ec35c74296136",
            "dataId": "OUT-001",
            "name": "Toko Maju",
        },
        tag="Catalog",
    ),
    ("GET", "/data"): Op(
        "List records",
        "Records of the organisation, filtered by data type, hub or `dataId`.",
        params={"dataId": "Only the record with this primary key."},
        tag="Catalog",
    ),
    ("POST", "/data/bulk/upsert"): Op(
        "Create or update records in bulk",
        "Each item is created, or updated when its `dataId` exists. Answers one outcome per "
        "item (`success`/`failed` counts); one bad item does not stop the others.",
        ("data-001", "data-003", "data-040", "datatype-033", "hub-033"),
        body={
            "dataTypeId": "6b1307f6e68ec35c74296138",
            "hubId": "6b1307f6e68ec35c74296136",
            "data": [{"dataId": "OUT-002", "name": "Toko Jaya"}],
        },
        tag="Catalog",
    ),
    ("GET", "/data/{record_id}"): Op(
        "Get a record", "One record by `_id`.", ("data-033",), tag="Catalog"
    ),
    ("POST", "/task"): Op(
        "Create a task",
        "One task of a flow: `flowId`, `hubId`, optional `status` (UNASSIGNED|ONGOING|DONE), "
        "`assignee`, `startTime`, `endTime`, and the flow's fields as top-level keys.",
        ("task-001", "task-003", "task-017", "flow-033", "hub-033"),
        body={
            "flowId": "6b1307f6e68ec35c74296137",
            "hubId": "6b1307f6e68ec35c74296136",
            "orderNumber": "SO-1001",
            "weight": 2.5,
        },
        tag="Catalog",
    ),
    ("GET", "/tasks"): Op(
        "List tasks",
        "Tasks filtered by flow, hub, status or assignee.",
        ("task-017",),
        params={
            "status": "UNASSIGNED, ONGOING or DONE.",
            "assignee": "Only tasks assigned to this email.",
        },
        tag="Catalog",
    ),
    ("GET", "/task/{task_id}"): Op(
        "Get a task", "One task by `_id`.", ("task-033",), tag="Catalog"
    ),
    # ---- imports --------------------------------------------------------------------------
    ("POST", "/data/import"): Op(
        "Import records from a file",
        "Uploads a file and queues its import into a data type; answers at once with the "
        "monitoring record in `onprocess`. Poll `GET /import-monitoring/{id}` (every 3-5 s) or "
        "register a webhook for `import.completed`. Columns that map to no field are ignored "
        "and listed in `ignoredColumns`; `locale` and remembered mappings apply only when asked "
        "(`locale`, `useMemory=true`).",
        (*UPLOAD_ERRORS, "auth-003"),
        form=(
            "file",
            "dataTypeId",
            "hubId",
            "importMode",
            "matchField",
            "importConfigId",
            "hasHeaderRow",
            *WAVE2_FORM,
        ),
        tag="Import",
    ),
    ("POST", "/tasks/import"): Op(
        "Import tasks from a file",
        "As `POST /data/import`, for the tasks of a flow (`flowId`). Columns named `status`, "
        "`assignee`, `startTime`, `endTime` fill the task's own fields.",
        (*UPLOAD_ERRORS, "auth-003"),
        form=(
            "file",
            "flowId",
            "hubId",
            "importMode",
            "matchField",
            "importConfigId",
            "hasHeaderRow",
            *WAVE2_FORM,
        ),
        tag="Import",
    ),
    ("GET", "/import-template"): Op(
        "Download an import template",
        "A signed, time-limited link to an XLSX whose headers are the data type's (or flow's) "
        "fields, required ones marked, with a sheet describing each field. Give exactly one of "
        "`dataTypeId` or `flowId`.",
        ("import-001", "import-033"),
        params={"dataTypeId": "The data type (`_id`).", "flowId": "The flow (`_id`)."},
        tag="Import",
    ),
    ("GET", "/import-monitoring"): Op(
        "List import monitoring records",
        "The organisation's imports, newest first. While a job runs its record adds "
        "`rowsPerSecond` and `etaSeconds`; finished, it adds `processedAt` and "
        "`processingDuration`. Fields without a value are left out, never null.",
        ("import-003",),
        tag="Import",
    ),
    ("GET", "/import-monitoring/{job_id}"): Op(
        "Get an import monitoring record",
        "One import's progress and outcome. `fileFailedImported` links to the rows not "
        "imported with their reasons, in the upload's format; `failedRowsXlsxUrl` to the "
        "same rows as XLSX with each bad cell highlighted. While running: `rowsPerSecond` "
        "(the average since processing started) and `etaSeconds` (rows left at that rate).",
        ("import-004",),
        tag="Import",
    ),
    ("POST", "/import-jobs"): Op(
        "Upload a file for preview",
        "Starts the preview-then-confirm flow: answers the job `code`, the file's headers, "
        "total rows, the first rows and a suggested mapping. Nothing is imported until "
        "`PUT /import-jobs/{code}`. With `showPreview=false` the import is queued at once and "
        "the job view is answered.",
        (*UPLOAD_ERRORS, "auth-003"),
        form=(
            "file",
            "dataTypeId",
            "flowId",
            "hubId",
            "importMode",
            "matchField",
            "importConfigId",
            "hasHeaderRow",
            "showPreview",
            *WAVE2_FORM,
        ),
        tag="Import jobs",
    ),
    ("PUT", "/import-jobs/{code}"): Op(
        "Confirm an import job",
        "Confirms the mapping (inline, or `importConfigId`), `importMode` and `matchField`, "
        "and starts the import. Waits up to 10 s: 201 with the finished job view, or 202 "
        "while it still runs (then poll `GET /import-jobs/{code}`).",
        ("import-003", "import-004", "import-032", "import-033"),
        body={"importMode": "CreateAndUpdate", "matchField": "dataId", "mapping": _MAPPING},
        tag="Import jobs",
    ),
    ("GET", "/import-jobs/{code}"): Op(
        "Get an import job",
        "The job view (`CsvImportJobDto`): status Queued|InProgress|Completed|Failed|Cancelled, "
        "counts, dates, and `notImportedDownloadUrl` when rows were skipped or failed "
        "(`failedRowsXlsxUrl`: the failed rows as XLSX, bad cells highlighted). While "
        "running it adds `rowsPerSecond` and `etaSeconds`.",
        ("import-004",),
        tag="Import jobs",
    ),
    ("PATCH", "/import-jobs/{code}"): Op(
        "Change a draft import",
        "Changes the draft before confirm: `sheet`, `headerRow`, `mapping` (items `{id, "
        "headerColumn}` or `{headerColumn, ignore: true}`; a conflict is a 400 naming it), "
        "`valueMap` (`{fieldId: {from: to}}`) and `locale`; the whole-file check starts "
        "again, edits made in the rows grid are kept.",
        ("import-003", "import-004", "import-032"),
        body={"mapping": [{"id": "name", "headerColumn": "Outlet Name"}]},
        tag="Import jobs",
    ),
    ("GET", "/import-jobs/{code}/rows"): Op(
        "Page through a draft's rows",
        "A Laravel paginator of `{row, cells, issues: [{column, field, code, message, "
        "suggestion, severity}], discarded}`, filtered by `filter=all|valid|invalid`, "
        "`column` and `reason`. Answers 409 until the whole-file check is Done.",
        ("import-004", "import-032"),
        params={
            "filter": "`all`, `valid` or `invalid`.",
            "column": "Only rows with an issue in this column.",
            "reason": "Only rows with this reason.",
        },
        tag="Import jobs",
    ),
    ("PATCH", "/import-jobs/{code}/rows"): Op(
        "Edit or discard rows of a draft",
        "`{rows: [{row, cells: {header: text}} | {row, discard: true}]}`: each row is checked "
        "again at once and answered with its new state; edits are stored and applied at "
        "commit, discarded rows are counted as skipped.",
        ("import-003", "import-004", "import-032"),
        body={
            "rows": [{"row": 3, "cells": {"Email": "toko3@shop.id"}}, {"row": 7, "discard": True}]
        },
        tag="Import jobs",
    ),
    ("GET", "/import-jobs/{code}/values"): Op(
        "Values that do not fit a field",
        "For option and yes/no fields: every distinct value that does not fit, with its count "
        "and a suggested target; set a `valueMap` on the draft to map them.",
        ("import-004",),
        params={"field": "Only this field's values."},
        tag="Import jobs",
    ),
    ("POST", "/import-jobs/{code}/revert"): Op(
        "Revert a finished import",
        "Takes a finished import back (202 with the job view): records it created are "
        "deleted, records it updated get their values from before the import, and records "
        "changed since are left as they are and listed by `GET "
        "/import-jobs/{code}/revert-conflicts`. Progress and outcome are in `revertStatus` "
        "(`Queued|InProgress|Done|Failed`), `revertedBy`, `revertedAt`, `revertedCount` and "
        "`revertSkipped`; the import's own status does not change.",
        ("import-004", "import-032"),
        tag="Import jobs",
    ),
    ("GET", "/import-jobs/{code}/revert-conflicts"): Op(
        "Records a revert left as they were",
        "A Laravel paginator of the records the revert did not touch because they changed "
        "after the import (their `updatedTime` moved), with why.",
        ("import-004",),
        tag="Import jobs",
    ),
    ("PUT", "/organization/settings"): Op(
        "Change the organisation's value settings",
        "Admin only. Any of `locale` (BCP 47; choosing one resets the separators, date order "
        "and currency symbols to its own), `decimalSeparator`, `thousandsSeparator`, "
        "`dateOrder` (`DMY|MDY|YMD`), `currencySymbols`, `maxConcurrentChunks` (1-64).",
        ("organization-003", "auth-003"),
        body={"locale": "id-ID", "maxConcurrentChunks": 4},
        tag="Organization",
    ),
    ("GET", "/organization/settings"): Op(
        "Read the organisation's value settings",
        "The locale, decimal and thousands separators, day/month order, currency symbols "
        "stripped from numbers, and `maxConcurrentChunks`. The import-job flow, the console "
        "and the CLI apply them by default; the vendor uploads only with `locale=`.",
        tag="Organization",
    ),
    ("POST", "/import-jobs/{code}/cancel"): Op(
        "Cancel an import job",
        "A job not yet started stops at once; a running one after the chunk in flight. Rows "
        "already written stay written.",
        ("import-004", "import-032"),
        tag="Import jobs",
    ),
    ("POST", "/import-config"): Op(
        "Save a column mapping",
        "An import config: a named mapping from file columns to the fields of a data type "
        "(`referenceType: dataType`) or flow (`flow`), reusable with `importConfigId`.",
        ("import-001", "import-003", "import-033"),
        body={
            "name": "Outlet sheet",
            "referenceType": "dataType",
            "referenceId": "6b1307f6e68ec35c74296138",
            "fields": [_MAPPING[0]],
        },
        tag="Import configs",
    ),
    ("GET", "/import-configs"): Op(
        "List column mappings",
        "Saved import configs, filtered by reference or name.",
        ("import-003",),
        params={
            "referenceType": "`dataType` or `flow`.",
            "referenceId": "The data type's or flow's `_id`.",
            "name": "Only configs whose name contains this text.",
        },
        tag="Import configs",
    ),
    ("GET", "/import-config/{config_id}"): Op(
        "Get a column mapping", "One import config.", ("import-033",), tag="Import configs"
    ),
    ("PUT", "/import-config/{config_id}"): Op(
        "Update a column mapping",
        "Replaces the config's name, description and fields.",
        ("import-001", "import-003", "import-033"),
        body={
            "name": "Outlet sheet v2",
            "referenceType": "dataType",
            "referenceId": "6b1307f6e68ec35c74296138",
            "fields": _MAPPING,
        },
        tag="Import configs",
    ),
    ("DELETE", "/import-config/{config_id}"): Op(
        "Delete a column mapping",
        "Deletes the config and answers it as it was.",
        ("import-033",),
        tag="Import configs",
    ),
    # ---- exports (the vendor's documents supply parameters, bodies and examples) ----------
    ("GET", "/export-configs"): Op(
        "List export configs",
        "Saved export configs (which fields, in which order, for tasks or data).",
        ("export-017",),
        params={
            "collection": "`task` or `data`.",
            "name": "Only configs whose name contains this text.",
        },
        tag="Export configs",
    ),
    ("GET", "/export-config/{config_id}"): Op(
        "Get an export config", "One export config.", ("export-033",), tag="Export configs"
    ),
    ("POST", "/export-config"): Op(
        "Create an export config",
        "A named set of fields to export, for tasks (per flow) or data (per data type).",
        ("export-001", "export-002", "export-003", "export-017", "export-033"),
        tag="Export configs",
    ),
    ("PUT", "/export-config/{config_id}/"): Op(
        "Update an export config",
        "Replaces the config (the vendor's path keeps its trailing slash).",
        ("export-001", "export-002", "export-003", "export-017", "export-033"),
        tag="Export configs",
    ),
    ("DELETE", "/export-config/{config_id}/"): Op(
        "Delete an export config",
        "Deletes the config (the vendor's path keeps its trailing slash).",
        ("export-033",),
        tag="Export configs",
    ),
    ("POST", "/tasks/export"): Op(
        "Export tasks",
        "Exports the tasks matching the JSON body's filters as XLSX, CSV or JSON (zipped per "
        "10,000). Direct: answers the data or a link; `background: true`: answers at once and "
        "the file appears in `GET /tasks/export-log` (and an `export.completed` webhook).",
        (
            "export-001",
            "export-003",
            "export-015",
            "export-017",
            "export-033",
            "export-036",
            "export-040",
            "export-045",
            "auth-003",
        ),
        tag="Export",
    ),
    ("POST", "/data/export"): Op(
        "Export records",
        "Exports a data type's records (query parameters select fields, hub, sort and page), "
        "directly or in the background as `POST /tasks/export` does.",
        (
            "export-001",
            "export-003",
            "export-017",
            "export-033",
            "export-036",
            "export-040",
            "export-045",
            "auth-003",
        ),
        tag="Export",
    ),
    ("GET", "/tasks/export-log"): Op(
        "List exports",
        "Exports of the last 30 days, newest first, the caller's own by default; each with "
        "status Processing|Done|Failed and, when done, a signed link to the file.",
        ("export-003", "export-017"),
        tag="Export",
    ),
    # ---- webhooks -------------------------------------------------------------------------
    ("POST", "/webhooks"): Op(
        "Register a webhook endpoint",
        "loadbay POSTs `{id, type, createdAt, data}` to `url` when one of `events` happens "
        "(`import.completed`, `import.failed`, `import.cancelled`, `import.reverted`, "
        "`export.completed`, `export.failed`). Each delivery is signed: `Loadbay-Signature: "
        't=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`. The `secret` is '
        "shown only in this answer. Failed deliveries are retried with backoff for 24 h.",
        ("webhook-001", "webhook-003", "webhook-017", "auth-003"),
        body=_WEBHOOK,
        tag="Webhooks",
    ),
    ("GET", "/webhooks"): Op(
        "List webhook endpoints", "The organisation's endpoints (without secrets).", tag="Webhooks"
    ),
    ("GET", "/webhooks/{endpoint_id}"): Op(
        "Get a webhook endpoint",
        "One endpoint (without its secret).",
        ("webhook-033",),
        tag="Webhooks",
    ),
    ("PUT", "/webhooks/{endpoint_id}"): Op(
        "Update a webhook endpoint",
        "Changes the endpoint's url, events, description or active flag.",
        ("webhook-001", "webhook-003", "webhook-017", "webhook-033", "auth-003"),
        body={"url": "https://example.com/hooks/loadbay", "events": ["import.completed"]},
        tag="Webhooks",
    ),
    ("DELETE", "/webhooks/{endpoint_id}"): Op(
        "Delete a webhook endpoint",
        "Stops deliveries to it; answers it as it was.",
        ("webhook-033", "auth-003"),
        tag="Webhooks",
    ),
    ("POST", "/webhooks/{endpoint_id}/test"): Op(
        "Send a test event",
        "Queues a signed `webhook.test` delivery to the endpoint, so a receiver can check its "
        "signature code; the delivery shows in its log.",
        ("webhook-033", "auth-003"),
        tag="Webhooks",
    ),
    ("GET", "/webhooks/{endpoint_id}/deliveries"): Op(
        "List deliveries",
        "The endpoint's deliveries, newest first, with each attempt's status code, duration "
        "and error, and when the next retry is due.",
        ("webhook-017", "webhook-033"),
        params={"status": "`pending`, `delivered` or `failed`."},
        tag="Webhooks",
    ),
}


def operation(method: str, path: str) -> Op | None:
    key = path[len(API) :] if path.startswith(API) else path
    return OPERATIONS.get((method.upper(), key))
