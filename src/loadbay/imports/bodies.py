"""Request bodies of imports as pydantic models: an import config, the confirm of a
preview (`PUT /import-jobs/{code}`), a change to its draft (`PATCH /import-jobs/{code}`)
and the review's row edits (`PATCH /import-jobs/{code}/rows`).

Each model checks its fields in the order the routes always have, so a body with two
bad values answers with the same one as before. A check that needs what the route
looked up (the config being changed, the job's target, an import config named by the
body) gets it through the validation context (`loadbay.parsing.context_of`); the
look-ups themselves stay with the route, in its session.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from loadbay.errors import BadRequest
from loadbay.imports.models import ImportConfig, ImportJob
from loadbay.imports.service import IMPORT_MODES, header_row_of, unmapped_policy
from loadbay.imports.target import Target, check_match_field
from loadbay.imports.values import Rules, parse_value_map
from loadbay.parsing import context_of, parse_body


class _Absent(enum.Enum):
    """The default of a field whose absence means something else than null."""

    TOKEN = 0


ABSENT = _Absent.TOKEN


def text(value: Any, key: str, *, required: bool = False, most: int | None = None) -> str | None:
    """A string, stripped; null or blank is no value (`import-001` when required);
    `most`: the longest the column stores (PostgreSQL refuses a longer one)."""
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        if required:
            raise BadRequest("import-001", f"The {key} field is required")
        return None
    if not isinstance(value, str):
        raise BadRequest("import-003", f"{key} must be a string")
    if most is not None and len(value) > most:
        raise BadRequest("import-003", f"{key} must be at most {most} characters")
    return value


# ---- import configs ----------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigContext:
    """`creating`: a new config (every field but description and collection required);
    `current`: the config as stored (blank when creating); `target`: the data type or
    flow a `referenceType` and `referenceId` name, or a 400 `import-003` saying why not."""

    creating: bool
    current: ImportConfig
    target: Callable[[str, str], Target]


class ImportConfigIn(BaseModel):
    """An import config's body: whole on create, the fields given on update (a JSON
    object without NUL characters, see `parse_body`). Checked in this order; the data type or flow is looked up after `referenceId`, and the fields
    are checked against it when given, when creating, or when the config moves to
    another one (its stored fields then must fit the new one)."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(ABSENT, validate_default=True)
    description: str | None = None
    referenceType: str | None = Field(None, validate_default=True)
    referenceId: str | None = Field(None, validate_default=True)
    fields: list[dict[str, str]] | None = Field(ABSENT, validate_default=True)
    collection: str | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, value: Any, info: ValidationInfo) -> str | None:
        if value is ABSENT:  # an update may leave it out, a null is no name
            if not context_of(info, ConfigContext).creating:
                return None
            value = None
        return text(value, "name", required=True, most=200)

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: Any) -> str | None:
        return text(value, "description")

    @field_validator("collection", mode="before")
    @classmethod
    def _collection(cls, value: Any) -> str | None:
        return text(value, "collection", most=100)

    @field_validator("referenceType", "referenceId", mode="before")
    @classmethod
    def _reference(cls, value: Any, info: ValidationInfo) -> str | None:
        creating = context_of(info, ConfigContext).creating
        return text(value, str(info.field_name), required=creating)

    @field_validator("fields", mode="before")
    @classmethod
    def _fields(cls, value: Any, info: ValidationInfo) -> list[dict[str, str]] | None:
        context = context_of(info, ConfigContext)
        current = context.current
        reference = (
            info.data["referenceType"] or current.reference_type,
            info.data["referenceId"] or current.reference_id,
        )
        target = context.target(*reference)
        moved = reference != (current.reference_type, current.reference_id)
        if value is ABSENT:
            if not (context.creating or moved):
                return None  # the stored fields stay
            value = current.fields
        return config_fields(value, target)

    def reference(self, current: ImportConfig) -> tuple[str, str]:
        """The config's reference type and id once this body is applied."""
        return (
            self.referenceType or current.reference_type,
            self.referenceId or current.reference_id,
        )


def config_fields(raw: Any, target: Target) -> list[dict[str, str]]:
    """`[{id, headerColumn}]`: each id a field of the target (or `_id`), once."""
    if raw is None or raw == []:
        raise BadRequest("import-001", "The fields field is required")
    if not isinstance(raw, list):
        raise BadRequest("import-003", "fields must be a list of {id, headerColumn} objects")
    known = {s.id for s in target.specs} | {"_id"}
    out: list[dict[str, str]] = []
    seen: set[str] = set()
    for n, item in enumerate(raw):
        if not isinstance(item, dict):
            raise BadRequest("import-003", f"fields.{n} must be an object")
        fid, header = item.get("id"), item.get("headerColumn")
        if not isinstance(fid, str) or not fid:
            raise BadRequest("import-001", f"fields.{n}.id is required")
        if fid not in known:
            raise BadRequest(
                "import-003", f"fields.{n}.id: '{fid}' is not a field of {target.name}"
            )
        if fid in seen:
            raise BadRequest("import-003", f"fields.{n}.id: '{fid}' is mapped twice")
        if not isinstance(header, str) or not header.strip():
            raise BadRequest("import-001", f"fields.{n}.headerColumn is required")
        seen.add(fid)
        out.append({"id": fid, "headerColumn": header.strip()})
    return out


# ---- the confirm of a preview (PUT /import-jobs/{code}) ----------------------------------
#
# Read in three parts, because the route does work between them that a later check must
# wait for: `StructureIn` once the job is found (a new sheet or header row reads the file
# again), `MappingIn` once it is known to be a preview of a target, `RulesIn` once the
# mapping is resolved against the file's columns.


class StructureIn(BaseModel):
    """`sheet` (a name or an index, as text) and `headerRow` (1-based) to read the file
    with before the mapping is checked; blank means as the preview read it."""

    model_config = ConfigDict(extra="ignore")

    sheet: str | None = None
    headerRow: int | None = None

    @classmethod
    def asked(cls, body: dict[str, Any]) -> bool:
        """Whether the body names a sheet or a header row (the file is then read again)."""
        return body.get("sheet") not in (None, "") or body.get("headerRow") not in (None, "")

    @field_validator("sheet", mode="before")
    @classmethod
    def _sheet(cls, value: Any) -> str | None:
        return None if value in (None, "") else str(value).strip()[:200]

    @field_validator("headerRow", mode="before")
    @classmethod
    def _header_row(cls, value: Any) -> int | None:
        return header_row_of(value)


@dataclass(frozen=True)
class MappingContext:
    """The job being confirmed, its target, its options (as read again when the body
    names another sheet or header row), and the fields of an import config by id (a 404
    or a 400 when it is not this target's)."""

    job: ImportJob
    target: Target
    options: dict[str, Any]
    config_mapping: Callable[[str], list[dict[str, Any]]]


class MappingIn(BaseModel):
    """`importMode`, `matchField`, `importConfigId`, `mapping` and `unmappedColumns`,
    each defaulting to what the preview chose. `mapping` is the body's, else the draft
    a PATCH left, else the named import config's fields, else none (the route then
    suggests one as the preview did)."""

    model_config = ConfigDict(extra="ignore")

    importMode: str = Field(None, validate_default=True)
    matchField: str | None = Field(None, validate_default=True)
    importConfigId: str | None = None
    mapping: list[dict[str, Any]] | None = Field(None, validate_default=True)
    unmappedColumns: str = Field(None, validate_default=True)

    @field_validator("importMode", mode="before")
    @classmethod
    def _mode(cls, value: Any, info: ValidationInfo) -> str:
        mode = text(value, "importMode") or context_of(info, MappingContext).job.import_mode
        if mode not in IMPORT_MODES:
            raise BadRequest("import-003", f"importMode must be one of {', '.join(IMPORT_MODES)}")
        return mode

    @field_validator("matchField", mode="before")
    @classmethod
    def _match(cls, value: Any, info: ValidationInfo) -> str | None:
        context = context_of(info, MappingContext)
        return check_match_field(
            context.target, text(value, "matchField") or context.job.match_field
        )

    @field_validator("importConfigId", mode="before")
    @classmethod
    def _config_id(cls, value: Any) -> str | None:
        return text(value, "importConfigId")

    @field_validator("mapping", mode="before")
    @classmethod
    def _mapping(cls, value: Any, info: ValidationInfo) -> list[dict[str, Any]] | None:
        context = context_of(info, MappingContext)
        items = mapping_items(value)
        if items is None and (context.job.options or {}).get("draftMapping"):  # set by PATCH
            items = list(context.job.mapping or [])
        config_id = info.data["importConfigId"]
        if items is None and config_id is not None:
            items = context.config_mapping(config_id)
        return items

    @field_validator("unmappedColumns", mode="before")
    @classmethod
    def _unmapped(cls, value: Any, info: ValidationInfo) -> str:
        options = context_of(info, MappingContext).options
        return unmapped_policy(value) or options.get("unmappedColumns") or "error"


def mapping_items(raw: Any) -> list[dict[str, Any]] | None:
    if raw is None or raw == []:
        return None
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise BadRequest("import-003", "mapping must be a list of {id, headerColumn} objects")
    return raw


@dataclass(frozen=True)
class RulesContext:
    """The job's target and its reading rules (locale, value map), for `valueMap`."""

    target: Target
    rules: Rules


class RulesIn(BaseModel):
    """`invalidRows`, `valueMap` (replaces the draft's when given) and `maxInvalid`."""

    model_config = ConfigDict(extra="ignore")

    invalidRows: str = Field(None, validate_default=True)
    valueMap: dict[str, Any] | None = None
    maxInvalid: int | str | None = None

    @field_validator("invalidRows", mode="before")
    @classmethod
    def _invalid_rows(cls, value: Any) -> str:
        return invalid_rows(value)

    @field_validator("valueMap", mode="before")
    @classmethod
    def _value_map(cls, value: Any, info: ValidationInfo) -> dict[str, Any]:
        context = context_of(info, RulesContext)
        return parse_value_map(value, context.target, context.rules)

    @field_validator("maxInvalid", mode="before")
    @classmethod
    def _max_invalid(cls, value: Any) -> int | str | None:
        return max_invalid(value)


def invalid_rows(value: Any) -> str:
    """`skip` writes the valid rows (the vendor's behaviour); `block` writes nothing
    unless every row is valid."""
    if value is None or value == "":
        return "skip"
    if value not in ("skip", "block"):
        raise BadRequest("import-003", "invalidRows must be one of skip, block")
    return str(value)


_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def max_invalid(value: Any) -> int | str | None:
    """`maxInvalid`: a count of invalid rows (an integer) or a share ("5%")."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        if value.strip().isdigit():
            return int(value.strip())
        found = _PERCENT.match(value)
        if found and float(found.group(1)) <= 100:
            return f"{found.group(1)}%"
    raise BadRequest(
        "import-003",
        f'maxInvalid must be a count of rows (like 10) or a share (like "5%"), not {value!r}',
    )


# ---- a change to a draft (PATCH /import-jobs/{code}) -------------------------------------

DRAFT_KEYS = ("sheet", "headerRow", "mapping", "valueMap", "locale")


class DraftChangeIn(BaseModel):
    """Any of `DRAFT_KEYS`; a key given as null still counts as given (the whole-file
    check starts again). What needs the job is checked where the draft is changed: the
    locale is one known, each `valueMap` pair fits its field, the mapping fits the file.

    `sheet`: a name, or an index (as text or a number); blank keeps the draft's.
    `headerRow`: a row number from 1 (as text or a number); null or blank finds it again.
    `locale`: a tag like id-ID. `valueMap`: `{fieldId: {from: to}}`. `mapping`: as at
    confirm; empty is none."""

    model_config = ConfigDict(extra="ignore")

    sheet: str | None = None
    headerRow: int | None = None
    locale: str | None = None
    valueMap: dict[str, Any] | None = None
    mapping: list[dict[str, Any]] | None = None

    @model_validator(mode="before")
    @classmethod
    def _something(cls, raw: Any) -> Any:
        if not isinstance(raw, dict) or not set(raw) & set(DRAFT_KEYS):
            raise BadRequest("import-003", f"Give one of {', '.join(DRAFT_KEYS)}")
        return raw

    @field_validator("sheet", mode="before")
    @classmethod
    def _sheet(cls, value: Any) -> str | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise BadRequest("import-003", "sheet must be a sheet's name or its index from 0")
        return str(value).strip()[:200]

    @field_validator("headerRow", mode="before")
    @classmethod
    def _header_row(cls, value: Any) -> int | None:
        return header_row_of(value)

    @field_validator("locale", mode="before")
    @classmethod
    def _locale(cls, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise BadRequest("import-003", "locale must be a BCP 47 tag like id-ID")
        return value.strip()

    @field_validator("valueMap", mode="before")
    @classmethod
    def _value_map(cls, value: Any) -> dict[str, Any] | None:
        if value is not None and not isinstance(value, dict):
            raise BadRequest("import-003", "valueMap must be an object {fieldId: {from: to}}")
        return value

    @field_validator("mapping", mode="before")
    @classmethod
    def _mapping(cls, value: Any) -> list[dict[str, Any]] | None:
        return mapping_items(value)


def draft_change(payload: Any) -> DraftChangeIn:
    """The body of a draft change; one that is not an object is read as an empty one, so
    the answer names the keys to give."""
    return parse_body(DraftChangeIn, payload if isinstance(payload, dict) else {}, "import")


# ---- the review's row edits (PATCH /import-jobs/{code}/rows) -----------------------------


@dataclass(frozen=True)
class RowsContext:
    """The draft's headers: a cell is edited by its column's header."""

    headers: list[str]


class RowEdit(BaseModel):
    """`{row, cells: {header: text}}` or `{row, discard: true|false}` (both at once too).
    A cell may be given as a number (kept as its text) or null (the edit is undone);
    `discard` null leaves the row as it is."""

    model_config = ConfigDict(extra="ignore")

    row: int = Field(None, validate_default=True)
    cells: dict[str, str | None] | None = None
    discard: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _object(cls, raw: Any) -> Any:
        if not isinstance(raw, dict):
            raise BadRequest("import-003", "each item of rows needs a row number (an integer)")
        return raw

    @field_validator("row", mode="before")
    @classmethod
    def _row(cls, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadRequest("import-003", "each item of rows needs a row number (an integer)")
        return value

    @field_validator("cells", mode="before")
    @classmethod
    def _cells(cls, value: Any, info: ValidationInfo) -> dict[str, str | None] | None:
        number = info.data["row"]
        if value is None:
            return None
        if not isinstance(value, dict):
            raise BadRequest("import-003", f"row {number}: cells must be {{header: text}}")
        headers = context_of(info, RowsContext).headers
        out: dict[str, str | None] = {}
        for header, cell in value.items():
            if header not in headers:
                raise BadRequest("import-003", f"row {number}: the file has no column '{header}'")
            if cell is not None and not isinstance(cell, str | int | float):
                raise BadRequest("import-003", f"row {number}, column '{header}': a cell is text")
            out[header] = None if cell is None else str(cell)
        return out

    @field_validator("discard", mode="before")
    @classmethod
    def _discard(cls, value: Any, info: ValidationInfo) -> bool | None:
        if value is not None and not isinstance(value, bool):
            raise BadRequest("import-003", f"row {info.data['row']}: discard must be true or false")
        return value

    @model_validator(mode="after")
    def _cells_or_discard(self) -> RowEdit:
        if self.cells is None and self.discard is None:
            raise BadRequest("import-003", f"row {self.row}: give cells or discard")
        return self


class RowEditsIn(BaseModel):
    """`{rows: [RowEdit, ...]}`, at least one."""

    model_config = ConfigDict(extra="ignore")

    rows: list[RowEdit] = Field(None, validate_default=True)

    @field_validator("rows", mode="before")
    @classmethod
    def _rows(cls, value: Any) -> list[Any]:
        if not isinstance(value, list) or not value:
            raise BadRequest(
                "import-003", "rows must be a non-empty list of {row, cells} or {row, discard}"
            )
        return value


def row_edits(payload: Any, headers: list[str]) -> list[RowEdit]:
    """The edits of a body against the draft's `headers`; one that is not an object is
    read as an empty one, so the answer says what to give."""
    context = RowsContext(headers)
    body = payload if isinstance(payload, dict) else {}
    return parse_body(RowEditsIn, body, "import", context).rows
