"""The SQL of resets/set_based_sqlite.py: each reset line judged, then the diffs, items and postings.

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
from stockledger.resets.staging_sqlite import STAGED_LINES

NOT_ID = "'*[^-A-Za-z0-9_.:]*'"  # a character outside ID_PATTERN's class (the hyphen first: a literal)
assert ID_PATTERN.pattern == r"^[A-Za-z0-9_.:\-]{1,60}$", "NOT_ID must say what ID_PATTERN says"
MAX_MICROS = int(MAX_QUANTITY) * 1_000_000


def _is_id(text: str) -> str:
    return f"(coalesce(length({text}) BETWEEN 1 AND 60 AND {text} NOT GLOB {NOT_ID}, 0))"


OUT_OF_SCOPE = f"""
SELECT line, trim(fac, :ws) FROM {STAGED_LINES}
WHERE trim(fac, :ws) <> '' AND trim(fac, :ws) NOT IN :scope ORDER BY ord LIMIT 1
"""

CHECKED = "reset_checked"
CREATE_CHECKED = (
    f"CREATE TEMP TABLE {CHECKED} (ord INTEGER PRIMARY KEY, line INTEGER, f TEXT, p TEXT, kind TEXT, "
    "code TEXT, micros INTEGER)"
)
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
_FIELDS = " || ".join(f"coalesce({c}, '')" for c in ("fac", "prod", "qoh", "atp"))
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
INSERT INTO {CHECKED}
SELECT ord, line, f, p, kind,
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
    SELECT ord, line, pre_code, nul, f, p, qg, ag, kind, k, plain, negative, fp,
           CASE WHEN plain AND length(ltrim(ip, '0')) <= 10
                THEN CAST(ip AS INTEGER) * 1000000 + CAST(substr(fp || '000000', 1, 6) AS INTEGER)
           END AS micros
    FROM (
        SELECT ord, line, pre_code, nul, f, p, qg, ag, kind, k, {_PLAIN} AS plain,
               coalesce(t GLOB '-*' AND u GLOB '*[1-9]*', 0) AS negative, {_IP} AS ip, {_FP} AS fp
        FROM (
            SELECT ord, line, pre_code, nul, f, p, {_QG} AS qg, {_AG} AS ag,
                   CASE WHEN {_QG} THEN 'q' ELSE 'a' END AS kind, CASE WHEN {_QG} THEN qk ELSE ak END AS k,
                   {_T} AS t, CASE WHEN {_T} GLOB '-*' THEN substr({_T}, 2) ELSE {_T} END AS u
            FROM (
                SELECT ord, line, pre_code, {_NUL} AS nul, fac AS f, prod AS p,
                       coalesce(qk, CASE WHEN qoh IS NOT NULL THEN 't' END) AS qk,
                       coalesce(ak, CASE WHEN atp IS NOT NULL THEN 't' END) AS ak,
                       {_trimmed("qoh", _NOT_NUMBER)} AS tq, {_trimmed("atp", _NOT_NUMBER)} AS ta
                FROM {STAGED_LINES} ORDER BY ord {_STEP}
            ) {_STEP}
        ) {_STEP}
    ) {_STEP}
)
ORDER BY ord
"""

DEFERRED = f"""
SELECT s.ord, s.line, s.fac, s.prod, s.qoh, s.atp, coalesce(s.qk, CASE WHEN s.qoh IS NOT NULL THEN 't' END),
       coalesce(s.ak, CASE WHEN s.atp IS NOT NULL THEN 't' END) FROM {STAGED_LINES} s
WHERE s.ord IN (SELECT ord FROM {CHECKED} WHERE code = 'defer') ORDER BY s.ord
"""
JUDGED = f"UPDATE {CHECKED} SET code = :code, kind = :kind, micros = :micros WHERE ord = :ord"

UNKNOWN = f"""
UPDATE {CHECKED} AS c
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

# The current totals of each product named (QOH over its items in the facility, ATP over its
# promisable ones: SPEC §11); then each line's diff: a line sets QOH (or ATP), and the same diff
# moves both, so QOH − ATP stays what it was and the totals after a line depend on that line
# alone; its diff is them minus the totals after the line before it on the same product (or the
# current ones).
DIFFS = [
    "CREATE TEMP TABLE reset_current (f TEXT, p TEXT, q INTEGER, a INTEGER, PRIMARY KEY (f, p))"
    " WITHOUT ROWID",
    f"""
INSERT INTO reset_current
SELECT x.f, x.p, sum(i.quantity_on_hand_total),
       sum(CASE WHEN {PROMISABLE} THEN i.available_to_promise_total ELSE 0 END)
FROM (SELECT DISTINCT f, p FROM {CHECKED} WHERE code IS NULL) x
CROSS JOIN inventory_item i ON i.facility_id = x.f AND i.product_id = x.p
GROUP BY x.f, x.p
""",
    "CREATE TEMP TABLE reset_diff (ord INTEGER PRIMARY KEY, line INTEGER, f TEXT, p TEXT, diff INTEGER, "
    "after_q INTEGER, after_a INTEGER)",
    f"""
INSERT INTO reset_diff
SELECT ord, line, f, p, after_q - coalesce(lag(after_q) OVER w, cur_q) AS diff, after_q, after_q - gap
FROM (
    SELECT c.ord, c.line, c.f, c.p, coalesce(cur.q, 0) AS cur_q,
           coalesce(cur.q, 0) - coalesce(cur.a, 0) AS gap,
           CASE c.kind WHEN 'q' THEN c.micros
                ELSE c.micros + coalesce(cur.q, 0) - coalesce(cur.a, 0) END AS after_q
    FROM {CHECKED} c LEFT JOIN reset_current cur ON cur.f = c.f AND cur.p = c.p
    WHERE c.code IS NULL
)
WINDOW w AS (PARTITION BY f, p ORDER BY ord)
ORDER BY ord
""",
]

# findOrCreateFacilityInventoryItem for every changed product without a promisable linked item
# (none linked, or a held item or an expired lot: what the run sets would not show in its ATP),
# as resets/facility_items.py does it for a batch: the oldest promisable item already there,
# else a new one (its id: the run's prefix and a number); the link inserted with it or, when the
# row was there, claimed where it still names what it named (`old`). The new items are inserted
# by the ledger with their first postings (ledger/staged_sqlite.py). Then every product named
# that has no item gets its link row, as the line batches' lock_links leaves it.
NEW_ITEMS = [
    "CREATE TEMP TABLE reset_new_item (f TEXT, p TEXT, item TEXT, fresh INTEGER, old TEXT, "
    "PRIMARY KEY (f, p)) WITHOUT ROWID",
    f"""
INSERT INTO reset_new_item
SELECT f, p, coalesce(o, :prefix || printf('%08d', row_number() OVER (ORDER BY f, p))), o IS NULL, old
FROM (
    SELECT n.f, n.p, n.old,
           CASE WHEN EXISTS (SELECT 1 FROM reset_current cur WHERE cur.f = n.f AND cur.p = n.p)
                THEN (SELECT i.inventory_item_id FROM inventory_item i
                      WHERE i.facility_id = n.f AND i.product_id = n.p AND {PROMISABLE}
                      ORDER BY i.created_stamp, i.inventory_item_id LIMIT 1) END AS o
    FROM (SELECT DISTINCT d.f, d.p, pf.inventory_item_id AS old FROM reset_diff d
          LEFT JOIN product_facility pf ON pf.facility_id = d.f AND pf.product_id = d.p
          LEFT JOIN inventory_item i
                 ON i.facility_id = pf.facility_id AND i.inventory_item_id = pf.inventory_item_id
          WHERE d.diff <> 0 AND NOT coalesce({PROMISABLE}, 0)) n
)
ORDER BY f, p
""",
]
FIND_OR_CREATE = [
    """
INSERT INTO product_facility (facility_id, product_id, inventory_item_id)
SELECT f, p, item FROM reset_new_item WHERE true ORDER BY f, p
ON CONFLICT (facility_id, product_id) DO NOTHING
""",
    """
UPDATE product_facility AS pf SET inventory_item_id = n.item FROM reset_new_item n
WHERE pf.facility_id = n.f AND pf.product_id = n.p AND pf.inventory_item_id IS n.old
""",
    f"""
INSERT INTO product_facility (facility_id, product_id)
SELECT DISTINCT c.f, c.p FROM {CHECKED} c
WHERE c.code IS NULL AND NOT EXISTS (SELECT 1 FROM reset_current cur WHERE cur.f = c.f AND cur.p = c.p)
ORDER BY c.f, c.p
ON CONFLICT (facility_id, product_id) DO NOTHING
""",
]


COUNTS = f"SELECT count(code), count(*) - count(code) FROM {CHECKED}"
# The facilities the lines name: each given as an id, whitespace around it aside (line_sql_pg.COUNTS
# says why); text with a NUL (at which SQLite's string functions stop) names none.
FACILITIES = f"""
SELECT DISTINCT n FROM (SELECT trim(f, :ws) AS n FROM (SELECT DISTINCT f FROM {CHECKED}
                        WHERE instr(CAST(f AS BLOB), x'00') = 0) {_STEP})
WHERE {_is_id("n")}
"""
FAILURES = f"""
SELECT c.line, c.code, c.f, c.p, s.fac, s.prod, s.qoh, s.atp, coalesce(s.qk, CASE WHEN s.qoh IS NOT NULL
       THEN 't' END), coalesce(s.ak, CASE WHEN s.atp IS NOT NULL THEN 't' END), s.pre_message
FROM (SELECT ord, line, code, f, p FROM {CHECKED} WHERE code IS NOT NULL ORDER BY line, ord LIMIT :n) c
JOIN {STAGED_LINES} s ON s.ord = c.ord ORDER BY c.line, c.ord
"""
CHANGES = "SELECT line, f, p, diff, after_q, after_a FROM reset_diff WHERE diff <> 0 ORDER BY ord LIMIT :n"
TEMPORARY = (STAGED_LINES, CHECKED, "reset_current", "reset_diff", "reset_new_item")
