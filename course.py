#!/usr/bin/env python3
"""Set up and run the Agent Identity Lab course.

    python3 course.py lab [jupyter args...]   open the course in JupyterLab (127.0.0.1)
    python3 course.py test [pytest args...]   run the test suite (.py tests + notebooks via nbval)
    python3 course.py execute [notebook...]   re-run notebooks top to bottom and save their outputs
    python3 course.py hub [jupyterhub args...] run a class on JupyterHub (classroom/README.md)
    python3 course.py preflight               start one learner's lab: health, start time, memory
    python3 course.py lock                    regenerate requirements.txt and environment.yml
                                              from the direct pins in pyproject.toml

`lab` and `test` first make sure ./.venv exists and holds exactly requirements.txt plus this
project (editable). A stamp in .venv remembers what was installed, so a re-run with nothing
changed skips pip entirely.

Standard library only. Keep this file parseable by old Pythons (no walrus, no match, no
annotations) so that an old interpreter reaches check_python() and prints a clear message
instead of a SyntaxError.
"""

import hashlib
import os
import shutil
import subprocess
import sys

MIN_PYTHON = (3, 11)

# The one test command: `python3 course.py test` runs `.venv/bin/python -m pytest TEST_ARGS...`
# followed by any extra arguments. nbval options only affect .ipynb files: with --nbval, pytest
# collects every notebook under testpaths as one test per code cell, and .py tests as usual.
TEST_ARGS = [
    "-p",
    "no:cacheprovider",
    # pytest-xdist: one worker per core (at most four, each runs labs of its own), whole
    # files per worker, so a notebook's cells run in order in one kernel. `-n 0` runs serially.
    "-n",
    "auto",
    "--maxprocesses",
    "4",
    "--dist",
    "loadfile",
    "--nbval",
    # Run notebooks on .venv's Python, not whatever kernel named "python3" the user has.
    "--nbval-current-env",
    "--nbval-sanitize-with",
    "tests/nbval_sanitize.cfg",
]

NOTEBOOK = "notebooks/00_start_here.ipynb"
LAB_SETTINGS = os.path.join("classroom", "jupyterlab-settings")
VENV = ".venv"
STAMP = os.path.join(VENV, ".course-stamp")
INSTALL_LOG = os.path.join(VENV, "course-install.log")
UV = "uv==0.13.9"  # the installer course.py tries first (see install_pinned)
LOCK_INPUTS = ("requirements.txt", "pyproject.toml")
RECIPE = "1"  # bump when the install steps below change, to force a reinstall
# JupyterHub's proxy (configurable-http-proxy) comes from npm, pinned by its lock file.
CLASSROOM = "classroom"
HUB_CONFIG = os.path.join(CLASSROOM, "jupyterhub_config.py")
NODE_LOCK = os.path.join(CLASSROOM, "package-lock.json")
NODE_STAMP = os.path.join(CLASSROOM, "node_modules", ".course-stamp")
NODE_LOG = os.path.join(VENV, "npm-install.log")

ROOT = os.path.dirname(os.path.abspath(__file__))

LOCK_HEADER = """\
# Full pinned lock for agent-identity-lab: every package, direct and transitive.
# Made on Linux with Python 3.11; pip adds platform-only extras elsewhere (appnope on
# macOS, colorama/pywin32/pywinpty on Windows). Do not edit by hand: change the direct
# pins in pyproject.toml, then regenerate this file and environment.yml with
#     python3 course.py lock
# (installs the direct pins into a fresh temporary venv and writes its `pip freeze`).
"""

ENV_HEADER = """\
# conda / mamba / Binder environment:  mamba env create -f environment.yml
# The pip pins are exactly requirements.txt (tests/test_packaging.py checks it);
# regenerate both with:  python3 course.py lock
"""


def check_python(version_info=None):
    """Return an error message if this Python is too old for the course, else None."""
    if version_info is None:
        version_info = sys.version_info
    if tuple(version_info[:2]) >= MIN_PYTHON:
        return None
    found = ".".join(str(part) for part in version_info[:3])
    need = "{}.{}".format(*MIN_PYTHON)
    return (
        f"error: this course needs Python {need} or newer, but this is Python {found}.\n"
        f"Install Python {need}+ (python.org, your package manager, or pyenv) and run "
        f"this script with it, e.g.  python{need} course.py lab"
    )


def say(message):
    print(message, flush=True)


def venv_bin(name):
    if os.name == "nt":
        return os.path.join(VENV, "Scripts", name + ".exe")
    return os.path.join(VENV, "bin", name)


def pinned_lines(path):
    """The requirement lines of a requirements file (no comments, no blanks)."""
    with open(path, encoding="utf-8") as f:
        lines = [line.split("#", 1)[0].strip() for line in f]
    return [line for line in lines if line]


def wanted_stamp():
    digest = hashlib.sha256(("recipe " + RECIPE + "\n").encode())
    for name in LOCK_INPUTS:
        with open(name, "rb") as f:
            digest.update(name.encode() + b"\0" + f.read() + b"\0")
    return digest.hexdigest()


def read_stamp(path=STAMP):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return None


def write_stamp(stamp, path=STAMP):
    """Record what was installed; written whole or not at all."""
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(stamp + "\n")
    os.replace(path + ".tmp", path)


def run_logged(cmd, log):
    """Run cmd with its output appended to the open log; return its exit code."""
    log.write("\n$ " + " ".join(cmd) + "\n")
    log.flush()
    return subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)


def show_log_tail(lines=40):
    with open(INSTALL_LOG, encoding="utf-8", errors="replace") as f:
        tail = f.readlines()[-lines:]
    sys.stderr.write("".join(tail))
    sys.stderr.write(f"\n(full log: {INSTALL_LOG})\n")


def site_packages():
    """Where .venv keeps its packages (Windows and POSIX lay a venv out differently)."""
    python = venv_bin("python")
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    return subprocess.check_output([python, "-c", code], text=True).strip()


def install_pinned(python, log):
    """requirements.txt, then the project itself, into .venv. Return 0 or pip's rc.

    uv (from PyPI, into .venv) installs the same pins in seconds where pip takes minutes;
    if it cannot (no uv for this platform, an index only pip is configured for), pip does.
    Neither compiles: ensure_venv compiles everything afterwards on every core at once.
    """
    uv = [python, "-m", "uv", "pip", "install", "--python", python]
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check"]
    if run_logged(pip + ["--no-compile", UV], log) == 0:
        rc = run_logged(uv + ["-r", "requirements.txt"], log)
        if rc == 0:
            rc = run_logged(uv + ["--no-deps", "--editable", "."], log)
        if rc == 0:
            return 0
        log.write("\nuv could not install: pip now\n")
    rc = run_logged(pip + ["--no-compile", "-r", "requirements.txt"], log)
    if rc == 0:
        rc = run_logged(pip + ["--no-deps", "--editable", "."], log)
    return rc


def ensure_venv():
    """Create or update .venv so it matches requirements.txt + pyproject.toml. Return 0 or rc."""
    for name in LOCK_INPUTS:
        if not os.path.isfile(name):
            sys.stderr.write(f"error: {name} is missing from {ROOT}\n")
            return 2
    python = venv_bin("python")
    fresh = not os.path.exists(python)
    if fresh:
        if os.path.isdir(VENV):
            say("recreating .venv (its python is missing or broken)...")
            cmd = [sys.executable, "-m", "venv", "--clear", VENV]
        else:
            say("creating .venv...")
            cmd = [sys.executable, "-m", "venv", VENV]
        rc = subprocess.call(cmd)
        if rc != 0:
            sys.stderr.write(
                "error: could not create .venv with the venv module. On Debian/Ubuntu install "
                "it first, e.g.  sudo apt install python3-venv  (or python3.11-venv)\n"
            )
            return rc
    stamp = wanted_stamp()
    if not fresh and read_stamp() == stamp:
        say("up to date (.venv)")
        return 0

    count = len(pinned_lines("requirements.txt"))
    if fresh or read_stamp() is None:
        say(f"installing {count} pinned packages (the first run takes a minute or two)...")
    else:
        say(f"requirements changed: updating .venv ({count} pinned packages)...")
    with open(INSTALL_LOG, "w", encoding="utf-8") as log:
        rc = install_pinned(python, log)
        if rc == 0:  # a module that will not compile stays in the log, as with pip
            run_logged([python, "-m", "compileall", "-q", "-j", "0", site_packages()], log)
    if rc != 0:
        show_log_tail()
        sys.stderr.write(f"error: pip failed (exit {rc}); fix the problem above and re-run.\n")
        return rc
    write_stamp(stamp)
    say("installed; .venv is up to date")
    return 0


def ensure_hub_proxy():
    """Install classroom/package-lock.json (JupyterHub's proxy) with npm. Return 0 or rc."""
    with open(NODE_LOCK, "rb") as f:
        stamp = hashlib.sha256(f.read()).hexdigest()
    if read_stamp(NODE_STAMP) == stamp:
        return 0
    npm = shutil.which("npm")
    if npm is None:
        sys.stderr.write(
            "error: JupyterHub's proxy needs Node.js and npm (e.g.  sudo apt install npm)\n"
        )
        return 1
    say("installing JupyterHub's proxy (configurable-http-proxy, from npm)...")
    with open(NODE_LOG, "w", encoding="utf-8") as log:
        cmd = [npm, "ci", "--prefix", CLASSROOM, "--no-audit", "--no-fund"]
        rc = run_logged(cmd, log)
    if rc != 0:
        sys.stderr.write(f"error: npm failed (exit {rc}); see {NODE_LOG}\n")
        return rc
    write_stamp(stamp, NODE_STAMP)
    return 0


def run_final(cmd):
    """Hand over to cmd: exec it on POSIX (its exit code becomes ours), else wait for it."""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":
        os.execv(cmd[0], cmd)
    return subprocess.call(cmd)


def test_args():
    args = list(TEST_ARGS)
    if "--nbval-sanitize-with" in args:
        at = args.index("--nbval-sanitize-with")
        if not os.path.isfile(args[at + 1]):
            say(f"note: {args[at + 1]} not found; notebook outputs are compared unsanitized")
            del args[at : at + 2]
    return args


def cmd_test(extra):
    rc = ensure_venv()
    if rc != 0:
        return rc
    if ensure_hub_proxy() != 0:  # the hub tests then say what is missing
        say("note: without JupyterHub's proxy the hub tests cannot run")
    return run_final([venv_bin("python"), "-m", "pytest"] + test_args() + list(extra))


def lab_args(extra=(), root=ROOT):
    """What `jupyter lab` is given: the first notebook, loopback only, and the course's own
    JupyterLab defaults (no news prompt: classroom/jupyterlab-settings/overrides.json).

    The learner's own JupyterLab settings still apply on top; the browser tests start
    JupyterLab with exactly these arguments, on a copy of the course (``root``).
    """
    args = []
    if os.path.isfile(os.path.join(root, NOTEBOOK)):
        args.append(NOTEBOOK)
    else:
        say(f"note: {NOTEBOOK} not found; opening the repository root")
    args.append("--ServerApp.ip=127.0.0.1")
    # The whole course in the file browser (notebooks, solutions), opened at notebooks/:
    # without a root, Jupyter would serve only the folder of the notebook it opens.
    args.append("--ServerApp.root_dir=" + root)
    args.append("--FileContentsManager.preferred_dir=notebooks")
    args.append("--LabApp.app_settings_dir=" + os.path.join(ROOT, LAB_SETTINGS))
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in extra:
        args.append("--allow-root")  # containers and CI machines often run as root
    return args + list(extra)


def cmd_lab(extra):
    rc = ensure_venv()
    if rc != 0:
        return rc
    return run_final(lab_command(venv_bin("python"), lab_args(extra)))


def lab_command(python, args):
    """``jupyter lab`` with ``args``, started as the course starts it (see
    helpers/jupyterlab_server.py: the same JupyterLab, 2 s sooner)."""
    return [python, "-m", "helpers.jupyterlab_server"] + list(args)


def cmd_hub(extra):
    if len(os.environ.get("CLASS_PASSWORD", "")) < 8:
        sys.stderr.write(
            "error: set the class password first (8 characters or more), e.g.\n"
            "    CLASS_PASSWORD='pick-one-for-today' python3 course.py hub\n"
        )
        return 2
    rc = ensure_venv() or ensure_hub_proxy()
    if rc != 0:
        return rc
    return run_final([venv_bin("jupyterhub"), "-f", HUB_CONFIG] + list(extra))


def cmd_preflight(extra):
    rc = ensure_venv()
    if rc != 0:
        return rc
    return run_final([venv_bin("python"), "-m", "helpers", "preflight"] + list(extra))


def cmd_execute(extra):
    """Re-run notebooks (all, or the ones named) in fresh kernels and save their outputs,
    as they are committed: no timing metadata, consecutive prints in one output."""
    rc = ensure_venv()
    if rc != 0:
        return rc
    notebooks = list(extra) or sorted(
        os.path.join("notebooks", name)
        for name in os.listdir("notebooks")
        if name.endswith(".ipynb")
    )
    return run_final(
        [venv_bin("jupyter"), "nbconvert", "--to", "notebook", "--execute", "--inplace"]
        + ["--ExecutePreprocessor.timeout=600", "--ExecutePreprocessor.record_timing=False"]
        # After the run, not before it: nbconvert's own coalescing precedes the execution.
        + ["--Exporter.preprocessors=nbconvert.preprocessors.CoalesceStreamsPreprocessor"]
        + ["--CoalesceStreamsPreprocessor.enabled=True"]
        + notebooks
    )


def direct_pins():
    import tomllib

    with open("pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]["dependencies"]


def cmd_lock(extra):
    import tempfile

    if extra:
        sys.stderr.write("error: lock takes no arguments\n")
        return 2
    pins = direct_pins()
    with tempfile.TemporaryDirectory(prefix="course-lock-") as tmp:
        venv = os.path.join(tmp, "venv")
        say(f"creating a fresh venv to resolve {len(pins)} direct pins...")
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        python = os.path.join(venv, "Scripts" if os.name == "nt" else "bin", "python")
        pip = [python, "-m", "pip", "--disable-pip-version-check"]
        say("installing (takes ~1 min)...")
        subprocess.check_call(pip + ["install", "-q"] + pins)
        frozen = subprocess.check_output(pip + ["freeze", "--exclude-editable"], text=True)
    skip = {"pip", "setuptools", "wheel", "agent-identity-lab"}
    lock = []
    for line in frozen.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name = line.split("==", 1)[0].lower().replace("_", "-").replace(".", "-")
        if name in skip:
            continue
        if "==" not in line:
            sys.stderr.write(f"error: pip freeze gave an unpinned line: {line}\n")
            return 1
        lock.append(line)
    with open("requirements.txt", "w", encoding="utf-8") as f:
        f.write(LOCK_HEADER + "".join(line + "\n" for line in lock))
    with open("environment.yml", "w", encoding="utf-8") as f:
        f.write(ENV_HEADER)
        f.write("name: agent-identity-lab\nchannels:\n  - conda-forge\ndependencies:\n")
        f.write("  - python=3.11\n  - pip\n  - pip:\n")
        f.write("".join(f"      - {line}\n" for line in lock))
        f.write("      - -e .\n")
    say(f"wrote requirements.txt and environment.yml ({len(lock)} pinned packages)")
    return 0


COMMANDS = {
    "lab": cmd_lab,
    "test": cmd_test,
    "hub": cmd_hub,
    "preflight": cmd_preflight,
    "execute": cmd_execute,
    "lock": cmd_lock,
}


def main(argv=None):
    error = check_python()
    if error:
        sys.stderr.write(error + "\n")
        return 1
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help", "help"):
        say(__doc__.strip())
        return 0 if argv else 2
    command = COMMANDS.get(argv[0])
    if command is None:
        sys.stderr.write(f"error: unknown command {argv[0]!r}; use one of: {', '.join(COMMANDS)}\n")
        return 2
    os.chdir(ROOT)
    try:
        return command(argv[1:])
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
