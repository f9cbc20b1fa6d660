"""Declarative base shared by every feature's tables."""

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import DateTime, MetaData, String
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from stockledger.core.fixed import Fixed6

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Now, in UTC (timezone-aware). The database stores naive UTC; see UtcDateTime."""
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """An instant comparable with any other: a naive one is UTC (as stored; some lean reads
    return them so)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC on both databases; read back timezone-aware (UTC), so the API
    writes RFC 3339 timestamps with an offset. Naive values coming in are taken as UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {Decimal: Fixed6(), datetime: UtcDateTime(), str: String(60)}
