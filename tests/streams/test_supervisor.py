"""Ctrl-C stops a supervised stack cleanly from the moment its caller is about to watch it."""

import os
import signal

from streams.supervisor import Supervisor


def test_a_signal_before_the_watch_stops_it_instead_of_interrupting() -> None:
    supervisor = Supervisor([], {}, lambda _: None)
    before = signal.getsignal(signal.SIGINT)

    with supervisor.stopping_on_signals():
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C while the demo prints its summary
        supervisor.watch(tick=0.01)  # returns at once: the stop was requested

    assert signal.getsignal(signal.SIGINT) is before
