"""The `stockledger` command (its console script calls `main`) and `python -m stockledger …`.

Importing the command line takes most of a second; Ctrl-C meanwhile ended the process with a
KeyboardInterrupt traceback. Here it ends as a command interrupted later does: exit 130, one
line, nothing done (no command had started).
"""

import sys


def main() -> None:
    try:
        from stockledger.cli import app
    except KeyboardInterrupt:
        print("interrupted: nothing was done", file=sys.stderr)
        raise SystemExit(130) from None
    app(prog_name="stockledger")


if __name__ == "__main__":
    main()
