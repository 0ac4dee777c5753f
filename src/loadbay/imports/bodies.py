"""Request bodies of imports as pydantic models: an import config, and the confirm of a
preview (`PUT /import-jobs/{code}`).

Each model checks its fields in the order the routes always have, so a body with two
bad values answers with the same one as before. A check that needs what the route
looked up (the config being changed, the job's target, an import config named by the
body) gets it through the validation context (`loadbay.parsing.context_of`); the
look-ups themselves stay with the route, in its session.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from loadbay.errors import BadRequest
from loadbay.imports.models import ImportConfig
from loadbay.imports.target import Target
from loadbay.parsing import context_of


class _Absent(enum.Enum):
    """The default of a field whose absence means something else than null."""

    TOKEN = 0


ABSENT = _Absent.TOKEN


def text(value: Any, key: str, *, required: bool = False) -> str | None:
    """A string, stripped; null or blank is no value (`import-001` when required)."""
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        if required:
            raise BadRequest("import-001", f"The {key} field is required")
        return None
    if not isinstance(value, str):
        raise BadRequest("import-003", f"{key} must be a string")
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
    """An import config's body: whole on create, the fields given on update. Checked in
    this order; the data type or flow is looked up after `referenceId`, and the fields
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
        return text(value, "name", required=True)

    @field_validator("description", "collection", mode="before")
    @classmethod
    def _optional(cls, value: Any, info: ValidationInfo) -> str | None:
        return text(value, str(info.field_name))

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
