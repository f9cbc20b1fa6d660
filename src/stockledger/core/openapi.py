"""The published contract: /openapi.json shaped so a generated client can trust it.

Every operation gets an operation id in the domain's words (its route's name in camelCase, or an
explicit `operation_id=`), the problem+json answers any call may get (one shared ProblemDetails
schema), the bearer scheme (none on the open routes), the Idempotency-Key header on writes and
the answer headers (Idempotent-Replayed, Retry-After). FastAPI's own 422 (HTTPValidationError)
is not what the service answers, so it is dropped. tests/e2e/test_openapi_contract.py walks the
result and fails on any operation that escapes these rules.
"""

from collections.abc import Callable
from typing import Any, NamedTuple

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from stockledger.core.errors import PROBLEM_JSON, AppError
from stockledger.core.problem_members import PROBLEM_MEMBERS, SHORT_LINE
from stockledger.core.schemas import NO_NUL

REF = "#/components/schemas/"
PROBLEM_STATUSES = {
    400: "Bad request: malformed JSON, a bad Idempotency-Key",
    401: "No valid bearer token",
    403: "The token's role or facility scope does not allow this call",
    404: "Not found",
    405: "The path does not take this method (`Allow` names those it does)",
    409: "Conflict with the stored state (insufficient stock, a duplicate, a key in use)",
    413: "The body is larger than the service takes",
    415: "The body is not of a media type this operation takes",
    422: "The request is well formed but not valid (problem+json, `errors` lists the fields)",
    503: "The database cannot be reached, is busy, or its schema changed; retry after Retry-After seconds",
}
OPEN_STATUSES = (404, 405, 503)  # what an open route (no token) may answer besides its success
# Codes answered outside AppError subclasses (middlewares, exception handlers); AppError's are added.
OTHER_CODES = (
    "bad_request",
    "malformed_json",
    "invalid_idempotency_key",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "conflict",
    "payload_too_large",
    "unsupported_media_type",
    "validation_failed",
    "database_unavailable",
    "schema_changed",
    "database_busy",
    "http_error",
    "internal_error",
)
RETRY_AFTER = {
    "description": "Seconds to wait before retrying",
    "schema": {"type": "integer", "minimum": 0},
}
ALLOW = {
    "description": "The methods the path takes, comma-separated (HEAD wherever GET is)",
    "schema": {"type": "string"},
}
REPLAYED = {
    "description": "Present (`true`) when this is the stored first answer to the same Idempotency-Key",
    "schema": {"type": "string", "enum": ["true"]},
}


class AccessRules(NamedTuple):
    """What the contract declares of the features' rules, handed in by the app (core imports no
    feature): which paths need no token, which methods are writes, the longest Idempotency-Key."""

    is_open: Callable[[str], bool]
    write_methods: frozenset[str]
    max_key_length: int


def _idempotency_key(max_length: int) -> dict[str, Any]:
    return {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": "Repeat a write safely: the same key and body get the first answer again (24 h)",
        "schema": {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": "^[!-~]+$"},
    }


BEARER = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "An API token (stockledger token)"}
}


# Models of request bodies a route reads itself (declared with `documented_body`), by name.
DOCUMENTED: dict[str, type[BaseModel]] = {}


def documented_body(
    name: str,
    *shapes: type[BaseModel] | list[type[BaseModel]],
    example: Any = None,
    csv: Any = None,
) -> dict[str, Any]:
    """`openapi_extra` of a route that reads its body itself: the body is any of `shapes` (a model,
    or [model] for a JSON array of them), under `name` when there are several; `csv`: an example
    of the CSV body it takes too (text/csv, or the same bytes as application/octet-stream)."""
    branches: list[dict[str, Any]] = []
    for shape in shapes:
        model = shape[0] if isinstance(shape, list) else shape
        DOCUMENTED[model.__name__] = model
        ref = {"$ref": REF + model.__name__}
        branches.append({"type": "array", "items": ref} if isinstance(shape, list) else ref)
    if len(branches) > 1:
        DOCUMENTED_UNIONS[name] = branches
    json_body: dict[str, Any] = {"schema": {"$ref": REF + name}}
    if example is not None:
        json_body["example"] = example
    content: dict[str, Any] = {"application/json": json_body}
    body: dict[str, Any] = {"required": True, "content": content}
    if csv is not None:  # text/csv is declared as an extension: typed clients' generators skip it
        header = csv.split("\n", 1)[0]  # the columns, in the order of the example
        content[OCTET_STREAM] = {"schema": {"type": "string", "format": "binary"}}  # example: x-text-csv
        body["description"] = CSV_BODY
        body[CSV_EXTENSION] = {"schema": {"type": "string", "pattern": f"^{header}\n"}, "example": csv}
    return {"requestBody": body}


OCTET_STREAM = "application/octet-stream"
CSV_EXTENSION = "x-text-csv"
CSV_BODY = (
    "JSON, or CSV text (a header row naming the columns, then a line each): sent as `text/csv` "
    f"(declared under `{CSV_EXTENSION}`, as generators of typed clients take no text/csv body) "
    f"or as `{OCTET_STREAM}`, the same bytes (what a generated client's File body sends)."
)


DOCUMENTED_UNIONS: dict[str, list[dict[str, Any]]] = {}


def _documented_schemas() -> dict[str, Any]:
    if not DOCUMENTED:
        return {}
    pairs = [(model, "validation") for model in DOCUMENTED.values()]
    _, found = models_json_schema(pairs, ref_template=REF + "{model}")  # type: ignore[arg-type]
    schemas: dict[str, Any] = dict(found.get("$defs", {}))
    for name, branches in DOCUMENTED_UNIONS.items():
        schemas[name] = branches[0] if len(branches) == 1 else {"title": name, "anyOf": branches}
    return schemas


def operation_id(route: APIRoute) -> str:
    """The route's name in camelCase: create_reservation -> createReservation."""
    head, *rest = route.name.split("_")
    return head + "".join(word.capitalize() for word in rest)


def problem_codes() -> list[str]:
    """Every `code` a problem+json may carry."""
    codes = set(OTHER_CODES)
    pending: list[type[AppError]] = [AppError]
    while pending:
        kind = pending.pop()
        codes.add(kind.code)
        pending.extend(kind.__subclasses__())
    return sorted(codes)


def problem_schemas() -> dict[str, Any]:
    return {
        "ProblemDetails": {
            "title": "ProblemDetails",
            "type": "object",
            "description": "RFC 9457 problem details; `code` is stable, other members depend on it",
            "required": ["type", "title", "status", "detail", "code"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "code": {"$ref": REF + "ProblemCode"},
                "instance": {"type": "string"},
                "errors": {"type": "array", "items": {"$ref": REF + "FieldError"}},
                "errorCount": {"type": "integer", "minimum": 0},
                **PROBLEM_MEMBERS,
            },
            "additionalProperties": True,
        },
        "ShortLine": SHORT_LINE,
        "ProblemCode": {"title": "ProblemCode", "type": "string", "enum": problem_codes()},
        "FieldError": {
            "title": "FieldError",
            "type": "object",
            "required": ["loc", "msg", "type"],
            "properties": {
                "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                "msg": {"type": "string"},
                "type": {"type": "string"},
            },
        },
    }


def _problem_response(status: int) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": PROBLEM_STATUSES[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": REF + "ProblemDetails"}}},
    }
    if status == 503:
        answer["headers"] = {"Retry-After": RETRY_AFTER}
    if status == 405:
        answer["headers"] = {"Allow": ALLOW}
    return answer


def _shape_operation(path: str, method: str, operation: dict[str, Any], rules: AccessRules) -> None:
    for parameter in operation.get("parameters", []):  # core.guards: no NUL in a path or a query
        for branch in [parameter["schema"], *parameter["schema"].get("anyOf", ())]:
            if branch.get("type") == "string" and "format" not in branch:
                branch.setdefault("pattern", NO_NUL)
    for media in operation.get("requestBody", {}).get("content", {}).values():
        if "$ref" in media.get("schema", {}):  # a documented body: the $ref stands alone
            media["schema"] = {"$ref": media["schema"]["$ref"]}
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for answer in responses.values():
        for media in answer.get("content", {}).values():  # FastAPI's "Response Xyz" title of a union
            if str(media.get("schema", {}).get("title", "")).startswith("Response "):
                del media["schema"]["title"]
    responses.pop("422", None)  # FastAPI's HTTPValidationError: never what the service answers
    open_route = rules.is_open(path)
    for status in OPEN_STATUSES if open_route else PROBLEM_STATUSES:
        responses.setdefault(str(status), _problem_response(status))
    if open_route:
        operation["security"] = []
    if method.upper() in rules.write_methods and path.startswith("/v1/"):
        operation.setdefault("parameters", []).append(_idempotency_key(rules.max_key_length))
        for code, answer in responses.items():
            if code.startswith("2"):
                answer.setdefault("headers", {})["Idempotent-Replayed"] = REPLAYED


# Python class suffixes that are not words of the domain: AvailabilityOut is an Availability.
SUFFIXES = (("Out", ""), ("In", "Input"), ("Doc", "Document"))


def public_name(name: str) -> str:
    """A model's name in the contract: its class name without the DTO suffix."""
    for suffix, replacement in SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)] + replacement
    return name


def _renamed(node: Any, names: dict[str, str]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF) and ref[len(REF) :] in names:
            node = {**node, "$ref": REF + names[ref[len(REF) :]]}
        return {key: _renamed(value, names) for key, value in node.items()}
    if isinstance(node, list):
        return [_renamed(value, names) for value in node]
    return node


def _public_names(schema: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = schema["components"]["schemas"]
    names = {name: public_name(name) for name in schemas if public_name(name) != name}
    taken = set(schemas) - set(names)
    clashes = sorted(new for new in names.values() if new in taken or list(names.values()).count(new) > 1)
    if clashes:
        raise RuntimeError(f"two models would share a name in the contract: {clashes}")
    renamed: dict[str, Any] = _renamed(schema, names)
    renamed["components"]["schemas"] = {
        names.get(name, name): {**found, "title": names.get(name, name)} if "title" in found else found
        for name, found in renamed["components"]["schemas"].items()
    }
    return renamed


def shape(schema: dict[str, Any], rules: AccessRules) -> dict[str, Any]:
    """`schema` (FastAPI's) as the contract: see the module's docstring."""
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for default in ("HTTPValidationError", "ValidationError"):
        schemas.pop(default, None)
    for name, found in _documented_schemas().items():
        schemas.setdefault(name, found)
    schemas.update(problem_schemas())
    components["securitySchemes"] = BEARER
    schema["security"] = [{"bearerAuth": []}]
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            _shape_operation(path, method, operation, rules)
    return _public_names(schema)


def install(app: FastAPI, rules: AccessRules) -> None:
    """Serve the shaped contract at /openapi.json (built once, on first use)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def contract() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = shape(build(), rules)
        return app.openapi_schema

    app.openapi = contract  # type: ignore[method-assign]
