"""Routes of reservations: one order item, a whole order, release, and the pick list."""

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from starlette.concurrency import run_in_threadpool

from stockledger.core.deps import WRITE_SESSION, ReadSession, WriteSession, get_database, write_session
from stockledger.core.exact_json import ExactJsonRoute
from stockledger.core.pagination import Cursor, Key3Cursor, Limit, decode_cursor, encode_cursor, page_of
from stockledger.core.schemas import PathId
from stockledger.reservations import picking, reads, service
from stockledger.reservations.answer_json import answer_json
from stockledger.reservations.release import Released
from stockledger.reservations.schemas import (
    OrderItemReservation,
    OrderReservationList,
    OrderReservationOut,
    PickList,
    PickSuggestion,
    ReleasedRowOut,
    ReleaseResult,
    ReservationRequest,
    ReservationRow,
    ReserveOrderRequest,
    ReserveOrderResult,
)
from stockledger.reservations.service import LineOutcome, ReserveLine, ReserveOutcome

# The scope key under which reservations.fast_reserve hands the full stack the error its call raised.
FAST_PATH_FAILED = "stockledger.reserve_failed"

router = APIRouter(prefix="/v1", tags=["reservations"], route_class=ExactJsonRoute)


@router.post(
    "/reservations",
    response_model=OrderItemReservation,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": OrderItemReservation, "description": "PARTIAL, nothing available: nothing created"}
    },
)
async def create_reservation(body: ReservationRequest, request: Request) -> Response:
    """createOrderItemInventoryReservation: ATP − quantity over the product's items, FEFO."""
    # The hot write. The request owns the transaction: with an Idempotency-Key the middleware's
    # is open (the key's claim and stored answer commit with the change), and the service writes
    # the line in it; without, the service gets the Database and how to open the request's
    # transaction, and the ledger writes the line alone where it can (PostgreSQL: one statement
    # on the event loop, no thread hop). The rest in ONE worker-thread hop (a sync route with a
    # sync dependency costs four). A Response either way, so FastAPI does not validate and
    # encode the answer again.
    line = ReserveLine(
        body.order_item_seq_id, body.product_id, body.quantity, body.lot_id, body.allow_expired
    )
    failed = request.scope.get(FAST_PATH_FAILED)
    if failed is not None:  # the fast path's call failed (reservations.fast_reserve): its error
        raise failed
    if getattr(request.state, WRITE_SESSION, None) is not None:
        return await run_in_threadpool(_reserve_keyed, request, body, line)
    outcome = await service.reserve_line_async(
        get_database(request),
        body.order_id,
        body.facility_id,
        line,
        body.fill,
        getattr(request.state, "principal", None),
        open_transaction=lambda: write_session(request),
    )
    code, answer = created_answer(outcome)
    return Response(answer, code, media_type="application/json")


def _reserve_keyed(request: Request, body: ReservationRequest, line: ReserveLine) -> Response:
    """In the keyed request's transaction (core.deps.write_session: the middleware's)."""
    with write_session(request) as session:
        outcome = service.reserve_stock(session, body.order_id, body.facility_id, [line], body.fill)
        answer = _line_out(outcome, outcome.lines[0])
    return _answer(answer)


def created_answer(outcome: ReserveOutcome) -> tuple[int, bytes]:
    """The un-keyed route's status and body (reservations.fast_reserve answers with them too);
    the body written directly when it is plain (reservations/answer_json.py), else dumped."""
    line = outcome.lines[0]
    direct = answer_json(outcome, line)
    if direct is not None:
        return _status_of(line.quantity_reserved), direct
    answer = _line_out(outcome, line)
    return _status(answer), answer.model_dump_json(by_alias=True).encode()


def _status(answer: OrderItemReservation) -> int:
    return _status_of(answer.quantity_reserved)


def _status_of(quantity_reserved: Decimal) -> int:
    # PARTIAL with nothing there: nothing created
    return status.HTTP_200_OK if quantity_reserved == 0 else status.HTTP_201_CREATED


def _answer(answer: OrderItemReservation) -> Response:
    return Response(answer.model_dump_json(by_alias=True), _status(answer), media_type="application/json")


@router.delete("/reservations/{order_id}/{order_item_seq_id}", response_model=ReleaseResult)
def cancel_reservation(
    order_id: PathId,
    order_item_seq_id: PathId,
    session: WriteSession,
    facility_id: Annotated[str | None, Query(alias="facilityId")] = None,
) -> ReleaseResult:
    """cancelOrderItemInventoryReservation: every active reservation of the item, ATP + released."""
    return release_out(service.cancel_reservation(session, facility_id, order_id, order_item_seq_id))


@router.post("/orders/{order_id}/reserve", response_model=ReserveOrderResult)
def reserve_order(order_id: PathId, body: ReserveOrderRequest, session: WriteSession) -> ReserveOrderResult:
    """reserveStock: all lines in one transaction (ALL_OR_NOTHING, PARTIAL or BACKORDER)."""
    lines = [
        ReserveLine(i.order_item_seq_id, i.product_id, i.quantity, i.lot_id, body.allow_expired)
        for i in body.items
    ]
    outcome = service.reserve_stock(session, order_id, body.facility_id, lines, body.fill)
    items = [_line_out(outcome, line) for line in outcome.lines]
    return ReserveOrderResult(
        order_id=outcome.order_id,
        facility_id=outcome.facility_id,
        fill=outcome.fill,
        quantity_reserved=sum(i.quantity_reserved for i in items),
        quantity_not_available=sum(i.quantity_not_available for i in items),
        quantity_unreserved=sum(i.quantity_unreserved for i in items),
        items=items,
    )


@router.get("/orders/{order_id}/pick-suggestions", response_model=PickList)
def pick_suggestions(
    order_id: PathId,
    session: ReadSession,
    limit: Limit = 100,
    cursor: Cursor = None,
    allow_expired: Annotated[
        bool, Query(alias="allowExpired", description="Also list reservations on expired lots")
    ] = False,
) -> PickList:
    """The order's active reservations to pick, FEFO, with locations; only INV_AVAILABLE stock,
    and no expired lot unless `allowExpired=true`. Nothing reserved (or nothing visible): an empty list."""
    start = int((decode_cursor(cursor, int) or [0])[0])
    rows = picking.pick_suggestions(session, order_id, allow_expired)
    page = rows[start : start + limit]
    following = encode_cursor([start + limit]) if start + limit < len(rows) else None
    return PickList(
        order_id=order_id,
        items=[PickSuggestion.model_validate(r) for r in page],
        next=following,
    )


@router.get(
    "/orders/{order_id}/reservations",
    response_model=OrderReservationList,
    operation_id="listOrderReservations",
    summary="getReservationsForItem: an order's reservations",
)
def list_order_reservations(
    order_id: PathId, session: ReadSession, limit: Limit = 100, cursor: Key3Cursor = None
) -> OrderReservationList:
    """Every reservation of the order (active and cancelled) in the token's facilities, by facility,
    order item and inventory item: product, item, lot, quantity, quantityNotAvailable, status."""
    after = decode_cursor(cursor, str, str, str)
    key = (after[0], after[1], after[2]) if after else None
    rows = reads.order_reservations(session, order_id, key, limit + 1)
    page, following = page_of(rows, limit, lambda r: r.key)
    return OrderReservationList(
        order_id=order_id, items=[OrderReservationOut.model_validate(r) for r in page], next=following
    )


def _line_out(outcome: ReserveOutcome, line: LineOutcome) -> OrderItemReservation:
    return OrderItemReservation(
        order_id=outcome.order_id,
        order_item_seq_id=line.order_item_seq_id,
        product_id=line.product_id,
        facility_id=outcome.facility_id,
        lot_id=line.lot_id,
        quantity_requested=line.quantity_requested,
        quantity_reserved=line.quantity_reserved,
        quantity_not_available=line.quantity_not_available,
        quantity_unreserved=line.quantity_unreserved,
        reservations=[ReservationRow.model_validate(r) for r in line.reservations],
    )


def release_out(released: Released) -> ReleaseResult:
    return ReleaseResult(
        order_id=released.order_id,
        order_item_seq_id=released.order_item_seq_id,
        quantity_released=released.quantity_released,
        releases=[ReleasedRowOut.model_validate(r) for r in released.rows],
    )
