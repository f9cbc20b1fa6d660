"""The ERP upload's refusals in staff words: whole sentences, quantities named as people say them
(not the CSV's column names), each line's problem with its code kept as the tooltip."""

from stockledger.resets.rules import ATP, QOH, LineFailure

COLUMN_WORDS = {
    QOH: "quantity on hand",
    ATP: "quantity available to promise",
    "facilityId": "facility id",
    "productId": "product id",
}
BY_CODE = {
    "no_quantity": "No quantity: give either the quantity on hand or the quantity available to promise.",
    "both_quantities": (
        "Two quantities: give either the quantity on hand or the quantity available to promise, not both."
    ),
}


def sentence(text: str) -> str:
    """The text ending as a sentence does, so the next one can follow it."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def problem_words(failure: LineFailure) -> str:
    """What is wrong with a line, in the words of the page."""
    if failure.code in BY_CODE:
        return BY_CODE[failure.code]
    message = failure.message
    for column, words in COLUMN_WORDS.items():
        if message.startswith(column + " "):
            rest = message.removeprefix(column + " ")
            if rest.startswith("negative"):
                rest = "is below zero" + rest.removeprefix("negative")
            message = f"The {words} {rest}"
            break
    return sentence(message)
