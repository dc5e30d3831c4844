"""Progress output: a bar on a terminal, a plain line every few seconds elsewhere."""

from __future__ import annotations

import io

from deeplens.cli.progress import progress


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_progress_is_a_line_every_interval_without_carriage_returns():
    stream, clock = io.StringIO(), Clock()
    with progress("processing", "event", stream=stream, interval=5, clock=clock) as shown:
        for done in range(1, 11):
            clock.now += 1
            shown.set(done, 20)
    lines = stream.getvalue().splitlines()
    assert lines == ["processing: 1/20 events", "processing: 6/20 events", "processing: 10/20 events"]
    assert "\r" not in stream.getvalue()


def test_the_last_line_is_not_printed_twice():
    stream = io.StringIO()
    with progress("uploading", "file", 1, stream=stream, clock=Clock()) as shown:
        shown.advance()
    assert stream.getvalue().splitlines() == ["uploading: 1/1 files"]


def test_a_message_is_a_line_of_its_own():
    stream = io.StringIO()
    with progress("collecting", "row", 2, stream=stream, clock=Clock()) as shown:
        shown.write("skipped line 3: bad_manifest: no url")
    assert "skipped line 3: bad_manifest: no url" in stream.getvalue().splitlines()


def test_on_a_terminal_progress_is_a_bar():
    stream = Terminal()
    with progress("processing", "event", 4, stream=stream) as shown:
        shown.set(2)
    assert "\r" in stream.getvalue() and "2/4" in stream.getvalue()
