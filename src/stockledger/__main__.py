"""The `stockledger` command (its console script calls `main`) and `python -m stockledger …`.

Importing the command line takes most of a second; Ctrl-C meanwhile ended the process with a
KeyboardInterrupt traceback. Here it ends as a command interrupted later does: exit 130, one
line, nothing done (no command had started). Once the command has ended, Ctrl-C is ignored.
"""

import signal
import sys


def main() -> None:
    try:
        from stockledger.cli import app
    except KeyboardInterrupt:
        print("interrupted: nothing was done", file=sys.stderr)
        raise SystemExit(130) from None
    try:
        app(prog_name="stockledger")
    finally:
        # The command is over and has given its answer: an interrupt now (the interpreter's
        # shutdown takes a while) would only turn its exit status into the signal's, -2 after a
        # reset's printed outcome (an outside tester).
        signal.signal(signal.SIGINT, signal.SIG_IGN)


if __name__ == "__main__":
    main()
