"""`python -m stockledger …`: the `stockledger` command."""

from stockledger.cli import app

app(prog_name="stockledger")
