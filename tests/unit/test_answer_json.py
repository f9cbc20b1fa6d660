"""The reservation's answer written directly (reservations/answer_json.py) is the model's dump, byte
for byte, for any outcome it writes; anything else (odd text, fractional quantities) it leaves
to the model (None). So the un-keyed route's answer (api.created_answer) is the model's."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from stockledger.reservations.answer_json import answer_json
from stockledger.reservations.api import _line_out, _status, created_answer
from stockledger.reservations.lines import LineOutcome, ReservedFrom, ReserveOutcome

IDS = st.one_of(
    st.sampled_from(["P000001", "00001", "F1", "a:b.c-d_e", "A" * 60, ""]),
    st.text(max_size=12),  # any text: escapes, non-ASCII, surrogates the model writes its way
)
QUANTITIES = st.one_of(
    st.integers(min_value=-(10**9), max_value=10**9).map(Decimal),
    st.decimals(min_value=-(10**9), max_value=10**9, places=6),
    st.sampled_from([Decimal("0"), Decimal("-0"), Decimal("1.000000"), Decimal("1E+3"), Decimal("0.5")]),
)
ROWS = st.builds(ReservedFrom, IDS, QUANTITIES, QUANTITIES)
LINES = st.builds(LineOutcome, IDS, IDS, st.one_of(st.none(), IDS), QUANTITIES, st.lists(ROWS, max_size=3))
OUTCOMES = st.builds(
    ReserveOutcome, IDS, IDS, st.sampled_from(["ALL_OR_NOTHING", "PARTIAL"]), LINES.map(lambda x: [x])
)


def _dumped(outcome: ReserveOutcome) -> tuple[int, bytes]:
    answer = _line_out(outcome, outcome.lines[0])
    return _status(answer), answer.model_dump_json(by_alias=True).encode()


@given(OUTCOMES)
def test_the_answer_is_the_models_dump_for_any_outcome(outcome: ReserveOutcome) -> None:
    assert created_answer(outcome) == _dumped(outcome)


@given(OUTCOMES)
def test_what_is_written_directly_is_the_models_bytes(outcome: ReserveOutcome) -> None:
    direct = answer_json(outcome, outcome.lines[0])
    if direct is not None:
        assert direct == _dumped(outcome)[1]


def test_a_whole_reservation_of_plain_ids_is_written_directly() -> None:
    line = LineOutcome("00001", "P000001", None, Decimal(3), [ReservedFrom("I1", Decimal(3), Decimal(0))])
    outcome = ReserveOutcome("O-1", "F1", "ALL_OR_NOTHING", [line])
    assert answer_json(outcome, line) == _dumped(outcome)[1]
    assert created_answer(outcome)[0] == 201


def test_odd_text_and_fractions_are_left_to_the_model() -> None:
    row = ReservedFrom("I1", Decimal("0.5"), Decimal(0))
    fraction = LineOutcome("00001", "P1", None, Decimal("0.5"), [row])
    assert answer_json(ReserveOutcome("O", "F1", "PARTIAL", [fraction]), fraction) is None
    whole = LineOutcome("00001", "Pé", None, Decimal(1), [ReservedFrom("I1", Decimal(1), Decimal(0))])
    assert answer_json(ReserveOutcome("O", "F1", "PARTIAL", [whole]), whole) is None
