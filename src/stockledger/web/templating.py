"""The page renderer: Jinja2 templates with filters for quantities and dates."""

import secrets
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from stockledger.auth.rules import may_call
from stockledger.web.csrf import page_token
from stockledger.web.wording import coded, item_status, named

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")


def quantity(value: Decimal | int | None) -> str:
    """A quantity as people read it: no trailing zeros, thousands separated."""
    if value is None:
        return "–"
    number = Decimal(value).normalize()
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number:,f}"


def signed(value: Decimal | None) -> str:
    """A diff with its sign: +5, −2 (a real minus sign), 0."""
    if value is None or value == 0:
        return "0"
    return ("+" if value > 0 else "−") + quantity(abs(value))


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


templates.env.filters["qty"] = quantity
templates.env.filters["when"] = when
templates.env.filters["signed"] = signed
templates.env.filters["named"] = named
templates.env.filters["coded"] = coded
templates.env.globals["item_status"] = item_status
templates.env.globals["may"] = lambda principal, method, path: may_call(principal.role, method, path)
templates.env.globals["csrf"] = page_token
templates.env.globals["form_key"] = lambda: secrets.token_urlsafe(18)  # web.reserve_once: one post each


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status_code)
