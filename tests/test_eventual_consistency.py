"""helpers.aws.until: reading again until AWS's eventual consistency catches up, silent in
the lab, where the first read is already the answer (notebook 04's disabled KMS key)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from helpers.aws import NotYet, until


def reads(*answers: str) -> Callable[[], str]:
    """A read that answers each of ``answers`` in turn, then the last one forever."""
    left = list(answers)
    return lambda: left.pop(0) if len(left) > 1 else left[0]


def refused(said: str) -> bool:
    return said.startswith("AccessDeniedException")


def test_in_the_lab_the_first_read_is_the_answer_and_nothing_is_said(
    capsys: pytest.CaptureFixture[str],
) -> None:
    slept: list[float] = []
    said = until(reads("AccessDeniedException: disabled"), refused, what="x", sleep=slept.append)
    assert said == "AccessDeniedException: disabled"
    assert slept == [] and capsys.readouterr().out == ""


def test_on_aws_it_reads_again_until_the_change_shows_and_says_so_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    slept: list[float] = []
    read = reads("read: user-1-alice", "read: user-1-alice", "AccessDeniedException: disabled")
    said = until(read, refused, what="the vault to refuse", every_s=2, sleep=slept.append)
    assert said == "AccessDeniedException: disabled" and slept == [2, 2]
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "Waiting up to 300 s for the vault to refuse: AWS applies the change eventually…"
    ]


def test_it_gives_up_in_one_line_with_the_last_answer(capsys: pytest.CaptureFixture[str]) -> None:
    slept: list[float] = []
    with pytest.raises(NotYet) as info:
        until(
            reads("read: user-1-alice"),
            refused,
            what="the vault to refuse",
            timeout_s=30,
            every_s=10,
            sleep=slept.append,
        )
    assert slept == [10, 10, 10]
    assert info.value._render_traceback_() == [
        "Gave up waiting for the vault to refuse after 30 s; the last answer: read: user-1-alice"
    ]
    assert len(capsys.readouterr().out.splitlines()) == 1
