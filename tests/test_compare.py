"""Notebook 09's comparison: the three patterns measured in one run, the lines of agent code
counted from real source, and the scenario → pattern checker.

The measurement runs once per module (about 5 s); the tests read its rows.
"""

from __future__ import annotations

import inspect
import re
import threading
from collections.abc import Callable, Iterator
from configparser import ConfigParser
from pathlib import Path

import boto3
import psutil
import pytest

from helpers import exercises
from helpers.diagrams.drawing import pattern_decision
from helpers.lab import Lab
from helpers.secrets import compare
from helpers.secrets.compare import (
    CACHE_TTL_S,
    PATTERNS,
    PatternRow,
    deploy_time_app,
    direct_api_app,
    lines_of_code,
    measure_patterns,
    new_key,
    show_patterns,
    volume_app,
)
from helpers.secrets.deploy_time import SEALED_VAR, WEATHER_PARAM, seal
from helpers.secrets.volume import KEY_FILE, MOUNT_VAR, wait_until, write_payload

SANITIZE = Path(__file__).parent / "nbval_sanitize.cfg"
PATTERN_RIGHT = {1: "C", 2: "B", 3: "A", 4: "D", 5: "A"}


def children() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    lab = Lab(agentcore=True)
    lab.export_env()  # the direct-API agent builds its client from the environment
    yield lab
    lab.stop()


@pytest.fixture(scope="module")
def measured(lab: Lab) -> tuple[list[PatternRow], set[int], set[int]]:
    """The rows, and this process's children before and after measuring."""
    before = children()
    rows = measure_patterns()
    return rows, before, children()


@pytest.fixture(scope="module")
def rows(measured: tuple[list[PatternRow], set[int], set[int]]) -> list[PatternRow]:
    return measured[0]


# -- the measurement ----------------------------------------------------------------------


def test_three_rows_in_order_with_positive_delays(rows: list[PatternRow]) -> None:
    assert [row.pattern for row in rows] == list(PATTERNS)
    assert all(row.rotation_delay_s > 0 for row in rows)


def test_only_deploy_time_needs_a_redeploy(rows: list[PatternRow]) -> None:
    assert [row.needs_redeploy for row in rows] == [True, False, False]


def test_cached_delay_is_bounded_by_the_ttl(rows: list[PatternRow]) -> None:
    # Rotated right after a fetch: the value goes stale within the TTL, then one refresh.
    assert rows[2].rotation_delay_s < CACHE_TTL_S + 1.0


def test_measuring_leaves_no_process_and_no_operator(
    measured: tuple[list[PatternRow], set[int], set[int]],
) -> None:
    _, before, after = measured
    assert after <= before
    assert not [t for t in threading.enumerate() if t.name == "secrets-operator"]


def test_measuring_removes_its_secret_so_it_can_run_again(lab: Lab, rows: list[PatternRow]):
    names = [s["Name"] for s in boto3.client("secretsmanager").list_secrets()["SecretList"]]
    assert not [name for name in names if name.startswith(compare.SECRET_ID)]


def test_measures_with_endpoints_found_the_standard_way(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not only through the variables the lab exports: on AWS nothing names an endpoint,
    here one variable names the same endpoint for every service, as a profile may."""
    monkeypatch.delenv("AWS_ENDPOINT_URL_KMS")
    monkeypatch.delenv("AWS_ENDPOINT_URL_SECRETS_MANAGER")
    monkeypatch.setenv("AWS_ENDPOINT_URL", lab.agentcore.moto.url)
    rows = measure_patterns()
    assert [row.pattern for row in rows] == list(PATTERNS)


def test_refuses_to_run_without_a_region(
    lab: Lab, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    with pytest.raises(ValueError, match="credentials and a region"):
        measure_patterns()


# -- lines of agent code, from real source --------------------------------------------------


def naive_count(function: Callable[..., object]) -> int:
    """The count by hand: the source after the def line and the docstring, without blank
    and comment lines (every reference function has a one-line def and a docstring)."""
    after_def = inspect.getsource(function).splitlines()[1:]
    body = after_def[len(inspect.getdoc(function).splitlines()) :]
    return len([line for line in body if line.strip() and not line.strip().startswith("#")])


def test_each_row_counts_its_reference_function(rows: list[PatternRow]) -> None:
    assert [row.app_code_lines for row in rows] == [
        lines_of_code(pattern.app_code) for pattern in PATTERNS
    ]
    for pattern in PATTERNS:
        assert lines_of_code(pattern.app_code) == naive_count(pattern.app_code)
    assert lines_of_code(volume_app) < lines_of_code(deploy_time_app)


def one_statement() -> int:
    """A docstring, not counted."""
    # a comment, not counted

    return 1


def two_statements() -> int:
    """The same function with one more line: the count follows the source."""
    value = 1  # a trailing comment does not hide the code
    return value


def nested() -> Callable[[], int]:
    def inner() -> int:
        return 1

    return inner


def test_count_leaves_out_docstrings_comments_and_blank_lines() -> None:
    assert lines_of_code(one_statement) == 1
    assert lines_of_code(two_statements) == 2
    assert lines_of_code(nested) == 3  # a nested def is code the developer writes


# -- the reference functions do what the table says they do --------------------------------


def test_deploy_time_app_decrypts_the_sealed_variable(
    lab: Lab, monkeypatch: pytest.MonkeyPatch
) -> None:
    kms = boto3.client("kms")
    key_id = kms.create_key(Description="test_compare")["KeyMetadata"]["KeyId"]
    key = new_key()
    monkeypatch.setenv(SEALED_VAR, seal(kms, key_id, WEATHER_PARAM, key))
    assert deploy_time_app() == key


def test_volume_app_reads_the_current_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MOUNT_VAR, str(tmp_path))
    for key in (new_key(), new_key()):
        write_payload(tmp_path, {KEY_FILE: key})
        assert volume_app() == key


def test_direct_api_app_sees_a_rotation_within_its_ttl(lab: Lab) -> None:
    sm = boto3.client("secretsmanager")
    first, second = new_key(), new_key()
    sm.create_secret(Name="test/compare-direct", SecretString=first)
    try:
        weather_api_key = direct_api_app("test/compare-direct", ttl=0.5)
        assert weather_api_key() == first
        sm.put_secret_value(SecretId="test/compare-direct", SecretString=second)
        assert weather_api_key() == first  # cached
        assert wait_until(lambda: weather_api_key() == second, deadline_s=3.0) < 1.5
    finally:
        sm.delete_secret(SecretId="test/compare-direct", ForceDeleteWithoutRecovery=True)


# -- what the notebook shows ----------------------------------------------------------------


def test_table_shows_the_delays_in_the_format_the_sanitizer_knows(
    rows: list[PatternRow], capsys: pytest.CaptureFixture[str]
) -> None:
    show_patterns(rows)
    out = capsys.readouterr().out
    config = ConfigParser(interpolation=None)
    config.read(SANITIZE, encoding="utf-8")
    section = config["pattern-seconds"]
    sanitized = re.sub(section["regex"], section["replace"], out)
    assert re.findall(section["regex"], out) == [f"≈ {r.rotation_delay_s:.2f} s" for r in rows]
    assert sanitized.count("≈ N s") == len(rows) and not re.search(r"≈ \d", sanitized)
    assert "needs a redeploy  yes" in out and f"{rows[1].app_code_lines} line" in out


def test_decision_diagram_ends_in_each_pattern_and_the_vault() -> None:
    texts = " ".join(t.get_text() for t in pattern_decision().axes[0].texts)
    for answer in ("token vault", "1 · deploy time", "2 · mounted volume", "3 · direct API"):
        assert answer in texts


# -- check yourself -------------------------------------------------------------------------


def test_checker_accepts_the_right_answers_however_written() -> None:
    assert exercises.check_pattern_choices(PATTERN_RIGHT)
    assert exercises.check_pattern_choices(
        {str(k): f" {v.lower()} " for k, v in PATTERN_RIGHT.items()}
    )


def test_checker_refuses_wrong_and_missing_answers() -> None:
    wrong = exercises.check_pattern_choices({**PATTERN_RIGHT, 1: "B", 4: "C"})
    assert not wrong and "scenarios 1, 4 " in repr(wrong)
    missing = exercises.check_pattern_choices({k: v for k, v in PATTERN_RIGHT.items() if k != 5})
    assert not missing and "scenario 5 " in repr(missing)


@pytest.mark.parametrize("answer", [None, ..., ["C", "B", "A", "D", "A"], "CBADA"])
def test_checker_never_raises_on_a_malformed_answer(answer: object) -> None:
    assert not exercises.check_pattern_choices(answer)


def test_every_scenario_has_a_choice_as_its_answer(capsys: pytest.CaptureFixture[str]) -> None:
    exercises.show_pattern_scenarios()
    out = capsys.readouterr().out
    assert set(PATTERN_RIGHT.values()) <= set(exercises.PATTERN_CHOICES)
    assert all(f"{n}. " in out for n in exercises.PATTERN_SCENARIOS)
