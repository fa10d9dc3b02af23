"""Packaging drift checks: pyproject.toml, requirements.txt, environment.yml and course.py agree.

requirements.txt is the full lock; environment.yml must carry exactly the same pins; every direct
pin in pyproject.toml must be in the lock at the same version; and course.py must refuse an old
Python with a message, not a traceback. Regenerate the lock with `python3 course.py lock`.
"""

import ast
import glob
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
ENVIRONMENT = ROOT / "environment.yml"
PYPROJECT = ROOT / "pyproject.toml"
COURSE = ROOT / "course.py"

PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;=<>!~,]+)$"
)
LOCAL_INSTALLS = {"-e .", "--editable .", ".", "-e ./", "./"}


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_lines(path):
    lines = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def parse_pins(lines, source):
    """Map canonical name -> version; fail on unpinned or duplicate entries."""
    pins = {}
    for line in lines:
        match = PIN.match(line)
        assert match, f"{source}: not pinned as name==version: {line!r}"
        name = canonical(match["name"])
        assert name not in pins, f"{source}: {name} is pinned twice"
        pins[name] = match["version"]
    return pins


def lock_pins():
    return parse_pins(requirement_lines(REQUIREMENTS), "requirements.txt")


def load_environment():
    text = ENVIRONMENT.read_text(encoding="utf-8")
    try:
        import yaml
    except ImportError:  # not expected: PyYAML is in the lock; keep a tiny fallback anyway
        return simple_environment(text)
    return yaml.safe_load(text)


def simple_environment(text):
    """Enough of YAML for environment.yml's shape (top-level keys, '- ' lists, one pip list)."""
    env, key, pip = {}, None, None
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line.startswith(" "):
            key, _, value = line.partition(":")
            env[key] = value.strip() or []
            pip = None
        elif line.strip() == "- pip:":
            pip = []
            env[key].append({"pip": pip})
        elif line.strip().startswith("- "):
            item = line.strip()[2:].strip()
            (pip if pip is not None and raw.startswith("      ") else env[key]).append(item)
    return env


def pyproject():
    return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))


def load_course():
    spec = importlib.util.spec_from_file_location("course_under_test", COURSE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- requirements.txt ---------------------------------------------------------------------


def test_every_requirements_line_is_pinned_exactly():
    lines = requirement_lines(REQUIREMENTS)
    assert len(lines) > 20, "requirements.txt should be the full lock, not just direct deps"
    pins = parse_pins(lines, "requirements.txt")
    assert "agent-identity-lab" not in pins, "the lock must not contain the project itself"
    assert not {"pip", "setuptools"} & pins.keys(), "the lock must not pin pip/setuptools"


def test_requirements_header_says_how_to_regenerate():
    head = REQUIREMENTS.read_text(encoding="utf-8").split("\n", 10)[:10]
    assert any("course.py lock" in line and line.startswith("#") for line in head)


# --- pyproject.toml -----------------------------------------------------------------------


def test_direct_dependencies_are_pinned_and_locked_at_the_same_version():
    lock = lock_pins()
    dependencies = pyproject()["project"]["dependencies"]
    assert dependencies, "pyproject.toml declares no dependencies"
    drift = []
    for dependency in dependencies:
        match = PIN.match(dependency.strip())
        assert match, f"pyproject dependency not pinned with ==: {dependency!r}"
        name, version = canonical(match["name"]), match["version"]
        if lock.get(name) != version:
            drift.append(f"{name}: pyproject {version}, requirements.txt {lock.get(name)}")
    assert not drift, "pyproject.toml and requirements.txt disagree:\n" + "\n".join(drift)


def test_requires_python_matches_course_py():
    requires = pyproject()["project"]["requires-python"].replace(" ", "")
    course = load_course()
    assert requires == ">={}.{}".format(*course.MIN_PYTHON)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the lock is made on Linux")
def test_lock_is_exactly_the_closure_of_the_direct_pins():
    """Walk the installed metadata from the direct pins: every requirement reached must be in
    the lock at a version its specifier accepts, and nothing else may be in the lock."""
    from packaging.requirements import Requirement

    lock = lock_pins()
    queue = [Requirement(d) for d in pyproject()["project"]["dependencies"]]
    seen, problems = {}, []
    while queue:
        requirement = queue.pop()
        name = canonical(requirement.name)
        extras = set(requirement.extras)
        if name not in lock:
            problems.append(f"{name} is required but not in requirements.txt")
            continue
        if not requirement.specifier.contains(lock[name], prereleases=True):
            problems.append(f"{name}=={lock[name]} does not satisfy {requirement}")
        if name in seen and extras <= seen[name]:
            continue
        seen[name] = seen.get(name, set()) | extras
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{name} is locked but not installed here; run via course.py")
            continue
        if canonical(dist.version) != canonical(lock[name]):
            problems.append(f"{name}: installed {dist.version}, locked {lock[name]}")
        for text in dist.requires or []:
            child = Requirement(text)
            wanted = child.marker is None or any(
                child.marker.evaluate({"extra": extra}) for extra in seen[name] | {""}
            )
            if wanted:
                queue.append(child)
    stale = sorted(set(lock) - set(seen))
    assert not problems, "\n".join(sorted(set(problems)))
    assert not stale, f"in requirements.txt but not needed by pyproject.toml: {stale}"


# --- environment.yml ----------------------------------------------------------------------


def environment_pip_list(env):
    pip_lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, "environment.yml needs exactly one pip: list"
    return [str(item).strip() for item in pip_lists[0]]


def test_environment_yml_is_conda_forge_python_311():
    env = load_environment()
    assert env["name"] == "agent-identity-lab"
    assert env["channels"] == ["conda-forge"]
    conda_deps = [d for d in env["dependencies"] if isinstance(d, str)]
    assert "pip" in conda_deps
    pythons = [d for d in conda_deps if d.startswith("python")]
    assert pythons == ["python=3.11"], pythons


def test_environment_yml_pip_pins_equal_requirements_txt():
    items = environment_pip_list(load_environment())
    local = [item for item in items if item in LOCAL_INSTALLS]
    assert len(local) == 1, "environment.yml must install the project itself (-e .) once"
    env_pins = parse_pins([i for i in items if i not in LOCAL_INSTALLS], "environment.yml")
    lock = lock_pins()
    missing = sorted(set(lock) - set(env_pins))
    extra = sorted(set(env_pins) - set(lock))
    changed = sorted(n for n in set(lock) & set(env_pins) if lock[n] != env_pins[n])
    assert not (missing or extra or changed), (
        f"environment.yml drifted from requirements.txt: missing {missing}, extra {extra}, "
        f"different versions {changed}"
    )


def test_simple_yaml_fallback_agrees_with_pyyaml():
    yaml = pytest.importorskip("yaml")
    text = ENVIRONMENT.read_text(encoding="utf-8")
    assert simple_environment(text) == yaml.safe_load(text)


# --- course.py ----------------------------------------------------------------------------


@pytest.mark.parametrize("version", [(3, 10, 13), (3, 9, 0), (3, 6, 15), (2, 7, 18)])
def test_course_rejects_old_python_with_a_clear_message(version):
    message = load_course().check_python(version)
    assert message, f"course.py accepted Python {version}"
    assert "3.11" in message
    assert ".".join(map(str, version)) in message


@pytest.mark.parametrize("version", [(3, 11, 0), (3, 12, 1), (3, 13, 0), (4, 0, 0)])
def test_course_accepts_supported_python(version):
    assert load_course().check_python(version) is None


def test_course_py_parses_on_old_pythons():
    """The version check only helps if an old interpreter can parse the file at all."""
    ast.parse(COURSE.read_text(encoding="utf-8"), feature_version=(3, 7))


def test_course_py_exits_cleanly_when_python_is_too_old(tmp_path):
    # A copy in an empty directory: if the check ever failed to stop it, it would find no
    # requirements.txt there instead of installing anything into the real checkout.
    copy = tmp_path / "course.py"
    shutil.copy(COURSE, copy)
    fake_old = (
        "import runpy, sys; sys.version_info = (3, 9, 18, 'final', 0); "
        f"sys.argv = ['course.py', 'test']; runpy.run_path({str(copy)!r}, run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", fake_old], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    assert "3.11" in result.stderr and "3.9.18" in result.stderr
    assert not (tmp_path / ".venv").exists()


def old_interpreters():
    candidates = [shutil.which(f"python3.{minor}") for minor in range(6, 11)]
    candidates += glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3"))
    found = []
    for path in filter(None, candidates):
        try:
            out = subprocess.run(
                [path, "-c", "import sys; print(sys.version_info[1])"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip().isdigit() and int(out.stdout) < 11:
            found.append(path)
    return found


def test_course_py_under_a_real_old_python(tmp_path):
    interpreters = old_interpreters()
    if not interpreters:
        pytest.skip("no Python older than 3.11 on this machine")
    copy = tmp_path / "course.py"
    shutil.copy(COURSE, copy)
    for python in interpreters:
        result = subprocess.run(
            [python, str(copy), "lab"], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 1, (python, result)
        assert "Traceback" not in result.stderr, (python, result.stderr)
        assert "needs Python 3.11" in result.stderr, (python, result.stderr)
    assert not (tmp_path / ".venv").exists()
