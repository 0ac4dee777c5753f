"""Request bodies and query parameters, parsed by pydantic models into the vendor's errors.

A model's validators raise the vendor's own error (a `BadRequest` with its code and
message): pydantic lets any exception but ValueError and AssertionError through as it
is, and checks fields in the order they are declared, so the first bad value answers,
as the vendor's API does. What pydantic itself refuses is mapped by `parse_body`: a
missing field is `{module}-001`, a value outside a Literal `{module}-017`, the rest
`{module}-003`. Query models are taken by FastAPI as `Annotated[Model, Query()]` (so the
API documentation lists their fields); their fields are texts or numbers, never lists,
which FastAPI would read as repeated parameters.

A check that needs what the caller looked up (the job being confirmed, the data type a
config points at, whether a name is taken) is handed that through the validation
context (`validate(..., context=...)`, read with `context_of`): it then runs at its
place among the field checks, so the first bad value still answers first, while the
database work stays with the caller that owns the session.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from loadbay.errors import NUL_TEXT, BadRequest
from loadbay.pagination import SORT_ORDERS, page_params
from loadbay.settings import get_settings
from loadbay.tabular.nesting import deeper_than, too_deep

M = TypeVar("M", bound=BaseModel)
C = TypeVar("C")


def parse_body(model: type[M], payload: Any, module: str, context: Any = None) -> M:
    """A JSON object body (see `require_object`) validated by `model`."""
    return validate(model, require_object(payload, module), module, context)


def validate(model: type[M], raw: Any, module: str, context: Any = None) -> M:
    """`raw` validated by `model`; what pydantic itself refuses becomes the vendor's 400."""
    try:
        return model.model_validate(raw, context=context)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "body"
        if error["type"] == "missing":
            raise BadRequest(f"{module}-001", f"{where} is required") from None
        code = "017" if error["type"] == "literal_error" else "003"
        raise BadRequest(f"{module}-{code}", f"{where}: {error['msg']}") from None


def context_of(info: ValidationInfo, kind: type[C]) -> C:
    """The caller's lookups handed to `validate`, for a check that needs them."""
    if not isinstance(info.context, kind):
        raise TypeError(f"{kind.__name__} must be passed as the validation context")
    return info.context


def require_object(payload: Any, module: str) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise BadRequest(f"{module}-003", "The body must be a JSON object")
    check_depth(payload, module)
    if _has_nul(payload):
        raise BadRequest(f"{module}-003", NUL_TEXT)
    return payload


def check_depth(payload: Any, module: str) -> None:
    """400 `{module}-015` for a body nested past the limit (before any recursive walk)."""
    limit = get_settings().max_json_depth
    if deeper_than(payload, limit):
        raise BadRequest(f"{module}-015", too_deep(limit, "The body"))


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class PageQuery(BaseModel):
    """`page` and `limit` as every Laravel-paginated list checks them (`page_params`):
    integers, page 1 to 1,000,000, limit 1 to `max_limit`; `{module}-003` otherwise."""

    model_config = ConfigDict(extra="ignore")
    module: ClassVar[str]
    max_limit: ClassVar[int] = 100
    default_limit: ClassVar[int] = 20

    page: int = 1
    limit: int = 20

    @model_validator(mode="before")
    @classmethod
    def _paging(cls, raw: Any) -> Any:
        values = dict(raw) if isinstance(raw, dict) else {}
        values["page"], values["limit"] = page_params(
            values.get("page"), values.get("limit"), cls.module, cls.max_limit, cls.default_limit
        )
        return values


def sort_order(code: str, message: str) -> BeforeValidator:
    """`asc` or `desc` in any case (`desc` when not given); else `code` with `message`,
    where `{}` is the value sent."""

    def check(raw: Any) -> str:
        order = str(raw or "desc").lower()
        if order not in SORT_ORDERS:
            raise BadRequest(code, message.format(raw))
        return order

    return BeforeValidator(check)
