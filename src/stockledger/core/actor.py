"""Who did it (SPEC §11): the user a write session acts for, recorded on every row it writes.

A request binds its token's user (core.scope.bind_principal, the API and the pages alike), the
CLI `cli:<os user>` or its `--user` (Database(user=…)), the inbound NATS consumer
`nats:<consumer>`. The ledger write path, the outbox and an ORM flush hook read it from the
session, so no service passes it along and no write path can forget it.
"""

import getpass
import os

from sqlalchemy import event
from sqlalchemy.orm import Session

from stockledger.core.errors import ValidationFailed

USER = "user"
MAX_USER = 60  # the user columns are String(60)
# The OFBiz columns that say who wrote a row: filled on a new row the session flushes, when unset.
WHO_COLUMNS = (
    "change_by_user_login_id",
    "received_by_user_login_id",
    "created_by_user_login_id",
    "issued_by_user_login_id",
)


def bind_user(session: Session, user: str | None) -> None:
    session.info[USER] = user


def acting_user(session: Session) -> str | None:
    """The user the session writes for; None for a session nobody bound (a service called directly)."""
    user: str | None = session.info.get(USER)
    return user


def check_user(user: str) -> None:
    """A user is a login id people recognise: printable, not blank, no surrounding blanks, not the
    anonymous "system" (any case), at most MAX_USER characters. ValidationFailed otherwise."""
    if (
        not user.strip()
        or user != user.strip()
        or not user.isprintable()
        or len(user) > MAX_USER
        or user.lower() == "system"
    ):
        raise ValidationFailed(
            f"A user is 1 to {MAX_USER} printable characters, no surrounding blanks, not 'system'",
            user=user[:MAX_USER],
        )


def cli_user(given: str | None = None) -> str:
    """The command line's user: `--user` when given (check_user: ValidationFailed if unusable),
    else `cli:<os user>`."""
    if given is not None:
        check_user(given)
        return given
    try:
        return f"cli:{getpass.getuser()}"[:MAX_USER]
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return f"cli:uid{os.getuid()}"


@event.listens_for(Session, "before_flush")
def _stamp_new_rows(session: Session, _context: object, _instances: object) -> None:
    user = session.info.get(USER)
    if user is None:
        return
    for obj in session.new:
        for column in WHO_COLUMNS:
            if getattr(obj, column, "") is None:
                setattr(obj, column, user)
