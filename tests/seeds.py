"""The sample JSON of the seed documents in ../shared/seeds, extracted as it stands."""

import json
import re
from pathlib import Path
from typing import Any

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def seed_json_documents() -> list[tuple[str, Any]]:
    """Every fenced JSON block of seeds 001 and 002, in the order written."""
    assert SEEDS.is_dir(), f"the seed documents are expected at {SEEDS}"
    found = []
    for path in sorted(SEEDS.glob("00[12]_*.txt")):
        for n, match in enumerate(re.finditer(r"```(?:json)?\n(.*?)```", path.read_text(), re.S)):
            try:
                found.append((f"{path.name}#{n}", json.loads(match.group(1))))
            except json.JSONDecodeError:
                continue
    return found
