"""Every timestamp a client sends is an Instant (core.schemas): held in UTC from the edge, an
instant the calendar cannot hold in UTC refused there (422), in one place, not per route."""

import typing
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError

from stockledger.app import create_app
from stockledger.core.schemas import InputModel, Instant


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    return found.union(*(_subclasses(c) for c in found))


def _bare_datetimes(annotation: object) -> int:
    """How many datetimes in `annotation` are not an Instant."""
    if annotation is datetime:
        return 1
    if typing.get_origin(annotation) is typing.Annotated:
        base, *metadata = typing.get_args(annotation)
        if base is datetime:
            return 0 if any(getattr(m, "func", None) is _in_utc() for m in metadata) else 1
        return _bare_datetimes(base)
    return sum(_bare_datetimes(a) for a in typing.get_args(annotation))


def _in_utc() -> object:
    (validator,) = typing.get_args(Instant)[1:]
    return validator.func


def test_every_timestamp_of_a_request_body_is_an_instant(tmp_path: object) -> None:
    create_app("sqlite://")  # imports every feature's DTOs
    models: set[type[BaseModel]] = _subclasses(InputModel)
    assert len(models) > 20
    bare = [
        f"{model.__module__}.{model.__name__}.{name}"
        for model in models
        for name, field in model.model_fields.items()
        if _bare_datetimes(field.rebuild_annotation()) > 0
    ]
    assert bare == []


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    """The app's routes, those of included routers too."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif (included := getattr(route, "original_router", None)) is not None:
            found.extend(_api_routes(included.routes))
    return found


def test_every_timestamp_of_a_query_is_an_instant() -> None:
    app = create_app("sqlite://")
    queried = [
        (route.path, param.name, param.field_info.annotation)
        for route in _api_routes(app.routes)
        for param in route.dependant.query_params
    ]
    assert ("/v1/availability", "as_of") in {(p, n) for p, n, _ in queried}
    assert [(p, n) for p, n, a in queried if _bare_datetimes(a) > 0] == []


def test_an_instant_is_held_in_utc_and_refused_past_the_calendar() -> None:
    instant = TypeAdapter(Instant)
    assert instant.validate_python("2026-03-01T14:00:00+02:00") == datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert instant.validate_python("2026-03-01T12:00:00").tzinfo is UTC  # no offset: UTC
    assert instant.validate_python(datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=1))))
    for moment in ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+00:01"):
        with pytest.raises(ValidationError, match="outside the calendar"):
            instant.validate_python(moment)
