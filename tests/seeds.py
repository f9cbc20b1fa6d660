"""The sample JSON of seed documents 001 and 002, extracted as it stands.

tests/fixtures/seeds holds verbatim copies of the two source documents, so the tests compare the
packaged demo data against the seeds as written without reading anything outside the repository.
"""

import json
import re
from pathlib import Path
from typing import Any

SEEDS = Path(__file__).resolve().parent / "fixtures" / "seeds"


def seed_json_documents() -> list[tuple[str, Any]]:
    """Every fenced JSON block of seeds 001 and 002, in the order written."""
    found = []
    for path in sorted(SEEDS.glob("00[12]_*.txt")):
        for n, match in enumerate(re.finditer(r"```(?:json)?\n(.*?)```", path.read_text(), re.S)):
            try:
                found.append((f"{path.name}#{n}", json.loads(match.group(1))))
            except json.JSONDecodeError:
                continue
    assert len(found) >= 5, f"the seed sample JSON is expected in {SEEDS}"
    return found
