"""The runtimes' code zips: the entry point alone in the lab; in AWS mode, everything the
entry point imports, so that a Python with nothing but its standard library runs it.

The AWS-mode zips are built for this machine's Linux, whose Python then runs them, and
need PyPI. One build per kind serves the whole module, from the user's cache: the one the
AWS-mode notebooks (tests/test_aws_mode.py) fill, so whichever comes second reuses it.
"""

from __future__ import annotations

import io
import platform
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.aws_mode import RUNTIME_PLATFORM, AwsMode
from helpers.cast import deployable
from helpers.cast.deployable import code_zip
from helpers.lab_only import MODE_VAR

# AWS mode's zips: CI's second pass, about state shared between files, leaves them out
# with the rest of AWS mode (its builds are pip's, and shared with AWS mode's notebooks).
pytestmark = pytest.mark.aws_mode

KINDS = ("coach", "mcp", "weather")
HERE = f"manylinux2014_{platform.machine()}"  # this machine's Linux, for its Python to run
on_linux = pytest.mark.skipif(sys.platform != "linux", reason="runs a zip built for Linux")

# What the entry points read when imported, with every optional part on: the coach with
# an MCP runtime to call, the MCP server with Stride. The SDK makes its boto3 clients at
# import: a Region, and credentials from here rather than from an instance's metadata.
RUNTIME_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "example",
    "AWS_EC2_METADATA_DISABLED": "true",
    "COACH_ACTIVITIES_URL": "http://127.0.0.1:9/activities",
    "COACH_PROVIDER_NAME": "fitness-api-provider",
    "COACH_MCP_URL": "http://127.0.0.1:9/mcp",
    "COACH_OBO_PROVIDER_NAME": "fitness-mcp-obo",
    "MCP_PROVIDER_NAME": "fitness-api-obo",
    "MCP_ACTIVITIES_URL": "http://127.0.0.1:9/activities",
    "MCP_STRIDE_PROVIDER_NAME": "stride",
    "MCP_STRIDE_ACTIVITIES_URL": "http://127.0.0.1:9/stride",
    "MCP_RETURN_URL": "http://127.0.0.1:9/return",
    "WEATHER_API_KEY": "wk-0123456789",
}
# Imports main, then names every module it loaded from outside the unpacked zip and the
# standard library: none may be, and no site-packages is on the path (-S).
PROBE = """
import os, sys, sysconfig
import main
roots = (os.getcwd(), sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib"))
files = {getattr(m, "__file__", None) for m in list(sys.modules.values())}
print([f for f in files if f and (not f.startswith(roots) or "site-packages" in f)])
"""


@dataclass(frozen=True)
class Built:
    config: Path  # an AWS-mode file whose [runtime_code] platform is this machine's
    cache: Path
    zips: dict[str, bytes]


def in_aws_mode(patch: pytest.MonkeyPatch, built: Built) -> None:
    patch.setenv(MODE_VAR, str(built.config))
    patch.setattr(deployable, "CACHE", built.cache)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    work = tmp_path_factory.mktemp("deployable")
    config = work / "aws-mode.toml"
    config.write_text(f'[app]\nfrontend_port = 8400\n[runtime_code]\nplatform = "{HERE}"\n')
    built = Built(config, deployable.CACHE, {})
    with pytest.MonkeyPatch.context() as patch:
        in_aws_mode(patch, built)
        built.zips.update({kind: code_zip(kind) for kind in KINDS})
    yield built


def names(archive: bytes) -> list[str]:
    return zipfile.ZipFile(io.BytesIO(archive)).namelist()


@on_linux
@pytest.mark.parametrize("kind", KINDS)
def test_in_aws_mode_the_zip_runs_on_the_standard_library_alone(
    built: Built, kind: str, tmp_path: Path
) -> None:
    zipfile.ZipFile(io.BytesIO(built.zips[kind])).extractall(tmp_path)
    ran = subprocess.run(
        [sys.executable, "-S", "-E", "-c", PROBE],  # sys.path[0] is the unpacked zip
        cwd=tmp_path,
        env=RUNTIME_ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stderr.strip().splitlines()[-1:]
    assert ran.stdout == "[]\n"


@on_linux
@pytest.mark.parametrize("kind", KINDS)
def test_the_aws_zip_holds_the_entry_point_helpers_and_the_distributions(
    built: Built, kind: str
) -> None:
    found = names(built.zips[kind])
    assert "main.py" in found  # at the root, where the runtime's entryPoint names it
    assert "helpers/__init__.py" in found and "helpers/cast/coach_agent.py" in found
    assert [n for n in found if "__pycache__" in n or n.endswith(".pyc") or n[:4] == "bin/"] == []
    assert len(found) == len(set(found))
    distributions = {n.split("-")[0].lower() for n in found if n.endswith(".dist-info/METADATA")}
    wanted = {r.replace("-", "_") for r in deployable.REQUIREMENTS[kind]}
    assert wanted <= distributions


@on_linux
def test_a_second_call_is_served_from_the_cache(
    built: Built, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    in_aws_mode(monkeypatch, built)

    def no_pip(*args: object, **kwargs: object) -> None:
        raise AssertionError("pip ran again")

    monkeypatch.setattr(deployable.subprocess, "run", no_pip)
    assert {kind: code_zip(kind) for kind in KINDS} == built.zips  # the same, byte for byte
    assert capsys.readouterr().out == ""


def test_a_failed_pip_says_why_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "aws-mode.toml"
    config.write_text("[app]\nfrontend_port = 8400\n")
    in_aws_mode(monkeypatch, Built(config, tmp_path / "cache", {}))
    monkeypatch.setitem(deployable.REQUIREMENTS, "weather", ("bedrock-agentcore[",))
    with pytest.raises(RuntimeError) as failed:
        code_zip("weather")
    assert str(failed.value) == (
        "vendoring weather.zip failed: pip says Invalid requirement: 'bedrock-agentcore['"
    )
    said = capsys.readouterr().out
    assert said.startswith("vendoring weather.zip's dependencies for Linux/arm64, once")
    assert said.count("\n") == 1
    kept = [p.name for p in (tmp_path / "cache").iterdir() if p.name != ".locks"]
    assert kept == []  # nothing half-built is kept


def test_two_builds_of_one_zip_at_once_run_pip_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "aws-mode.toml"
    config.write_text("[app]\nfrontend_port = 8400\n")
    in_aws_mode(monkeypatch, Built(config, tmp_path / "cache", {}))
    runs = []

    def slow_pip(args: list[str], what: str) -> None:  # installs one empty package, slowly
        runs.append(what)
        time.sleep(0.3)
        package = Path(args[args.index("--target") + 1], "vendored")
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")

    monkeypatch.setattr(deployable, "_pip", slow_pip)
    with ThreadPoolExecutor(max_workers=2) as pool:
        first, second = pool.map(lambda _: code_zip("weather"), range(2))
    assert runs == ["vendoring weather.zip"]
    assert first == second and "vendored/__init__.py" in names(first)


def test_runtimes_code_is_for_graviton_unless_the_file_says_otherwise(tmp_path: Path) -> None:
    config = tmp_path / "aws-mode.toml"
    config.write_text("[app]\nfrontend_port = 8400\n")
    assert AwsMode.load(config).runtime_platform == RUNTIME_PLATFORM == "manylinux2014_aarch64"
    config.write_text(
        '[app]\nfrontend_port = 8400\n[runtime_code]\nplatform = "manylinux_2_28_x86_64"'
    )
    assert AwsMode.load(config).runtime_platform == "manylinux_2_28_x86_64"


@pytest.mark.parametrize("kind", KINDS)
def test_in_the_lab_the_zip_is_the_entry_point_alone(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MODE_VAR, raising=False)
    archive = code_zip(kind)
    assert names(archive) == ["main.py"]
    entry = deployable.CODE / kind / "main.py"
    assert zipfile.ZipFile(io.BytesIO(archive)).read("main.py") == entry.read_bytes()
    assert code_zip(kind) == archive  # the same code, the same bytes


def test_every_kind_declares_the_distributions_it_needs() -> None:
    kinds = {p.name for p in deployable.CODE.iterdir() if (p / deployable.ENTRY_POINT).is_file()}
    assert set(deployable.REQUIREMENTS) == kinds == set(KINDS)


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="no deployable code named 'agent'"):
        code_zip("agent")
