"""Export requests as the vendor takes them, and the vendor's answer shapes.

`POST /tasks/export` takes a JSON body, `POST /data/export` query parameters;
both are read by one model (`TaskExportIn`, `DataExportIn`) into one `ExportRequest`,
so that every bad value answers 400 with the spec's code and names the parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from loadbay.catalog.models import TASK_STATUSES
from loadbay.errors import BadRequest
from loadbay.exports.models import ExportLog
from loadbay.ids import fmt_iso
from loadbay.pagination import SORT_ORDERS
from loadbay.parsing import context_of, validate
from loadbay.storage import Storage, get_storage

FORMATS = ("xlsx", "json", "csv")
FILE_TYPES = {"xlsx": "xlsx", "csv": "csv", "json": "zip"}
LOG_STATUSES = ("Processing", "Done", "Failed")
LOG_DATA_TYPES = ("task", "data", "vehicle", "driver", "route")
LOG_SORTS: dict[str, Any] = {
    "requestAt": ExportLog.request_at,
    "completedAt": ExportLog.completed_at,
    "status": ExportLog.status,
    "dataType": ExportLog.report_type,
    "dataName": ExportLog.data_name,
    "email": ExportLog.email,
    "fileType": ExportLog.file_type,
    "totalRecords": ExportLog.total,
}
BACKGROUND_MESSAGE = (
    "Export queued for background processing. Check status at GET /tasks/export-log"
)

_TRUE = ("true", "1")
_FALSE = ("false", "0")


@dataclass(frozen=True)
class ExportRequest:
    kind: str  # task | data
    download: str
    fields: tuple[str, ...] | None = None
    done_by: str | None = None
    assignee: str | None = None
    statuses: tuple[str, ...] = ()
    flow_ids: tuple[str, ...] | None = None
    hub_id: str | None = None
    data_type_id: str | None = None
    page: int = 1
    limit: int | None = None
    sort_by: str = "createdTime"
    sort_order: str = "desc"
    background: bool = False
    export_config_id: str | None = None


def _text(raw: Any, name: str, word: str) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, (bool, dict, list)):
        raise BadRequest("export-003", f"The {name} {word} must be a string.")
    text = str(raw).strip()
    if "\x00" in text:
        raise BadRequest("export-003", f"The {name} {word} must not contain NUL characters.")
    return text or None


def _integer(raw: Any, name: str, word: str) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise BadRequest("export-003", f"The {name} {word} must be an integer.")
    try:
        value = int(raw.strip()) if isinstance(raw, str) else int(raw)
    except (TypeError, ValueError, OverflowError):
        raise BadRequest("export-003", f"The {name} {word} must be an integer.") from None
    if value < 1:
        raise BadRequest("export-003", f"The {name} {word} must be at least 1.")
    if value > 1_000_000:  # no window of an export can start or reach past this
        code = "export-040" if name == "limit" else "export-003"  # a limit over the export limit
        raise BadRequest(code, f"The {name} {word} must not be greater than 1000000.")
    return value


def _boolean(raw: Any, name: str, word: str) -> bool:
    if raw is None or raw == "":
        return False
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise BadRequest("export-003", f"The {name} {word} must be true or false.")


def _list(raw: str | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    items = tuple(dict.fromkeys(p.strip() for p in raw.split(",") if p.strip()))
    return items or None


def _enum(value: str | None, allowed: tuple[str, ...], name: str, word: str) -> None:
    if value is not None and value not in allowed:
        raise BadRequest(
            "export-017", f"The selected {name} is invalid: {value} (use {', '.join(allowed)})."
        )


class ExportIn(BaseModel):
    """One export request, checked field by field in this order; a field the kind does
    not take (`doneBy` for data, `dataTypeId` for tasks) is neither checked nor kept.
    Messages call a value a "field" in a JSON body and a "parameter" in a query."""

    model_config = ConfigDict(extra="ignore")
    kind: ClassVar[str]  # task | data
    word: ClassVar[str]

    download: str = Field("", validate_default=True)
    sortBy: str = "createdTime"
    sortOrder: str = "desc"
    status: tuple[str, ...] = ()  # tasks only
    fields: tuple[str, ...] | None = None
    doneBy: str | None = None  # tasks only
    assignee: str | None = None  # tasks only
    flowId: tuple[str, ...] | None = None  # tasks only
    hubId: str | None = None
    dataTypeId: str | None = None  # data only
    page: int = 1
    limit: int | None = None
    background: bool = False
    exportConfigId: str | None = None

    @field_validator("download", mode="before")
    @classmethod
    def _download(cls, raw: Any) -> str:
        download = _text(raw, "download", cls.word)
        if download is None:
            raise BadRequest("export-001", f"The download {cls.word} is required.")
        download = download.lower()
        _enum(download, FORMATS, "download", cls.word)
        return download

    @field_validator("sortBy", mode="before")
    @classmethod
    def _sort_by(cls, raw: Any) -> str:
        return _text(raw, "sortBy", cls.word) or "createdTime"

    @field_validator("sortOrder", mode="before")
    @classmethod
    def _sort_order(cls, raw: Any) -> str:
        order = (_text(raw, "sortOrder", cls.word) or "desc").lower()
        _enum(order, SORT_ORDERS, "sortOrder", cls.word)
        return order

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, raw: Any) -> tuple[str, ...]:
        if cls.kind != "task":
            return ()
        statuses = _list(_text(raw, "status", cls.word)) or ()
        for status in statuses:
            _enum(status, TASK_STATUSES, "status", cls.word)
        return statuses

    @field_validator("fields", "flowId", mode="before")
    @classmethod
    def _names(cls, raw: Any, info: ValidationInfo) -> tuple[str, ...] | None:
        name = str(info.field_name)
        if name in _TASK_ONLY and cls.kind != "task":
            return None
        return _list(_text(raw, name, cls.word))

    @field_validator("doneBy", "assignee", "hubId", "dataTypeId", "exportConfigId", mode="before")
    @classmethod
    def _texts(cls, raw: Any, info: ValidationInfo) -> str | None:
        name = str(info.field_name)
        if (name in _TASK_ONLY and cls.kind != "task") or (
            name in _DATA_ONLY and cls.kind != "data"
        ):
            return None
        return _text(raw, name, cls.word)

    @field_validator("page", "limit", mode="before")
    @classmethod
    def _integers(cls, raw: Any, info: ValidationInfo) -> int | None:
        value = _integer(raw, str(info.field_name), cls.word)
        return (value or 1) if info.field_name == "page" else value

    @field_validator("background", mode="before")
    @classmethod
    def _background(cls, raw: Any) -> bool:
        return _boolean(raw, "background", cls.word)

    def request(self) -> ExportRequest:
        return ExportRequest(
            kind=self.kind,
            download=self.download,
            fields=self.fields,
            done_by=self.doneBy,
            assignee=self.assignee,
            statuses=self.status,
            flow_ids=self.flowId,
            hub_id=self.hubId,
            data_type_id=self.dataTypeId,
            page=self.page,
            limit=self.limit,
            sort_by=self.sortBy,
            sort_order=self.sortOrder,
            background=self.background,
            export_config_id=self.exportConfigId,
        )


_TASK_ONLY = ("status", "doneBy", "assignee", "flowId")
_DATA_ONLY = ("dataTypeId",)


class TaskExportIn(ExportIn):
    """`POST /tasks/export`'s JSON body."""

    kind = "task"
    word = "field"


class DataExportIn(ExportIn):
    """`POST /data/export`'s query parameters."""

    kind = "data"
    word = "parameter"


def parse_request(kind: str, raw: Mapping[str, Any]) -> ExportRequest:
    """One export request; `kind` is `task` (JSON body) or `data` (query parameters)."""
    model = TaskExportIn if kind == "task" else DataExportIn
    return validate(model, dict(raw), "export").request()


# ---- export configs ------------------------------------------------------------------------

CONFIG_COLLECTIONS = ("task", "data")


@dataclass(frozen=True)
class ConfigChecks:
    """What checking a config's body looks up, in the caller's session: a name another
    config of the organisation has, the flow ids it does not have, whether a data type
    is its own. `creating`: a new config, whose name is required."""

    creating: bool
    name_taken: Callable[[str], bool]
    unknown_flows: Callable[[list[str]], list[str]]
    data_type_known: Callable[[str], bool]


def _required(name: str) -> BadRequest:
    return BadRequest("export-001", f"The {name} field is required.")


def _string(value: Any, name: str, *, required: bool, most: int = 200) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _required(name)
        return None
    if not isinstance(value, str):
        raise BadRequest("export-003", f"The {name} must be a string.")
    if len(value) > most or "\x00" in value:
        raise BadRequest("export-003", f"The {name} must be text of at most {most} characters.")
    return value.strip()


class ExportConfigIn(BaseModel):
    """An export config's body, whole on create and on update (the name may be left out
    of an update). Checked in this order, the look-ups (`ConfigChecks`, the validation
    context) each right after the shape of what they look up: a name already taken is
    `export-002`, an unknown flow or data type `export-033`. A field's attributes are
    kept as given; their ids are checked when an export uses the config."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(None, validate_default=True)
    collection: str = Field("", validate_default=True)
    description: str | None = None
    flowIds: list[str] = Field(None, validate_default=True)
    dataTypeId: str | None = None
    fields: list[Any] = Field(None, validate_default=True)

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, raw: Any, info: ValidationInfo) -> str | None:
        checks = context_of(info, ConfigChecks)
        name = _string(raw, "name", required=checks.creating)
        if name is not None and checks.name_taken(name):
            raise BadRequest("export-002", "The name has already been taken.")
        return name

    @field_validator("collection", mode="before")
    @classmethod
    def _collection(cls, raw: Any) -> str | None:
        collection = _string(raw, "collection", required=True, most=50)
        if collection not in CONFIG_COLLECTIONS:
            raise BadRequest(
                "export-017",
                f"The selected collection is invalid: {collection} (use task or data).",
            )
        return collection

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, raw: Any) -> str | None:
        return _string(raw, "description", required=False, most=10_000)

    @field_validator("flowIds", mode="before")
    @classmethod
    def _flow_ids(cls, raw: Any, info: ValidationInfo) -> list[str]:
        if raw is None or raw == []:
            if info.data["collection"] == "task":
                raise _required("flowIds")
            return []
        if not isinstance(raw, list) or not all(isinstance(f, str) and f for f in raw):
            raise BadRequest("export-003", "The flowIds must be an array of flow ids.")
        wanted = list(dict.fromkeys(raw))
        missing = context_of(info, ConfigChecks).unknown_flows(wanted)
        if missing:
            raise BadRequest("export-033", f"Unknown flowId: {', '.join(missing)}")
        return wanted

    @field_validator("dataTypeId", mode="before")
    @classmethod
    def _data_type_id(cls, raw: Any, info: ValidationInfo) -> str | None:
        data_type_id = _string(raw, "dataTypeId", required=False, most=64)
        if data_type_id is not None:
            known = context_of(info, ConfigChecks).data_type_known(data_type_id)
            if info.data["collection"] != "data" or not known:
                raise BadRequest("export-033", f"Unknown dataTypeId: {data_type_id}")
        return data_type_id

    @field_validator("fields", mode="before")
    @classmethod
    def _fields(cls, raw: Any) -> list[Any]:
        if raw is None or raw == []:
            raise _required("fields")
        if not isinstance(raw, list):
            raise BadRequest("export-003", "The fields must be an array.")
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise BadRequest("export-003", f"The fields.{i} must be an object.")
            for key in ("id", "component", "title"):
                value = item.get(key)
                if not isinstance(value, str) or not value.strip():
                    raise _required(f"fields.{i}.{key}")
        return raw


# ---- answers -------------------------------------------------------------------------------


def export_answer(
    *,
    report_type: str,
    org: str,
    requested: datetime,
    status: str,
    total: int = 0,
    last_id: str | None = None,
    last_field: str | None = None,
    link: str | None = None,
    log_id: str | None = None,
) -> dict[str, Any]:
    """The vendor's answer; a value this state does not have is left out, never null."""
    data: dict[str, Any] = {
        "time": unix(requested),
        "organizationId": org,
        "reportType": report_type,
    }
    if link is not None:
        data["link"] = link
    data["status"] = status
    body: dict[str, Any] = {"status": True}
    if status == "Processing":
        body["message"] = BACKGROUND_MESSAGE
        body["total_data_be"] = 0
        data["_id"] = log_id
    else:
        body["message"] = "Success"
        body["total_data_be"] = total
        if last_id is not None:
            body["last_id"] = last_id
        if last_field is not None:
            body["last_field"] = last_field
    body["data"] = data
    return body


def unix(naive_utc: datetime) -> int:
    return int(naive_utc.replace(tzinfo=UTC).timestamp())


def iso_z(value: datetime) -> str:
    """`2024-11-26T09:59:39.860000Z`, as the vendor writes config times."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def file_link(entry: ExportLog, storage: Storage | None = None) -> str | None:
    """A signed link to a finished export's file in `storage` (the caller's app's; the
    process's when not given)."""
    if entry.status != "Done" or not entry.file_key:
        return None
    filename = entry.file_key.rsplit("/", 1)[-1]
    return (storage or get_storage()).link(entry.organization_id, entry.file_key, filename)


def log_entry(entry: ExportLog) -> dict[str, Any]:
    source: dict[str, Any] = {
        "organizationId": entry.organization_id,
        "dataType": entry.report_type,
        "dataName": entry.data_name,
        "status": entry.status,
        "requestAt": fmt_iso(entry.request_at),
        "completedAt": fmt_iso(entry.completed_at) if entry.status != "Processing" else None,
        "email": entry.email,
        "fileUrl": file_link(entry),
        "fileType": entry.file_type,
        "totalRecords": entry.total,
        "errorMessage": entry.error if entry.status == "Failed" else None,
    }
    return {
        "_index": "export",
        "_type": "_doc",
        "_id": entry.id,
        "_score": 1,
        "_source": {k: v for k, v in source.items() if v is not None},
    }


# ---- the export log's parameters ---------------------------------------------------------


def _log_error(code: str, message: str) -> BadRequest:
    # The vendor's 400 for this endpoint carries an empty `data` list.
    return BadRequest(code, message, extra={"data": []})


def _positive(name: str, default: int, most: int) -> BeforeValidator:
    def check(raw: Any) -> int:
        if raw in (None, ""):
            return default
        try:
            value = int(str(raw))
        except ValueError:
            value = 0
        if value < 1 or value > most:
            raise _log_error(
                "export-003", f"Invalid {name} parameter. Must be between 1 and {most}."
            )
        return value

    return BeforeValidator(check)


def _one_of(allowed: tuple[str, ...], name: str, default: str | None = None) -> BeforeValidator:
    def check(raw: Any) -> str | None:
        if raw in (None, ""):
            return default
        if name == "sortOrder":
            raw = str(raw).lower()
        if raw not in allowed:
            raise _log_error(
                "export-017", f"Invalid {name} parameter: {raw} (use {', '.join(allowed)})."
            )
        return str(raw)

    return BeforeValidator(check)


def _log_sort(raw: Any) -> str:
    key = str(raw or "requestAt")
    if key not in LOG_SORTS:
        raise _log_error("export-003", f"Invalid sortBy parameter: {key}.")
    return key


class ExportLogQuery(BaseModel):
    """`GET /tasks/export-log`'s parameters, checked in the order the vendor checks them."""

    model_config = ConfigDict(extra="ignore")

    limit: Annotated[int, _positive("limit", 10, 100)] = 10
    page: Annotated[int, _positive("page", 1, 1_000_000)] = 1
    sortBy: Annotated[str, BeforeValidator(_log_sort)] = "requestAt"
    sortOrder: Annotated[str, _one_of(SORT_ORDERS, "sortOrder", "desc")] = "desc"
    dataType: Annotated[str | None, _one_of(LOG_DATA_TYPES, "dataType")] = None
    status: Annotated[str | None, _one_of(LOG_STATUSES, "status")] = None
    dataName: str | None = None
    email: str | None = None
