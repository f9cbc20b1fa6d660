"""The SQL of resets/set_based.py: each reset line judged, then the diffs, items and postings.

CHECK says in SQL what resets/rules.py says in Python (tests/integration/test_reset_line_sql.py
holds them to the same code for every kind of line): ids matching the Id pattern as given (an
id is compared exactly: not trimmed), exactly one quantity given (trimmed of what str.strip()
trims, WHITESPACE), a finite number ≥ 0, at most 10^9, at most 6 decimals. A quantity SQL
cannot be sure of (non-ASCII characters, an underscore, a long number or exponent: what
Python's Decimal might still read) is 'defer': set_based.py asks the rules themselves about such
a line.

SQL in PostgreSQL's dialect only (regular expressions, LATERAL, casts, temporary tables):
reached only where core.dialects.stages_set_based says the database can (resets/set_based.py).
"""

from stockledger.core.dialects import UTC_NOW_IN_CTE_STATEMENTS
from stockledger.core.ids import new_id
from stockledger.core.quantities import MAX_QUANTITY
from stockledger.reservations.rules import INV_AVAILABLE
from stockledger.resets.rules import ID_PATTERN
from stockledger.resets.staging_pg import STAGED_LINES

# What str.strip() trims: the characters whose isspace() is true (a test holds it to that).
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
ID = "'^[-A-Za-z0-9_.:]+$'"  # ID_PATTERN (with IS_ID's length), the hyphen first: a literal in both
assert ID_PATTERN.pattern == r"^[A-Za-z0-9_.:\-]{1,60}$", "ID must say what ID_PATTERN says"
SIMPLE = r"'^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$'"  # what numeric reads as Decimal does
NUMBER = r"'^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$'"
TEXT_NUMBER = r"'^-?[0-9]+(\.[0-9]+)?$'"  # rules.TEXT_NUMBER: a CSV quantity, no sign +, no exponent
NOT_FINITE = "'^[+-]?(inf|infinity|s?nan[0-9]*)$'"  # matched ignoring case, as Decimal reads them
MAX = int(MAX_QUANTITY)

OUT_OF_SCOPE = f"""
SELECT line, btrim(fac, :ws) FROM {STAGED_LINES}
WHERE btrim(fac, :ws) <> '' AND NOT (btrim(fac, :ws) = ANY(:scope)) ORDER BY ord LIMIT 1
"""

# A CSV quantity ('t') is read as a number only in TEXT_NUMBER's form (which SIMPLE's includes),
# a JSON number ('n') in SIMPLE's: one pattern matched a line; the facility and product known or
# not by the same pass (`unknown`: a usable line's failure, kept for a line left to the rules).
# One pass, its steps nested subqueries from the inside out (the quantities trimmed once; which
# one is given and its kind; it read as a number; its code; the ids' codes), each kept whole by
# OFFSET 0 (flattened, the planner would repeat each step's expressions in every use of them:
# 5x the CPU); as LATERAL steps each was a subplan run again for every line (0.31 s of CPU for
# 100,000 lines against 0.20 s).
CHECK = f"""
CREATE TEMP TABLE reset_checked ON COMMIT DROP AS
SELECT x.ord, x.line, x.f, x.p, x.kind,
       CASE WHEN x.pre_code IS NOT NULL THEN x.pre_code
            WHEN NOT (coalesce(x.f ~ {ID} AND length(x.f) <= 60, false)
                      AND coalesce(x.p ~ {ID} AND length(x.p) <= 60, false)) THEN 'invalid_line'
            WHEN x.qg AND x.ag THEN 'both_quantities'
            WHEN NOT (x.qg OR x.ag) THEN 'no_quantity'
            ELSE coalesce(x.code, x.unknown) END AS code,
       x.micros, x.unknown
FROM (
    SELECT n.ord, n.line, n.f, n.p, n.kind, n.pre_code, n.qg, n.ag,
           CASE WHEN fa.facility_id IS NULL THEN 'unknown_facility'
                WHEN pr.product_id IS NULL THEN 'unknown_product' END AS unknown,
           CASE WHEN n.k IS NULL OR n.k IN ('s', 'x') THEN 'invalid_quantity'
                WHEN n.n < 0 THEN 'negative_quantity'
                WHEN n.n > {MAX} OR n.n <> round(n.n, 6) THEN 'invalid_quantity'
                WHEN n.n IS NOT NULL THEN NULL
                WHEN n.k = 't' AND (length(n.t) <= 200 OR NOT (n.t ~ {TEXT_NUMBER})) THEN 'invalid_quantity'
                WHEN n.t ~* {NOT_FINITE} THEN 'invalid_quantity'
                WHEN octet_length(n.t) <> length(n.t) OR strpos(n.t, '_') > 0 OR n.t ~ {NUMBER} THEN 'defer'
                ELSE 'invalid_quantity' END AS code,
           CASE WHEN n.n >= 0 AND n.n <= {MAX} AND n.n = round(n.n, 6) THEN (n.n * 1000000)::bigint
           END AS micros
    FROM (
        SELECT c.*,
               CASE WHEN length(c.t) > 200 THEN NULL
                    WHEN c.k = 't' THEN CASE WHEN c.t ~ {TEXT_NUMBER} THEN c.t::numeric END
                    WHEN c.k = 'n' AND c.t ~ {SIMPLE} THEN c.t::numeric END AS n
        FROM (
            SELECT v.*, CASE WHEN v.qg THEN 'q' ELSE 'a' END AS kind,
                   CASE WHEN v.qg THEN v.qk ELSE v.ak END AS k, CASE WHEN v.qg THEN v.tq ELSE v.ta END AS t
            FROM (
                SELECT t.ord, t.line, t.fac AS f, t.prod AS p, t.qk, t.ak, t.pre_code, t.tq, t.ta,
                       t.qk IS NOT NULL AND (t.qk IN ('n', 'x') OR t.tq <> '') AS qg,
                       t.ak IS NOT NULL AND (t.ak IN ('n', 'x') OR t.ta <> '') AS ag
                FROM (SELECT s.*, btrim(s.qoh, :ws) AS tq, btrim(s.atp, :ws) AS ta
                      FROM {STAGED_LINES} s OFFSET 0) t
                OFFSET 0
            ) v OFFSET 0
        ) c OFFSET 0
    ) n
    LEFT JOIN facility fa ON fa.facility_id = n.f
    LEFT JOIN product pr ON pr.product_id = n.p
) x
"""

# The statistics the statements after CHECK plan with: the columns they filter, join, group
# or look up the judged lines by (`code` IS NULL, = 'defer'; `f`, `p`; `ord`). The others (line,
# kind, micros, unknown) are only read, never planned with: not analysed (100,000 lines: 0.03 s
# of the whole table's 0.06-0.07 s; the statistics of the four, and so the plans, are the same).
ANALYZE_CHECKED = "ANALYZE reset_checked (ord, f, p, code)"

DEFERRED = f"""
SELECT s.ord, s.line, s.fac, s.prod, s.qoh, s.atp, s.qk::text, s.ak::text FROM {STAGED_LINES} s
WHERE s.ord IN (SELECT ord FROM reset_checked WHERE code = 'defer') ORDER BY s.ord
"""

# A deferred line the rules find usable fails yet when its facility or product is unknown.
JUDGED = """
UPDATE reset_checked c SET code = coalesce(j.code, c.unknown), kind = j.kind, micros = j.micros
FROM (SELECT unnest(CAST(:ords AS bigint[])) AS ord, unnest(CAST(:codes AS text[])) AS code,
             unnest(CAST(:kinds AS text[])) AS kind, unnest(CAST(:micros AS bigint[])) AS micros) j
WHERE c.ord = j.ord
"""

# The test of SPEC §11 for the item `i`: what a new reservation can take now.
PROMISABLE = (
    f"(i.status_id = '{INV_AVAILABLE}'"
    f" AND (i.expire_date IS NULL OR i.expire_date > {UTC_NOW_IN_CTE_STATEMENTS}))"
)

# A product without a promisable item in the facility may get one from this run (NEW_ITEMS), a
# row a concurrent run cannot lock beforehand: two runs would each diff it against "none" (the
# second waiting on the lock of the held items only, which does not show it the new one), and
# the second post its diff onto the item the first created (QOH 10 and 20 sent, 30 left). So its
# ProductFacility link is inserted (ON CONFLICT DO NOTHING: waits for a run inserting it) and
# locked, in (facility, product) order, before DIFFS; DIFFS, a NEW statement, then reads (and
# locks) the items as they are once the other run has committed.
# A link this run inserted is its own until it commits (another run's insert of it waits for
# this one), so only the links that were there already are locked (reset_linked: the inserted
# ones). Each link is inserted naming the item the run will create for it (`:linked_prefix` and a
# number: there is no foreign key from the link to the item, and the link is seen by no other run
# before the item exists), so an initial load writes each link once: NEW_ITEMS takes that id as
# the new item's, and UNLINK_UNUSED clears it where the run creates no item after all.
LOCK_UNSTOCKED = [
    f"""
CREATE TEMP TABLE reset_unstocked ON COMMIT DROP AS
SELECT DISTINCT c.f, c.p FROM reset_checked c
WHERE c.code IS NULL
  AND NOT EXISTS (SELECT 1 FROM inventory_item i WHERE i.facility_id = c.f AND i.product_id = c.p
                  AND {PROMISABLE})
""",
    """
CREATE TEMP TABLE reset_linked ON COMMIT DROP AS
WITH inserted AS (
    INSERT INTO product_facility (facility_id, product_id, inventory_item_id)
    SELECT f, p, :linked_prefix || lpad((row_number() OVER (ORDER BY f, p))::text, 8, '0')
    FROM reset_unstocked ORDER BY f, p
    ON CONFLICT (facility_id, product_id) DO NOTHING
    RETURNING facility_id AS f, product_id AS p, inventory_item_id AS item
)
SELECT f, p, item FROM inserted
""",
    """
SELECT count(*) FROM (
    SELECT 1 FROM product_facility pf JOIN reset_unstocked u ON pf.facility_id = u.f AND pf.product_id = u.p
    WHERE NOT EXISTS (SELECT 1 FROM reset_linked l WHERE l.f = u.f AND l.p = u.p)
    ORDER BY pf.facility_id, pf.product_id
    FOR NO KEY UPDATE OF pf
) locked
""",
]

# The current totals of each product named (QOH over its items in the facility, ATP over its
# promisable ones: SPEC §11), its items locked in id order as the line batches lock them; then
# each line's diff: a line sets QOH (or ATP), and the same diff moves both, so QOH − ATP stays
# what it was and the totals after a line depend on that line alone; its diff is them minus
# the totals after the line before it on the same product (or the current ones). One statement:
# the current totals are read (under the locks) and used where they are, not kept in a table.
# `linked_ok`: the product's link names one of these items, a promisable one (locked: it stays
# so until the commit), so the product needs no item of NEW_ITEMS (NEEDS_NEW_ITEMS).
DIFFS = f"""
CREATE TEMP TABLE reset_diff ON COMMIT DROP AS
WITH locked AS MATERIALIZED (
    SELECT i.facility_id, i.product_id, i.quantity_on_hand_total AS q, i.available_to_promise_total AS a,
           {PROMISABLE} AS promisable, pf.inventory_item_id = i.inventory_item_id AS linked
    FROM inventory_item i
    LEFT JOIN product_facility pf ON pf.facility_id = i.facility_id AND pf.product_id = i.product_id
    WHERE (i.facility_id, i.product_id) IN (SELECT f, p FROM reset_checked WHERE code IS NULL)
    ORDER BY i.facility_id, i.inventory_item_id
    FOR NO KEY UPDATE OF i
), cur AS (
    SELECT facility_id AS f, product_id AS p, sum(q)::bigint AS q,
           sum(CASE WHEN promisable THEN a ELSE 0 END)::bigint AS a,
           bool_or(promisable AND linked) AS linked_ok
    FROM locked GROUP BY facility_id, product_id
)
SELECT ord, line, f, p, after_q - coalesce(lag(after_q) OVER w, cur_q) AS diff, after_q,
       after_q - gap AS after_a, linked_ok
FROM (
    SELECT c.ord, c.line, c.f, c.p, coalesce(cur.q, 0) AS cur_q,
           coalesce(cur.q, 0) - coalesce(cur.a, 0) AS gap,
           CASE c.kind WHEN 'q' THEN c.micros
                ELSE c.micros + coalesce(cur.q, 0) - coalesce(cur.a, 0) END AS after_q,
           coalesce(cur.linked_ok, false) AS linked_ok
    FROM reset_checked c LEFT JOIN cur ON cur.f = c.f AND cur.p = c.p
    WHERE c.code IS NULL
) x
WINDOW w AS (PARTITION BY f, p ORDER BY ord)
"""


def new_item_prefix() -> str:
    """The ids of the items a run creates: one new id, then a number per item."""
    return new_id("II")


# findOrCreateFacilityInventoryItem for every changed product without a promisable linked item
# (none linked, or a held item or an expired lot, or the item LOCK_UNSTOCKED's link names and the
# run is yet to create: what the run sets would not show in its ATP), as
# resets/facility_items.py does it for a batch: the oldest promisable item already there, else a
# new one (the one the run's own link names, or a new id); the link inserted with it (where no
# row was there: `linked` is false) or, when the row was there, claimed where it still names what
# it named (`old`) and names another; the loser of a race takes the winner's link (read again by
# `postings`). The new items the run's links name (`new_items`) are inserted by the ledger with
# their first postings (ledger/staged_pg.py).
NEW_ITEMS = f"""
CREATE TEMP TABLE reset_new_item ON COMMIT DROP AS
SELECT n.f, n.p,
       coalesce(o.id, CASE WHEN starts_with(n.old, :linked_prefix) THEN n.old END,
                :prefix || lpad((row_number() OVER (ORDER BY n.f, n.p))::text, 8, '0')) AS item,
       o.id IS NULL AS fresh, n.linked, n.old
FROM (SELECT DISTINCT d.f, d.p, pf.facility_id IS NOT NULL AS linked, pf.inventory_item_id AS old
      FROM reset_diff d
      LEFT JOIN product_facility pf ON pf.facility_id = d.f AND pf.product_id = d.p
      LEFT JOIN inventory_item i
             ON i.facility_id = pf.facility_id AND i.inventory_item_id = pf.inventory_item_id
      WHERE d.diff <> 0 AND NOT coalesce({PROMISABLE}, false)) n
LEFT JOIN LATERAL (
    SELECT i.inventory_item_id AS id FROM inventory_item i
    WHERE i.facility_id = n.f AND i.product_id = n.p AND {PROMISABLE}
    ORDER BY i.created_stamp, i.inventory_item_id LIMIT 1
) o ON true
"""

# Whether NEW_ITEMS has anything to find or create: a changed product whose link DIFFS did not
# find naming a promisable item of it. None (a sync of stocked products): NO_NEW_ITEMS instead,
# its table empty (NEW_ITEMS joins every changed line to the links and the items: 0.12 s of a
# 100,000-line sync that creates nothing).
NEEDS_NEW_ITEMS = "SELECT EXISTS (SELECT 1 FROM reset_diff WHERE diff <> 0 AND NOT linked_ok)"
NO_NEW_ITEMS = (
    "CREATE TEMP TABLE reset_new_item (f text, p text, item text, fresh boolean, linked boolean, old text) "
    "ON COMMIT DROP"
)

FIND_OR_CREATE = [
    """
INSERT INTO product_facility (facility_id, product_id, inventory_item_id)
SELECT f, p, item FROM reset_new_item WHERE NOT linked ORDER BY f, p
ON CONFLICT (facility_id, product_id) DO NOTHING
""",
    """
UPDATE product_facility pf SET inventory_item_id = n.item FROM reset_new_item n
WHERE pf.facility_id = n.f AND pf.product_id = n.p AND pf.inventory_item_id IS NOT DISTINCT FROM n.old
  AND n.item IS DISTINCT FROM n.old
""",
]

# What FIND_OR_CREATE and UNLINK_UNUSED would find to do (one pass of the run's new items: each
# of them reads every product_facility row where it has anything to write, seconds at 1,000,000
# lines): links to insert, links to re-point, links of LOCK_UNSTOCKED's whose item is created.
NEW_ITEM_COUNTS = """
SELECT count(*) FILTER (WHERE NOT linked), count(*) FILTER (WHERE linked AND item IS DISTINCT FROM old),
       count(*) FILTER (WHERE item = old AND starts_with(old, :linked_prefix))
FROM reset_new_item
"""

# A link LOCK_UNSTOCKED inserted for an item the run did not create (its lines left the product at
# zero, or an item to take was found) names no item, as a link findOrCreate never filled.
UNLINK_UNUSED = """
UPDATE product_facility pf SET inventory_item_id = NULL
FROM (SELECT l.f, l.p, l.item FROM reset_linked l
      WHERE NOT EXISTS (SELECT 1 FROM reset_new_item n WHERE n.f = l.f AND n.p = l.p AND n.item = l.item)) u
WHERE pf.facility_id = u.f AND pf.product_id = u.p AND pf.inventory_item_id = u.item
"""


# Per facility the lines name, its failed and its usable lines: one pass for the counts and the
# facilities. A line names the facility it gives as an id, whitespace around it aside (as the
# scope check reads it): a failed line shows its facilityId, so a run whose lines give another
# facility spans both, readable by unscoped tokens only. Text that is no id names none (NULL).
COUNTS = f"""
SELECT CASE WHEN btrim(f, :ws) ~ {ID} AND length(btrim(f, :ws)) <= 60 THEN btrim(f, :ws) END,
       sum(failed), sum(ok)
FROM (SELECT f, count(*) FILTER (WHERE code IS NOT NULL) AS failed, count(*) FILTER (WHERE code IS NULL) AS ok
      FROM reset_checked GROUP BY f) g
GROUP BY 1
"""
FAILURES = f"""
SELECT c.line, c.code, c.f, c.p, s.fac, s.prod, s.qoh, s.atp, s.qk::text, s.ak::text, s.pre_message
FROM (SELECT ord, line, code, f, p FROM reset_checked WHERE code IS NOT NULL ORDER BY line, ord LIMIT :n) c
JOIN {STAGED_LINES} s ON s.ord = c.ord ORDER BY c.line, c.ord
"""
CHANGES = "SELECT line, f, p, diff, after_q, after_a FROM reset_diff WHERE diff <> 0 ORDER BY ord LIMIT :n"
TEMPORARY = (
    "reset_checked",
    "reset_unstocked",
    "reset_linked",
    "reset_diff",
    "reset_new_item",
)
