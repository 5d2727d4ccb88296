"""The switch between the readable code and the fast path: a context variable that nests and resets."""

import threading

import pytest

import hnn_np
from hnn_np.mode import is_readable, readable


def test_off_by_default_on_inside_and_reset_after():
    assert not is_readable()
    with hnn_np.readable():
        assert is_readable()
        with readable(False):
            assert not is_readable()
        assert is_readable()
    assert not is_readable()


def test_reset_after_an_exception():
    with pytest.raises(KeyError):
        with readable():
            raise KeyError("x")
    assert not is_readable()


def test_other_threads_keep_the_fast_path():
    seen = []
    with readable():
        t = threading.Thread(target=lambda: seen.append(is_readable()))
        t.start()
        t.join()
    assert seen == [False]


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_refuses_a_non_bool(bad):
    with pytest.raises(ValueError, match="readable"):
        with readable(bad):
            pass
