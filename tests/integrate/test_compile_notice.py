"""A compilation of the integrator's entry says so on stderr; a load from the disk cache says nothing.

Numba's compilation is replaced by a function that takes a chosen time, so
that both cases take a known time: a "compilation" longer than
``driver.NOTICE_AFTER`` and a "load" shorter than it.
"""

import io
import sys
import time

import pytest

from hnn_np.integrate._compiled import driver


class Terminal(io.StringIO):
    def isatty(self):
        return True


def taking(seconds):
    """A stand-in for numba.njit whose compilation takes ``seconds``."""

    def njit(*args, **kwargs):
        def compile_(function):
            time.sleep(seconds)
            return function

        return compile_

    return njit


@pytest.fixture
def stderr(monkeypatch):
    """A terminal as stderr (set in the test itself: pytest sets its own stderr again after the fixtures)."""
    monkeypatch.setattr(driver, "_ENTRIES", {})  # nothing made yet in this process
    monkeypatch.setattr(driver, "NOTICE_AFTER", 0.05)

    def watch(stream=None):
        stream = Terminal() if stream is None else stream
        monkeypatch.setattr(sys, "stderr", stream)
        return stream

    return watch


@pytest.mark.parametrize("method", ["DOP853", "RK45"])
def test_a_long_compilation_prints_one_line_naming_the_method(monkeypatch, stderr, method):
    monkeypatch.setattr(driver, "njit", taking(0.5))
    err = stderr()
    driver.entry(method)
    lines = err.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert f"compiling the {method} integrator" in lines[0] and "disk cache" in lines[0]


def test_a_quick_load_prints_nothing_even_later(monkeypatch, stderr):
    monkeypatch.setattr(driver, "njit", taking(0.0))
    err = stderr()
    driver.entry("DOP853")
    time.sleep(0.3)  # past NOTICE_AFTER: the notice was cancelled, not just late
    assert err.getvalue() == ""


def test_nothing_is_printed_into_a_pipe_or_a_file(monkeypatch, stderr):
    pipe = stderr(io.StringIO())
    monkeypatch.setattr(driver, "njit", taking(0.5))
    driver.entry("DOP853")
    assert pipe.getvalue() == ""


def test_the_entry_is_made_once_per_process(monkeypatch, stderr):
    calls = []
    monkeypatch.setattr(driver, "njit", lambda *a, **k: (lambda f: calls.append(f) or f))
    assert driver.entry("DOP853") is driver.entry("DOP853")
    assert len(calls) == 1


def test_no_stderr_at_all_is_no_error(monkeypatch, stderr):
    monkeypatch.setattr(sys, "stderr", None)  # pythonw: no console
    errors = []
    monkeypatch.setattr(driver.threading, "excepthook", lambda args: errors.append(args.exc_value))
    monkeypatch.setattr(driver, "njit", taking(0.5))
    driver.entry("DOP853")
    assert errors == []
