"""Pydantic building blocks shared by every feature's DTOs (OFBiz camelCase in JSON)."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from stockledger.core.guards import NUL_DETAIL
from stockledger.core.quantities import MAX_QUANTITY, json_number

_as_number = PlainSerializer(json_number, return_type=Any, when_used="json")
_OUT = WithJsonSchema({"anyOf": [{"type": "integer"}, {"type": "number"}]})
TEXT_QUANTITIES = "text_quantities"  # validation context of the staff forms, whose fields are all text


def _no_text(value: object, info: ValidationInfo) -> object:
    """SPEC §10: quantities are JSON numbers; "1" is refused, not read as 1 (forms excepted)."""
    if isinstance(value, str) and not (info.context or {}).get(TEXT_QUANTITIES):
        raise ValueError("a quantity is a JSON number, not a string")
    return value


_number = BeforeValidator(_no_text)


def _declared(low: dict[str, float]) -> WithJsonSchema:
    """A quantity as the contract declares it: a JSON number within its bounds, at most 6 decimals."""
    bounds = {"maximum": float(MAX_QUANTITY), **low}
    return WithJsonSchema(
        {"type": "number", **bounds, "multipleOf": 0.000001, "description": "At most 6 decimals"}
    )


# What a read reports: whatever the ledger holds (rows written before the bound may be larger).
QuantityOut = Annotated[Decimal, _as_number, _OUT]
# Any signed quantity: finite, at most 6 decimals, within ±10^9.
Quantity = Annotated[
    Decimal,
    Field(allow_inf_nan=False, decimal_places=6, ge=-MAX_QUANTITY, le=MAX_QUANTITY),
    _number,
    _as_number,
    _declared({"minimum": -float(MAX_QUANTITY)}),
]
# A quantity that makes no sense below zero (counts, receipts, reservations).
NonNegativeQuantity = Annotated[
    Decimal,
    Field(allow_inf_nan=False, decimal_places=6, ge=0, le=MAX_QUANTITY),
    _number,
    _as_number,
    _declared({"minimum": 0}),
]
PositiveQuantity = Annotated[
    Decimal,
    Field(allow_inf_nan=False, decimal_places=6, gt=0, le=MAX_QUANTITY),
    _number,
    _as_number,
    _declared({"exclusiveMinimum": 0}),
]
Money = Annotated[
    Decimal,
    Field(allow_inf_nan=False, decimal_places=6, ge=0, le=MAX_QUANTITY),
    _number,
    _as_number,
    _declared({"minimum": 0}),
]


def integers_remembered() -> WrapValidator:
    """A quantity type's validator for documents of thousands of records, which repeat a few
    quantities (5, 10, 50…): an integer is validated once (its Decimal made and checked against
    the type's bounds), then its Decimal is taken from memory; any other value is validated each
    time. It wraps the type's own validation: what that refuses, and how, stays the same (a
    refusal is not remembered). One memory per call: each type keeps its own bounds."""
    seen: dict[int, Any] = {}

    def remembered(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if type(value) is not int:
            return handler(value)
        found = seen.get(value)
        if found is None:
            found = handler(value)
            if len(seen) >= _REMEMBERED_AT_MOST:
                seen.clear()
            seen[value] = found
        return found

    return WrapValidator(remembered)


_REMEMBERED_AT_MOST = 4096  # distinct integers per type kept

OUTSIDE_THE_CALENDAR = (
    "this instant is outside the calendar in UTC (0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z)"
)


def _in_utc(moment: datetime) -> datetime:
    """The instant in UTC (one without an offset is UTC), or a refusal when UTC cannot name it:
    `9999-12-31T23:59:59-01:00` is in year 10000 there, past what Python and the columns hold."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(OUTSIDE_THE_CALENDAR) from None


# Every timestamp a client sends (bodies, queries, forms): RFC 3339, an offset given or UTC meant,
# held in UTC from here on, so no comparison, bind or answer meets one the calendar cannot hold.
Instant = Annotated[datetime, AfterValidator(_in_utc)]
# Ids and codes are String(60) columns (core.model_base): longer text is refused here, at the edge,
# on both databases alike (PostgreSQL would refuse it only when writing, SQLite never).
ID_MAX = 60
# An id is compared exactly, so it is taken as sent: one with whitespace at either end is refused
# by the pattern (422), never trimmed into another id, though a body's other text is trimmed
# (InputModel). The ERP reset's lines follow the same rule (resets/rules.py; docs/api.md "Ids").
Id = Annotated[
    str,
    StringConstraints(strip_whitespace=False),
    Field(min_length=1, max_length=ID_MAX, pattern=r"^[A-Za-z0-9_.:\-]+$"),
]
# Reason ids: SPEC closes none of these sets. Variance reasons are a reference table (the seed list
# plus VAR_EXT_RESET, loadable); rejection and return reasons are the ERP's enumeration ids,
# stored as given. Their descriptions say so in the contract (no enum). Receipt-rejection reasons
# are the one closed list (receiving/schemas.py, REJECTION_REASONS: the receive form's, issue 20).
VARIANCE_REASON = (
    "One of GET /v1/variance-reasons (an unknown one is a 404). An open set in the contract: SPEC makes "
    "variance reasons a reference table (the seed list plus VAR_EXT_RESET) that data can extend"
)
OPEN_REASON = (
    "An enumeration id of the ERP (e.g. SRJ_DAMAGED), stored as given. An open set in the contract: "
    "SPEC names no list of these reasons"
)
VarianceReasonId = Annotated[Id, Field(description=VARIANCE_REASON)]
ReasonId = Annotated[Id, Field(description=OPEN_REASON)]
# An id in a path: any text the column can hold (stored rows may predate the pattern). Made on
# first use (`__getattr__`): the documents `stockledger load` validates are built of this
# module, and FastAPI, which only the routes need, is a quarter of the command's start.
if TYPE_CHECKING:
    from fastapi import Path

    PathId = Annotated[str, Path(max_length=ID_MAX)]


def __getattr__(name: str) -> Any:
    if name != "PathId":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from fastapi import Path

    made = globals()["PathId"] = Annotated[str, Path(max_length=ID_MAX)]
    return made


DUPLICATE_LINE = "duplicate_line"


def unique_lines(attribute: str, member: str) -> AfterValidator:
    """A list's validator: no two of its lines have the same `attribute` (`member` in JSON; None
    is no value, any number of lines may leave it out). A
    repeat is a 422 validation_failed listing {loc: [body, <list>], msg, type: duplicate_line},
    its msg for staff: "orderItemSeqId 10 appears twice: on lines 1 and 3"."""

    def check(lines: list[Any]) -> list[Any]:
        first: dict[Any, int] = {}
        for number, line in enumerate(lines, start=1):
            value = getattr(line, attribute)
            if value is None:  # not given: the service numbers it
                continue
            if value in first:
                raise PydanticCustomError(
                    DUPLICATE_LINE,
                    "{member} {value} appears twice: on lines {first} and {again}",
                    {"member": member, "value": value, "first": first[value], "again": number},
                )
            first[value] = number
        return lines

    return AfterValidator(check)


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; built from ORM rows or dicts."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


NO_NUL = "^[^\\u0000]*$"  # PostgreSQL text holds no NUL: core.guards refuses it anywhere in a body


def _declare_text_bound(schema: dict[str, Any]) -> None:
    """The contract says what the service enforces on text: at most ID_MAX characters unless the
    field says otherwise (str_max_length), no NUL; and only the members it reads (another is a
    422 extra_forbidden)."""
    schema["additionalProperties"] = False
    for field in schema.get("properties", {}).values():
        for branch in [field, *field.get("anyOf", ())]:
            if branch.get("type") != "string" or {"enum", "format"} & set(branch):
                continue
            branch.setdefault("maxLength", ID_MAX)
            branch.setdefault("pattern", NO_NUL)


def absent(*names: str) -> dict[str, Any]:
    """A JSON Schema of an object whose members `names` are all absent or null."""
    return {"properties": {n: {"type": "null"} for n in names}}


def given(*names: str) -> dict[str, Any]:
    """A JSON Schema of an object whose members `names` are all present and not null."""
    return {"required": list(names), "properties": {n: {"not": {"type": "null"}} for n in names}}


def refused(*shapes: dict[str, Any]) -> ConfigDict:
    """The model_config of an InputModel whose validator ties members together: its JSON Schema
    says `not` any of `shapes`, so a client knows (a `not`, not a oneOf of variants, keeps the
    model one class in a generated client)."""

    def declare(schema: dict[str, Any]) -> None:
        _declare_text_bound(schema)
        schema["not"] = {"anyOf": list(shapes)} if len(shapes) > 1 else shapes[0]

    return ConfigDict(json_schema_extra=declare)


class InputModel(ApiModel):
    """A request body: only its listed members (an unknown one, such as a misspelt `unitCst`, is
    a 422, not silently ignored). Text is at most ID_MAX characters, as the columns are, unless
    its field says otherwise (names, comments)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        str_strip_whitespace=True,
        str_max_length=ID_MAX,
        json_schema_extra=_declare_text_bound,
    )


# The entity engine's audit stamps, on every record an OFBiz export writes: the ledger keeps
# its own (created_stamp, the detail rows), so they are accepted and not stored.
OFBIZ_STAMPS = ("lastUpdatedStamp", "lastUpdatedTxStamp", "createdStamp", "createdTxStamp")
_STAMP_NAMES = frozenset(OFBIZ_STAMPS)
_STAMP_SCHEMA = {
    "type": "string",
    "maxLength": 40,
    "pattern": NO_NUL,
    "description": "OFBiz entity-engine audit stamp: accepted as an export writes it, not stored",
}


def _declare_document(schema: dict[str, Any]) -> None:
    _declare_text_bound(schema)
    schema.setdefault("properties", {}).update({stamp: dict(_STAMP_SCHEMA) for stamp in OFBIZ_STAMPS})


def _refuse_nul(data: dict[Any, Any]) -> None:
    """No NUL in a record's text members, the rule core.guards applies to an HTTP body, here in
    the model so `stockledger load` refuses the same documents POST /v1/import does (the values
    first, the member's name only once one holds a NUL: about 1 µs a record)."""
    for value in data.values():
        if type(value) is str and "\x00" in value:
            member = next(k for k, v in data.items() if type(v) is str and "\x00" in v)
            raise PydanticCustomError(
                "string_pattern_mismatch", "{member}: " + NUL_DETAIL, {"member": member}
            )


class DocumentModel(InputModel):
    """A document in the OFBiz seed formats (POST /v1/import, `stockledger load`). Like every
    body, only its listed members: the seeds' sample JSON carries no others, and a member this
    service does not read (inventoryItemVariances in a facility document) is a 422
    extra_forbidden naming it, not dropped without a word. The entity engine's audit stamps
    (OFBIZ_STAMPS), which every OFBiz export carries, are the exception: accepted, not stored."""

    model_config = ConfigDict(json_schema_extra=_declare_document)

    @model_validator(mode="before")
    @classmethod
    def _without_stamps(cls, data: Any) -> Any:
        if isinstance(data, dict):
            _refuse_nul(data)
        if isinstance(data, dict) and not _STAMP_NAMES.isdisjoint(data):  # one C call a record
            for stamp in OFBIZ_STAMPS:
                value = data.get(stamp)
                if value is not None and (not isinstance(value, str) or len(value) > 40 or "\x00" in value):
                    raise PydanticCustomError("string_type", f"{stamp} must be a timestamp string")
            return {k: v for k, v in data.items() if k not in OFBIZ_STAMPS}
        return data


class Health(ApiModel):
    """GET /healthz: the service answers and its database too."""

    status: Literal["ok"]
    database: str = Field(description="The SQLAlchemy dialect: sqlite or postgresql")
