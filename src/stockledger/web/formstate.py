"""Form state for the templates, and pydantic errors turned into messages next to their fields."""

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

FORM_ERROR = "_form"  # the key of a message about the form as a whole
FORMS = ("receive", "count", "variance", "reserve", "cancel", "reset")


@dataclass
class FormState:
    id: str
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    inline: bool = True  # False: hidden fields only, every message goes above the form
    confirm: str | None = None  # a guard refused: the flag (allowNegative, additional) that overrides it


def blank_forms() -> dict[str, FormState]:
    return {name: FormState(name) for name in FORMS}


async def form_values(request: Request) -> dict[str, str]:
    """The posted text fields, trimmed (files are read by the routes that take them)."""
    form = await request.form()
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


def filled(values: dict[str, str], *names: str) -> dict[str, str]:
    """The named fields filled in: a blank optional field is absent, a blank required one is missing."""
    return {n: values[n] for n in names if values.get(n)}


def field_errors(exc: ValidationError) -> dict[str, str]:
    """One message per field, keyed by the field's name in the form (the last part of the error's path)."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        names = [part for part in error["loc"] if isinstance(part, str)]
        key = names[-1] if names else FORM_ERROR
        errors.setdefault(key, message_of(error))
    return errors


def message_of(error: Any) -> str:
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind == "greater_than_equal" and str(ctx.get("ge")) == "0":
        return "Must be zero or more; a negative number makes no sense here."
    if kind == "greater_than" and str(ctx.get("gt")) == "0":
        return "Must be more than zero."
    messages = {
        "missing": "Required.",
        "string_too_short": "Required.",
        "decimal_parsing": "Enter a number, for example 12 or 2.5.",
        "decimal_type": "Enter a number, for example 12 or 2.5.",
        "finite_number": "Enter a finite number.",
        "decimal_max_places": "Use at most 6 decimals.",
        "decimal_max_digits": "That number is too long.",
        "greater_than_equal": f"Must be {ctx.get('ge')} or more.",
        "greater_than": f"Must be more than {ctx.get('gt')}.",
        "less_than_equal": f"Must be at most {ctx.get('le')}.",
        "string_pattern_mismatch": "Use letters, digits and _ . : - only.",
        "string_too_long": f"At most {ctx.get('max_length')} characters.",
        "datetime_from_date_parsing": "Enter a date as YYYY-MM-DD.",
        "date_from_datetime_parsing": "Enter a date as YYYY-MM-DD.",
    }
    text = messages.get(kind) or str(error.get("msg", "Invalid value."))
    return text.removeprefix("Value error, ").rstrip(".") + "."
