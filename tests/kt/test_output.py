"""What Keras Tuner prints by itself: set only while asked, and put back."""

from __future__ import annotations

import threading

import keras_tuner as kt

from auxsearch.kt.output import muted_condition_print, show_tracebacks


def _send_a_conditional_space() -> None:
    """Does what sending a trial over gRPC does: Keras Tuner 1.4.8 prints `True`."""
    hp = kt.HyperParameters()
    hp.Boolean("tap/a")
    with hp.conditional_scope("tap/a", [True]):
        hp.Float("weight/a", 0.1, 1.0)
    hp.to_proto()


def test_show_tracebacks_sets_keras_tuners_flag_and_returns_the_old_one():
    before = show_tracebacks(False)
    try:
        assert show_tracebacks(True) is False
        assert show_tracebacks(False) is True
    finally:
        show_tracebacks(before)


def test_the_condition_print_is_muted_only_inside_the_block(capsys):
    _send_a_conditional_space()
    assert capsys.readouterr().out == "True\n"  # Keras Tuner's own, before
    with muted_condition_print():
        _send_a_conditional_space()
        with muted_condition_print():  # nested: still muted after the inner block
            pass
        _send_a_conditional_space()
        assert capsys.readouterr().out == ""
    _send_a_conditional_space()
    assert capsys.readouterr().out == "True\n"  # nothing patched afterwards


def test_blocks_in_two_threads_closing_out_of_order_restore_the_print(capsys):
    # A chief and a worker in one process: the first to open is not the last to close.
    opened, release = threading.Event(), threading.Event()

    def other() -> None:
        with muted_condition_print():
            opened.set()
            release.wait(10)

    thread = threading.Thread(target=other, daemon=True)
    with muted_condition_print():
        thread.start()
        assert opened.wait(10)
    _send_a_conditional_space()
    assert capsys.readouterr().out == ""  # the other thread's block is still open
    release.set()
    thread.join(10)
    _send_a_conditional_space()
    assert capsys.readouterr().out == "True\n"
