"""The OFBiz audit stamps a seed document may carry are checked as the contract declares them
(text of at most 40 characters, no NUL) though they are not stored; `stockledger load` reads
documents without the HTTP body guard, so the model itself refuses them."""

import pytest
from pydantic import ValidationError

from stockledger.catalog.schemas import FacilityDoc


def test_a_stamp_is_accepted_and_dropped() -> None:
    doc = FacilityDoc.model_validate({"facilityId": "F", "lastUpdatedStamp": "2024-01-01 00:00:00.0"})
    assert "last_updated_stamp" not in doc.model_dump()


@pytest.mark.parametrize("stamp", ["x\x00y", "9" * 41, 5])
def test_a_stamp_the_contract_does_not_allow_is_refused(stamp: object) -> None:
    with pytest.raises(ValidationError):
        FacilityDoc.model_validate({"facilityId": "F", "createdStamp": stamp})
