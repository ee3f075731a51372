"""Shared by every test directory."""

import signal

if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    # A suite started in the background by a script (`cmd &`) inherits an ignored SIGINT, and so would
    # every command the signal tests start and then interrupt: give them Python's own handling back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
