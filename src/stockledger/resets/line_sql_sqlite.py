"""The SQL of resets/set_based_sqlite.py: each reset line judged, then the diffs, items and postings.

The lines are staged (resets/staging_sqlite.py) into one table, STAGED_LINES, which the judging
fills in (kind, code, micros) and every later step reads. A CSV line that is plain (PLAIN_LINE: two
ids made of the Id pattern's characters, one quantity of at most nine digits, the other empty)
is judged as it is inserted (PLAIN_MICROS); CHECK judges the others, after staging.

CHECK says in SQLite's SQL what resets/rules.py says in Python (tests/integration/test_reset_line_sql.py
holds them to the same code for every kind of line), without regular expressions: ids as given
(compared exactly: not trimmed) and made of the Id pattern's characters (GLOB), 1 to 60 of them;
exactly one quantity given (trimmed of what str.strip() trims, WHITESPACE); a CSV quantity in
the grammar `-?[0-9]+(.[0-9]+)?`, at least 0, at most 10^9, at most 6 decimals, read exactly
(integer part and six decimals as integers, never a float). A JSON number in another form (an
exponent, NaN, Infinity: what Decimal reads) is 'defer', and so is a line with a NUL in a field:
set_based_sqlite.py asks the rules themselves about such a line.

SQL in SQLite's dialect (GLOB, printf, UPDATE … FROM of an aliased table, temporary tables that
outlive the transaction, WITHOUT ROWID): reached only where core.dialects.stages_set_based and
serialises_writers say the database can (resets/set_based_sqlite.py). No row is locked: the
database lets one writer run at a time, so what this transaction reads stays as read.
"""

from stockledger.core.dialects import UTC_NOW_IN_SERIALISED_STATEMENTS
from stockledger.core.quantities import MAX_QUANTITY
from stockledger.reservations.rules import INV_AVAILABLE
from stockledger.resets.rules import ID_PATTERN

NOT_ID = "'*[^-A-Za-z0-9_.:]*'"  # a character outside ID_PATTERN's class (the hyphen first: a literal)
_NOT_DIGIT = "'*[^0-9]*'"
assert ID_PATTERN.pattern == r"^[A-Za-z0-9_.:\-]{1,60}$", "NOT_ID must say what ID_PATTERN says"
MAX_MICROS = int(MAX_QUANTITY) * 1_000_000


def _is_id(text: str) -> str:
    return f"(coalesce(length({text}) BETWEEN 1 AND 60 AND {text} NOT GLOB {NOT_ID}, 0))"


# Each line as received (see resets/staging_pg.py for what qoh, atp, qk, ak, pre_code and
# pre_message hold; f and p: the ids as given), then as judged: `kind` ('q' or 'a', the quantity
# given), `code` (why the line fails; NULL: usable), `micros` (the quantity in millionths).
# Not yet judged: `micros` and `code` NULL.
STAGED_LINES = "reset_staged_line"
CREATE_STAGED = (
    f"CREATE TEMP TABLE {STAGED_LINES} (ord INTEGER PRIMARY KEY, line INTEGER, f TEXT, p TEXT, qoh TEXT, "
    "atp TEXT, qk TEXT, ak TEXT, pre_code TEXT, pre_message TEXT, kind TEXT, code TEXT, micros INTEGER)"
)
# A CSV row as the reader gives it (?1 line, ?2 facilityId, ?3 productId, ?4 quantityOnHand,
# ?5 availableToPromise, ?6 why it is misshapen) is plain when it is well shaped, both ids are
# 1 to 60 of the Id pattern's characters, and exactly one quantity is given, 1 to 9 digits (below
# MAX_QUANTITY), the other empty or absent: what the rules make of it is then known (usable, that
# quantity, not trimmed: there is nothing to trim). No NUL: SQLite's length() of text stops at
# one, the length of its bytes does not (the GLOBs saw only what came before it).


def _plain_text(value: str, most: int, not_in: str) -> str:
    return (
        f"length({value}) BETWEEN 1 AND {most} AND {value} NOT GLOB {not_in}"
        f" AND length({value}) = length(CAST({value} AS BLOB))"
    )


_PLAIN_IDS = f"{_plain_text('?2', 60, NOT_ID)} AND {_plain_text('?3', 60, NOT_ID)}"
assert MAX_QUANTITY >= 10**9 - 1, "a plain quantity (9 digits) must be in range"
PLAIN_LINE = (
    f"?6 IS NULL AND {_PLAIN_IDS} AND CASE WHEN coalesce(?5, '') = '' THEN {_plain_text('?4', 9, _NOT_DIGIT)}"
    f" WHEN coalesce(?4, '') = '' THEN {_plain_text('?5', 9, _NOT_DIGIT)} END"
)
PLAIN_KIND = "CASE WHEN coalesce(?4, '') <> '' THEN 'q' ELSE 'a' END"  # read where PLAIN_MICROS is
PLAIN_MICROS = f"CASE WHEN {PLAIN_LINE} THEN CAST(coalesce(nullif(?4, ''), ?5) AS INTEGER) * 1000000 END"


OUT_OF_SCOPE = f"""
SELECT line, trim(f, :ws) FROM {STAGED_LINES}
WHERE trim(f, :ws) <> '' AND trim(f, :ws) NOT IN :scope ORDER BY ord LIMIT 1
"""

# tq, ta: the quantities trimmed; t: the one given, u: t without its minus sign; `plain`: u in the
# grammar [0-9]+(.[0-9]+)?, dot: where its point is; ip, fp: its integer and fractional digits.
# Each step a subquery with OFFSET 0, which SQLite runs as a co-routine instead of flattening it:
# a trim is computed once a line, where the flattened query repeated it in every expression
# naming its column (20,000 lines: 1.9 s, 0.13 s as co-routines).
_STEP = "LIMIT -1 OFFSET 0"
_NOT_NUMBER = "'*[^-0-9.]*'"  # a character no plain number holds


def _trimmed(text: str, unusual: str) -> str:
    """`text` trimmed of WHITESPACE; kept as it is (no trim to run) when it holds none of the
    characters `unusual` stands for (none of them is whitespace)."""
    return f"CASE WHEN {text} NOT GLOB {unusual} THEN {text} ELSE trim({text}, :ws) END"


# A NUL in a field (a CSV line's: its bytes, which SQLite's string functions would stop at):
# left to the rules.
_FIELDS = " || ".join(f"coalesce({c}, '')" for c in ("f", "p", "qoh", "atp"))
_NUL = f"instr(CAST({_FIELDS} AS BLOB), x'00') > 0"
_QG = "coalesce(qk IN ('n', 'x') OR tq <> '', 0)"
_AG = "coalesce(ak IN ('n', 'x') OR ta <> '', 0)"
_T = f"CASE WHEN {_QG} THEN tq ELSE ta END"
_DIGITS = "u <> '' AND u NOT GLOB '*[^0-9.]*'"
_PLAIN = (
    f"coalesce({_DIGITS} AND instr(u, '.') <> 1 AND substr(u, -1) <> '.' "
    "AND instr(substr(u, instr(u, '.') + 1), '.') = 0, 0)"
)
_IP = "CASE WHEN instr(u, '.') > 0 THEN substr(u, 1, instr(u, '.') - 1) ELSE u END"
_FP = "CASE WHEN instr(u, '.') > 0 THEN substr(u, instr(u, '.') + 1) ELSE '' END"
CHECK = f"""
UPDATE {STAGED_LINES} SET kind = c.kind, code = c.code, micros = c.micros
FROM (
SELECT ord, kind,
       CASE WHEN pre_code IS NOT NULL THEN pre_code
            WHEN nul THEN 'defer'
            WHEN NOT ({_is_id("f")} AND {_is_id("p")}) THEN 'invalid_line'
            WHEN qg AND ag THEN 'both_quantities'
            WHEN NOT (qg OR ag) THEN 'no_quantity'
            WHEN k IN ('s', 'x') THEN 'invalid_quantity'
            WHEN NOT plain THEN CASE k WHEN 'n' THEN 'defer' ELSE 'invalid_quantity' END
            WHEN negative THEN 'negative_quantity'
            WHEN micros IS NULL OR micros > {MAX_MICROS} OR substr(fp, 7) GLOB '*[1-9]*'
                 THEN 'invalid_quantity'
       END AS code,
       CASE WHEN NOT negative THEN micros END AS micros
FROM (
    SELECT ord, pre_code, nul, f, p, qg, ag, kind, k, plain, negative, fp,
           CASE WHEN plain AND length(ltrim(ip, '0')) <= 10
                THEN CAST(ip AS INTEGER) * 1000000 + CAST(substr(fp || '000000', 1, 6) AS INTEGER)
           END AS micros
    FROM (
        SELECT ord, pre_code, nul, f, p, qg, ag, kind, k, {_PLAIN} AS plain,
               coalesce(t GLOB '-*' AND u GLOB '*[1-9]*', 0) AS negative, {_IP} AS ip, {_FP} AS fp
        FROM (
            SELECT ord, pre_code, nul, f, p, {_QG} AS qg, {_AG} AS ag,
                   CASE WHEN {_QG} THEN 'q' ELSE 'a' END AS kind, CASE WHEN {_QG} THEN qk ELSE ak END AS k,
                   {_T} AS t, CASE WHEN {_T} GLOB '-*' THEN substr({_T}, 2) ELSE {_T} END AS u
            FROM (
                SELECT ord, pre_code, {_NUL} AS nul, f, p,
                       coalesce(qk, CASE WHEN qoh IS NOT NULL THEN 't' END) AS qk,
                       coalesce(ak, CASE WHEN atp IS NOT NULL THEN 't' END) AS ak,
                       {_trimmed("qoh", _NOT_NUMBER)} AS tq, {_trimmed("atp", _NOT_NUMBER)} AS ta
                FROM {STAGED_LINES} WHERE micros IS NULL AND code IS NULL ORDER BY ord {_STEP}
            ) {_STEP}
        ) {_STEP}
    ) {_STEP}
)
) AS c
WHERE {STAGED_LINES}.ord = c.ord
"""

DEFERRED = f"""
SELECT ord, line, f, p, qoh, atp, coalesce(qk, CASE WHEN qoh IS NOT NULL THEN 't' END),
       coalesce(ak, CASE WHEN atp IS NOT NULL THEN 't' END) FROM {STAGED_LINES}
WHERE code = 'defer' ORDER BY ord
"""
JUDGED = f"UPDATE {STAGED_LINES} SET code = :code, kind = :kind, micros = :micros WHERE ord = :ord"

UNKNOWN = f"""
UPDATE {STAGED_LINES} AS c
SET code = CASE WHEN NOT EXISTS (SELECT 1 FROM facility fa WHERE fa.facility_id = c.f)
                THEN 'unknown_facility' ELSE 'unknown_product' END
WHERE c.code IS NULL AND (NOT EXISTS (SELECT 1 FROM facility fa WHERE fa.facility_id = c.f)
                          OR NOT EXISTS (SELECT 1 FROM product pr WHERE pr.product_id = c.p))
"""

# The test of SPEC §11 for the item `i`: what a new reservation can take now.
PROMISABLE = (
    f"(i.status_id = '{INV_AVAILABLE}'"
    f" AND (i.expire_date IS NULL OR i.expire_date > {UTC_NOW_IN_SERIALISED_STATEMENTS}))"
)

# The usable lines indexed by product: unique where each product is named once (the usual file;
# the index's build finds a product named twice, undone alone, and builds it again not unique).
LINES_BY_PRODUCT = (
    "CREATE {unique}INDEX temp.reset_line_product ON " + STAGED_LINES + " (f, p) WHERE code IS NULL"
)

# The current totals of each product named (QOH over its items in the facility, ATP over its
# promisable ones: SPEC §11); then each line's diff: a line sets QOH (or ATP), and the same diff
# moves both, so QOH − ATP (`gap`) stays what it was and the totals after a line depend on that
# line alone; its diff is them minus the totals after the line before it on the same product (or
# the current ones). Each product named once, that is the current ones (DIFF_EACH_ONCE); else the
# line before is found through the index of the lines by product (DIFF_IN_ORDER: one search a
# line; a window over the lines sorted by product cost twice as much: 100,000 lines 0.2 s).
# `first`: the product's first line.
CURRENT = [
    "CREATE TEMP TABLE reset_current (f TEXT, p TEXT, q INTEGER, a INTEGER, PRIMARY KEY (f, p))"
    " WITHOUT ROWID",
    f"""
INSERT INTO reset_current
SELECT x.f, x.p, sum(i.quantity_on_hand_total),
       sum(CASE WHEN {PROMISABLE} THEN i.available_to_promise_total ELSE 0 END)
FROM (SELECT DISTINCT f, p FROM {STAGED_LINES} WHERE code IS NULL) x
CROSS JOIN inventory_item i ON i.facility_id = x.f AND i.product_id = x.p
GROUP BY x.f, x.p
""",
    "CREATE TEMP TABLE reset_diff (ord INTEGER PRIMARY KEY, line INTEGER, f TEXT, p TEXT, diff INTEGER, "
    "after_q INTEGER, after_a INTEGER, first INTEGER)",
]
_AFTER = f"""
        SELECT c.ord, c.line, c.f, c.p, coalesce(cur.q, 0) AS cur_q,
               coalesce(cur.q, 0) - coalesce(cur.a, 0) AS gap,
               CASE c.kind WHEN 'q' THEN c.micros
                    ELSE c.micros + coalesce(cur.q, 0) - coalesce(cur.a, 0) END AS after_q
        FROM {STAGED_LINES} c LEFT JOIN reset_current cur ON cur.f = c.f AND cur.p = c.p
        WHERE c.code IS NULL"""
DIFF_EACH_ONCE = f"""
INSERT INTO reset_diff
SELECT ord, line, f, p, after_q - cur_q, after_q, after_q - gap, 1
FROM ({_AFTER}
)
"""
DIFF_IN_ORDER = f"""
INSERT INTO reset_diff
SELECT ord, line, f, p, after_q - coalesce(before_q, cur_q), after_q, after_q - gap, before_q IS NULL
FROM (
    SELECT c.*, (SELECT CASE b.kind WHEN 'q' THEN b.micros ELSE b.micros + c.gap END
                 FROM {STAGED_LINES} b
                 WHERE b.f = c.f AND b.p = c.p AND b.code IS NULL AND b.ord < c.ord
                 ORDER BY b.ord DESC LIMIT 1) AS before_q
    FROM ({_AFTER}
    ) c
    {_STEP}
)
"""

# findOrCreateFacilityInventoryItem for every changed product without a promisable linked item
# (none linked, or a held item or an expired lot: what the run sets would not show in its ATP),
# as resets/facility_items.py does it for a batch: the oldest promisable item already there,
# else a new one (its id: the run's prefix and the `ord` of the product's first line, unique in
# the run); the link inserted with it or pointed at it (nothing else writes while this
# transaction does, so the link is still what the run read). A product is taken at its first
# line (no DISTINCT, no window to number them), changed when that line or one after it changed
# something. The new items are inserted by the ledger with their first postings
# (ledger/staged_sqlite.py). Then every product named that has no item gets its link row, as
# the line batches' lock_links leaves it: the product of a line that changed nothing has none yet.
NEW_ITEMS = [
    "CREATE TEMP TABLE reset_new_item (f TEXT, p TEXT, item TEXT, fresh INTEGER, PRIMARY KEY (f, p))"
    " WITHOUT ROWID",
    f"""
INSERT INTO reset_new_item
SELECT f, p, coalesce(o, :prefix || printf('%08d', ord)), o IS NULL
FROM (
    SELECT d.ord, d.f, d.p,
           CASE WHEN EXISTS (SELECT 1 FROM reset_current cur WHERE cur.f = d.f AND cur.p = d.p)
                THEN (SELECT i.inventory_item_id FROM inventory_item i
                      WHERE i.facility_id = d.f AND i.product_id = d.p AND {PROMISABLE}
                      ORDER BY i.created_stamp, i.inventory_item_id LIMIT 1) END AS o
    FROM reset_diff d
    LEFT JOIN product_facility pf ON pf.facility_id = d.f AND pf.product_id = d.p
    LEFT JOIN inventory_item i
           ON i.facility_id = pf.facility_id AND i.inventory_item_id = pf.inventory_item_id
    WHERE d.first AND NOT coalesce({PROMISABLE}, 0)
      AND (d.diff <> 0 OR EXISTS (SELECT 1 FROM {STAGED_LINES} b JOIN reset_diff e ON e.ord = b.ord
                                  WHERE b.f = d.f AND b.p = d.p AND b.code IS NULL AND b.ord > d.ord
                                    AND e.diff <> 0))
    {_STEP}
)
""",
]
FIND_OR_CREATE = [
    """
INSERT INTO product_facility (facility_id, product_id, inventory_item_id)
SELECT f, p, item FROM reset_new_item WHERE true ORDER BY f, p
ON CONFLICT (facility_id, product_id) DO UPDATE SET inventory_item_id = excluded.inventory_item_id
""",
    """
INSERT INTO product_facility (facility_id, product_id)
SELECT DISTINCT d.f, d.p FROM reset_diff d
WHERE d.diff = 0 AND NOT EXISTS (SELECT 1 FROM reset_current cur WHERE cur.f = d.f AND cur.p = d.p)
ORDER BY d.f, d.p
ON CONFLICT (facility_id, product_id) DO NOTHING
""",
]


COUNTS = f"SELECT count(code), count(*) - count(code) FROM {STAGED_LINES}"
# The facilities the lines name: each given as an id, whitespace around it aside (line_sql_pg.COUNTS
# says why); text with a NUL (at which SQLite's string functions stop) names none.
FACILITIES = f"""
SELECT DISTINCT n FROM (SELECT trim(f, :ws) AS n FROM (SELECT DISTINCT f FROM {STAGED_LINES}
                        WHERE instr(CAST(f AS BLOB), x'00') = 0) {_STEP})
WHERE {_is_id("n")}
"""
FAILURES = f"""
SELECT line, code, f, p, f, p, qoh, atp, coalesce(qk, CASE WHEN qoh IS NOT NULL THEN 't' END),
       coalesce(ak, CASE WHEN atp IS NOT NULL THEN 't' END), pre_message
FROM {STAGED_LINES} WHERE code IS NOT NULL ORDER BY line, ord LIMIT :n
"""
CHANGES = "SELECT line, f, p, diff, after_q, after_a FROM reset_diff WHERE diff <> 0 ORDER BY ord LIMIT :n"
# The run's temporary tables (and the ledger's) dropped without their pages overwritten with
# zeros first (this SQLite's secure_delete: ≈ 0.03 s a 100,000-line run): what they held lives in
# the connection's own temporary file, dropped with it; the database's own pages are not touched.
TEMPORARY_NOT_ZEROED = "PRAGMA temp.secure_delete = OFF"
TEMPORARY = (STAGED_LINES, "reset_current", "reset_diff", "reset_new_item")
