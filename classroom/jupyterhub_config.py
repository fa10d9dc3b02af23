"""JupyterHub for a class of the Agent Identity Lab, on one machine.

Start it with ``python3 course.py hub`` (which installs JupyterHub and its proxy, pinned,
and runs ``jupyterhub -f`` on this file). Each learner signs in with a name of their
choosing and the class password, and gets a single-user Jupyter server of their own, on
their own copy of the course, with a lab of their own in it. See classroom/README.md.

Settings come from the environment, so that one file serves every class:

    CLASS_PASSWORD     the shared class password (8 characters or more; required)
    CLASS_PORT         where the hub listens on 127.0.0.1 (default 8000); it also uses
                       the next two ports, for the hub's API and the proxy's
    CLASS_PUBLIC_URL   the hub's address as learners' browsers see it, when a TLS proxy
                       or tunnel stands in front (default http://127.0.0.1:CLASS_PORT/)
    CLASS_STATE_DIR    the hub's database, cookie secret and (without root) the learners'
                       homes (default classroom/.hub)

The shared password is fit for a class, not more: anyone who has it can sign in under any
learner's name. Learners' labs are isolated from each other (ports, tokens, state); their
accounts at the hub are not. For real accounts use an OAuth authenticator (GitHub, your
university's SSO): only ``authenticator_class`` changes.
"""

import grp
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

c = get_config()  # noqa: F821 - JupyterHub defines it when it loads this file

COURSE = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent  # the hub runs on the course's own .venv
PORT = int(os.environ.get("CLASS_PORT", "8000"))
PUBLIC_URL = os.environ.get("CLASS_PUBLIC_URL", f"http://127.0.0.1:{PORT}/")
STATE = Path(os.environ.get("CLASS_STATE_DIR", COURSE / "classroom" / ".hub")).resolve()
# What each learner gets a copy of, in their home: the notebooks and the worked solutions.
COPIED = ("notebooks", "solutions")
COPY_NAME = "agent-identity-lab"
# The OS group of the accounts this hub made: a learner's name that is already an account
# of this machine, outside it (root, a trainer's own), is refused, never spawned as.
LEARNERS_GROUP = "course-learners"

password = os.environ.get("CLASS_PASSWORD", "")
if len(password) < 8:
    sys.exit("CLASS_PASSWORD must be set to the class password (8 characters or more)")

STATE.mkdir(parents=True, exist_ok=True)
c.JupyterHub.bind_url = f"http://127.0.0.1:{PORT}"
# Each learner's server learns its own public URL from it (JUPYTERHUB_PUBLIC_URL), and the
# lab sends the learner's browser through that server's proxy (helpers.horizon).
c.JupyterHub.public_url = PUBLIC_URL
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = PORT + 1
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 2}"
c.ConfigurableHTTPProxy.command = [
    str(COURSE / "classroom" / "node_modules" / ".bin" / "configurable-http-proxy")
]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")

c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = password
c.Authenticator.allow_all = True
# A name that is safe as an OS account and in a URL; any other is refused at sign-in.
c.Authenticator.username_pattern = r"^[a-z][a-z0-9-]{1,30}$"

# The learner's server: JupyterLab as `course.py lab` opens it, under the hub.
# jupyterhub-singleuser, started without the one import that doubles its start (see there).
c.Spawner.cmd = [str(VENV_BIN / "python"), str(COURSE / "classroom" / "singleuser.py")]
c.Spawner.notebook_dir = f"~/{COPY_NAME}"
c.Spawner.default_url = "/lab/tree/notebooks/00_start_here.ipynb"
c.Spawner.args = [
    f"--LabApp.app_settings_dir={COURSE / 'classroom' / 'jupyterlab-settings'}",
    "--FileContentsManager.preferred_dir=notebooks",
    # Jupyter gives up on a kernel that has not answered within 60 s. With twenty learners
    # pressing Run All at once on two cores, a kernel can take about that long to start:
    # slow is better than a learner's notebook failing with "Connection was lost".
    "--MappingKernelManager.kernel_info_timeout=180",
]
c.Spawner.http_timeout = 60  # twenty servers starting at once on two cores take a while
c.Spawner.environment = {"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', os.defpath)}"}

AS_ROOT = os.geteuid() == 0
if AS_ROOT:
    # One OS account per learner: the OS keeps their files and lab state apart.
    c.JupyterHub.spawner_class = "localprocess"
else:
    # One account for the whole class (a trainer's laptop): homes apart, files not private.
    c.JupyterHub.spawner_class = "simple"
    c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "home" / "{username}")


def taken_by_the_machine(name: str) -> bool:
    """Whether ``name`` is an OS account this hub did not make (root, a trainer's own)."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    try:
        return name not in grp.getgrnam(LEARNERS_GROUP).gr_mem
    except KeyError:
        return True


def refuse_machine_accounts(authenticator: object, handler: object, auth: dict) -> dict | None:
    """As root, signing in as an existing account is refused like a wrong password."""
    if AS_ROOT and taken_by_the_machine(auth["name"]):
        authenticator.log.warning("refused %r: an account of this machine", auth["name"])
        return None
    return auth


c.Authenticator.post_auth_hook = refuse_machine_accounts


def learner_account(name: str) -> pwd.struct_passwd:
    """The learner's OS account, made on their first sign-in."""
    try:
        grp.getgrnam(LEARNERS_GROUP)
    except KeyError:
        subprocess.run(["groupadd", "--system", LEARNERS_GROUP], check=True)
    if taken_by_the_machine(name):  # signed in before the account was someone else's
        raise ValueError(f"{name!r} is an account of this machine: sign in with another name")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        useradd = ["useradd", "--create-home", "--user-group", "--shell", "/bin/bash"]
        subprocess.run([*useradd, "--groups", LEARNERS_GROUP, name], check=True)
        return pwd.getpwnam(name)


def unreachable_by_learners(path: Path) -> Path | None:
    """The first directory on ``path`` that other accounts cannot pass through."""
    for parent in [*reversed(path.parents)]:
        if not parent.stat().st_mode & 0o001:
            return parent
    return None


if AS_ROOT:  # said at start, to the trainer, rather than at each learner's first spawn
    for needed in (Path(sys.executable).resolve(), COURSE / "helpers"):
        blocked = unreachable_by_learners(needed)
        if blocked is not None:
            sys.exit(
                f"learners' accounts cannot reach {needed}: {blocked} is closed to them. "
                f"Install the course and its Python where they can, or open it to "
                f"passing through (not to listing) with:  chmod o+x {blocked}"
            )


def give_the_learner_the_course(spawner: object) -> None:
    """Before each start: the learner's account (as root) and their copy of the course."""
    name = spawner.user.name
    if AS_ROOT:
        home = Path(learner_account(name).pw_dir)
        home.chmod(0o700)  # useradd's default lets every account read it
    else:
        home = Path(spawner.home_dir_template.format(username=name))
    copy = home / COPY_NAME
    for part in COPIED:
        if not (copy / part).exists():  # the learner's edits are theirs: never overwritten
            shutil.copytree(COURSE / part, copy / part)
    if AS_ROOT:
        account = pwd.getpwnam(name)
        for path in [copy, *copy.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid)


c.Spawner.pre_spawn_hook = give_the_learner_the_course
