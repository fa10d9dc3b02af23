"""The lab: every service a notebook needs, started on 127.0.0.1 and stopped cleanly.

``lab = start_lab()`` in a notebook (or ``with start_lab() as lab:`` in a script) starts
the identity provider and the cast, exports the endpoint variables, and registers a stop
at interpreter exit. Starting a lab again first stops the previous one, so re-running a
start cell never leaves a server behind.
"""

from __future__ import annotations

import atexit
import functools
import gc
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from . import aws, lab_only, skipped_imports
from .aws_mode import REACHABLE_SERVERS, AwsMode, AwsModeError
from .browser import ScriptedBrowser
from .cast import agent, fitness_api
from .cast.frontend import Frontend
from .cast.resource_server import ResourceServer
from .clock import LabClock
from .horizon import JUPYTER_URL_VAR, Horizon
from .idp import seed
from .idp.app import IdentityProvider
from .masking import mask
from .serving import BackgroundServer, stop_together
from .stopped import MESSAGE as STOPPED

if TYPE_CHECKING:
    from .agentcore.lab_part import AgentCorePart
    from .secrets.lab_part import OpenBaoPart
    from .stride import Stride

_current: Lab | None = None
SERVICES = ("idp", "frontend", "agent", "fitness_api")
# A kernel's reply to a shutdown request takes milliseconds; Jupyter kills it after 2.5 s.
SHUTDOWN_REPLY_WAIT_S = 0.5


@dataclass(frozen=True)
class Endpoints:
    issuer: str
    frontend: str
    agent: str
    fitness_api: str

    @property
    def discovery(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"


class Lab:
    """Handles to the running services, the lab clock and the levers tests pull."""

    def __init__(
        self,
        agentcore: bool = False,
        state_dir: Path | None = None,
        openbao: bool = False,
        agentcore_ports: tuple[int, int] = (0, 0),
        horizon: Horizon | None = None,
        aws_mode: AwsMode | None = None,
    ) -> None:
        began = time.perf_counter()
        self.clock = LabClock()
        # Where the learner's browser reaches the services (helpers.horizon): directly, or
        # through Jupyter's proxy when LAB_JUPYTER_URL says where Jupyter is.
        self.horizon = horizon or Horizon.from_env()
        # One botocore loader for the lab's AWS clients and the notebook's: each service
        # model is parsed once (see aws.botocore_session).
        self.botocore_loader = aws.new_loader()
        # In AWS mode the provider and AWS are elsewhere: the kernel runs the app alone.
        self.aws_mode = aws_mode
        names = ("frontend", "agent", "fitness_api") if aws_mode else SERVICES
        reachable = aws_mode.reachable if aws_mode else {}
        port = {"frontend": aws_mode.frontend_port} if aws_mode else {}
        if "fitness_api" in reachable:  # runtimes on AWS read it: the port AWS reaches
            port["fitness_api"] = reachable["fitness_api"].port
        self._servers = {name: BackgroundServer(name, port.get(name, 0)) for name in names}
        urls = {name: s.url for name, s in self._servers.items()}
        if "fitness_api" in reachable:
            urls["fitness_api"] = reachable["fitness_api"].url
        if aws_mode:
            urls["frontend"] = aws_mode.frontend_url
        issuer = _issuer_of(aws_mode.oidc_discovery_url()) if aws_mode else urls.pop("idp")
        self.urls = Endpoints(issuer=issuer, **urls)
        self.idp = None if aws_mode else IdentityProvider(self.urls.issuer, self.clock, seed.REALM)
        if self.idp is not None:
            self._seed(self.idp)
        self.agentcore: AgentCorePart | None = None
        if agentcore and not aws_mode:  # imported only when asked for: moto, SDKs are heavy
            from .agentcore.lab_part import AgentCorePart

            self.agentcore = AgentCorePart(
                clock=self.clock,
                idp_store=self.idp.store,
                discovery_url=self.urls.discovery,
                state_dir=state_dir,
                ports=agentcore_ports,
                loader=self.botocore_loader,
                horizon=self.horizon,
            )
        # The AgentCore endpoints a successor should keep (see start_lab): these, or the
        # ones this lab was handed and did not need.
        self.agentcore_ports = self.agentcore.ports if self.agentcore else agentcore_ports
        self.frontend = Frontend(self.frontend_env(), self.clock)
        self.agent_rs = self._resource_server("fitness-agent", agent.AUDIENCE)
        self.fitness_rs = self._resource_server("fitness-api", fitness_api.AUDIENCE)
        apps = {
            "idp": self.idp.app if self.idp else None,
            "frontend": self.frontend.app,
            "agent": agent.create_agent(self.agent_rs),
            "fitness_api": fitness_api.create_fitness_api(self.fitness_rs),
        }
        for name, server in self._servers.items():
            server.start(apps[name])
        for server in self._servers.values():
            server.wait_ready()
        # After the IdP is up: OpenBao reads its discovery document when configured.
        self.openbao: OpenBaoPart | None = None
        if openbao and not aws_mode:
            from .secrets.lab_part import OpenBaoPart

            self.openbao = OpenBaoPart(self.urls.discovery)
        self._saved_env: dict[str, str | None] = {}
        self.ready_after_s = time.perf_counter() - began
        self.stopped = False

    def _seed(self, idp: IdentityProvider) -> None:
        store = idp.store
        for user in seed.USERS:
            store.add_user(user)
        callbacks = self.horizon.both(f"{self.urls.frontend}/callback")
        store.add_client(seed.frontend_client(callbacks, seed.new_secret()))
        store.add_client(seed.resource_server_client("fitness-agent", "Fitness Coach agent"))
        store.add_client(seed.resource_server_client("fitness-api", "Fitness API"))
        store.add_client(seed.machine_client("reporting-job", "activities:read"))
        # An API a client may name by its URI (RFC 8707); the MCP runtime joins it once made.
        store.add_resource(self.urls.fitness_api, fitness_api.AUDIENCE)

    def _resource_server(self, client_id: str, audience: str) -> ResourceServer:
        creds = (client_id, self.client_secret(client_id))
        return ResourceServer(
            name=audience,
            audience=audience,
            issuer=self.urls.issuer,
            discovery_url=self.urls.discovery,
            introspection_auth=creds,
            clock=self.clock,
        )

    @property
    def audiences(self) -> dict[str, str]:
        """Who a token can be shown to in the lab, and the audience each one insists on."""
        return {
            "the agent": agent.AUDIENCE,
            "the fitness API": fitness_api.AUDIENCE,
            "the frontend (id tokens)": seed.FRONTEND_CLIENT_ID,
        }

    # -- configuration the way a deployment would inject it ------------------------
    def client_secret(self, client_id: str) -> str:
        """The secret of ``client_id`` at the identity provider, as its admin hands it out."""
        if self.aws_mode is not None:
            return self.aws_mode.client_secret(client_id)
        return self.idp.store.clients[client_id].client_secret

    def frontend_env(self) -> dict[str, str]:
        """The frontend's deployment environment (what an IaC template would inject)."""
        return {
            "OAUTH_CLIENT_ID": seed.FRONTEND_CLIENT_ID,
            "OAUTH_CLIENT_SECRET": self.client_secret(seed.FRONTEND_CLIENT_ID),
            "OAUTH_DISCOVERY_URL": self.urls.discovery,
            "OAUTH_REDIRECT_URI": f"{self.urls.frontend}/callback",
            "OAUTH_SCOPE": seed.FRONTEND_LOGIN_SCOPE,
            "AGENT_URL": self.urls.agent,
            **({JUPYTER_URL_VAR: self.horizon.jupyter_url} if self.horizon.proxied else {}),
            **(self.agentcore.frontend_env() if self.agentcore else {}),
            **({"AWS_REGION": aws.configured_region()} if self.aws_mode else {}),
        }

    def env(self) -> dict[str, str]:
        """Endpoint variables for client code (and the lab's fake AWS credentials)."""
        return {
            **(self.agentcore.env() if self.agentcore else {}),
            **(self.openbao.env() if self.openbao else {}),
            "LAB_OIDC_ISSUER": self.urls.issuer,
            "LAB_OIDC_DISCOVERY_URL": self.urls.discovery,
            "LAB_FRONTEND_URL": self.urls.frontend,
            "LAB_AGENT_URL": self.urls.agent,
            "LAB_FITNESS_API_URL": self.urls.fitness_api,
        }

    # -- levers ---------------------------------------------------------------------
    def rotate_client_secret(self, client_id: str = seed.FRONTEND_CLIENT_ID) -> str:
        """Issue a new secret at the IdP; the running frontend still holds the old one."""
        self.idp.store.clients[client_id].client_secret = seed.new_secret()
        return mask(self.client_secret(client_id))

    def register_key_client(self, client_id: str, public_key: bytes, scope: str) -> dict:
        """The IdP's administrator registers a machine client that authenticates with
        ``private_key_jwt``: no secret, only its public key (DER, as KMS GetPublicKey
        returns it). Returns the JWK the IdP keeps."""
        self.idp.store.add_client(seed.key_client(client_id, public_key, scope))
        return self.idp.store.clients[client_id].jwks["keys"][0]

    def rotate_signing_key(self, keep_previous: bool = True) -> str:
        """The IdP signs with a new key from now on; returns its ``kid``.

        With ``keep_previous`` the old public key stays in the JWKS, so tokens already
        issued keep verifying; without it they fail with an unknown ``kid``.
        """
        return self.idp.keys.rotate(keep_previous=keep_previous)

    def redeploy_frontend(self) -> float:
        """Restart the frontend with a freshly rendered environment; returns seconds taken.

        Like a real redeploy, in-memory sessions of the old instance are gone.
        """
        began = time.perf_counter()
        self.frontend = Frontend(self.frontend_env(), self.clock)
        self._servers["frontend"].app = self.frontend.app
        self._servers["frontend"].wait_ready()
        return time.perf_counter() - began

    def health(self) -> dict[str, str]:
        """Each service's own answer to its health check (or why it gave none)."""
        checks = {name: f"{server.url}/healthz" for name, server in self._servers.items()}
        if self.agentcore:
            identity = self.agentcore.identity
            checks["agentcore-control"] = f"{identity.control_server.url}/healthz"
            checks["agentcore-data"] = f"{identity.data_server.url}/healthz"
        if self.openbao:
            checks["openbao"] = f"{self.openbao.server.url}/v1/sys/health"
        report = {}
        for name, url in checks.items():
            try:
                resp = requests.get(url, timeout=2)
                report[name] = "ok" if resp.ok else f"HTTP {resp.status_code}"
            except requests.RequestException as exc:
                report[name] = f"down ({type(exc).__name__})"
        return report

    def public(self, url: str) -> str:
        """A link to a lab service for the learner's own browser (see helpers.horizon):
        the same URL locally, the Jupyter proxy's URL when JupyterLab is remote."""
        return self.horizon.public_link(url)

    def browser(self) -> ScriptedBrowser:
        return ScriptedBrowser()

    @functools.cached_property
    def stride(self) -> Stride:
        """Stride, a third-party fitness service with its own accounts and authorization
        server (helpers.stride): started the first time a notebook uses it."""
        from .stride import Stride

        return Stride(self.clock, self.horizon, self.aws_mode.reachable if self.aws_mode else {})

    # -- lifecycle --------------------------------------------------------------------
    def stop(self) -> None:
        if self.stopped:
            return
        stride = self.__dict__.get("stride")  # only if it was started
        stop_together([self.agentcore, self.openbao, stride, *self._servers.values()])
        self._restore_env()
        self.stopped = True

    def export_env(self) -> None:
        """Point client code at the lab, remembering what the variables held before."""
        for name, value in self.env().items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        # boto3's default session resolves credentials once and keeps them: a fresh one
        # for the new variables (a re-run start cell), sharing the lab's parsed models.
        aws.use_as_default_session(self.botocore_loader)

    def _restore_env(self) -> None:
        # A learner's own AWS settings come back when the lab stops.
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        aws.forget_default_session()

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "stopped" if self.stopped else "running"
        lines = [f"Lab ({state})"] + [f"  {k:<14} {v}" for k, v in vars(self.urls).items()]
        return "\n".join(lines)


def start_lab(agentcore: bool = False, state_dir: Path | None = None, openbao: bool = False) -> Lab:
    """Start (or restart) the lab and export its endpoint variables.

    ``agentcore=True`` adds the AgentCore Identity emulator and moto (KMS, Secrets
    Manager); ``openbao=True`` an OpenBao server (Vault API) trusting the lab IdP.
    ``state_dir`` keeps the emulator's state (directory, token vault) there;
    by default a fresh temporary directory, removed when the lab stops.

    In AWS mode (``LAB_AWS_MODE``, see helpers.aws_mode) only the course's app starts
    here; the identity provider, AWS and OpenBao are the ones configured.
    """
    global _current
    skipped_imports.skip()  # the notebook's MCP client would build unused grammars
    ports = (0, 0)
    if _current is not None:
        _current.stop()
        # An imported bedrock-agentcore SDK keeps the endpoints it read at import time.
        ports = _current.agentcore_ports
    _current = Lab(
        agentcore=agentcore,
        state_dir=state_dir,
        openbao=openbao,
        agentcore_ports=ports,
        aws_mode=AwsMode.from_env(),
    )
    _current.export_env()
    _warn_of_unreachable_servers(_current.aws_mode)
    shell = _ipython_shell()
    if shell is not None:
        _explain_refused_connections(shell)
        _stop_when_the_kernel_shuts_down(shell)
        lab_only.install(shell)
    return _current


def _warn_of_unreachable_servers(mode: AwsMode | None) -> None:
    """One line when runtimes on AWS would call servers of the app on 127.0.0.1."""
    missing = [name for name in REACHABLE_SERVERS if mode and name not in mode.reachable]
    if missing:
        print(
            f"AWS mode: AWS cannot reach {', '.join(missing)} on 127.0.0.1; give each a port"
            f" and a URL in [reachable_from_aws] of {mode.path} (README.md, AWS mode)"
        )


def _issuer_of(discovery_url: str) -> str:
    """The provider's issuer, as its discovery document states it (OIDC Discovery §4.3)."""
    try:
        document = requests.get(discovery_url, timeout=10)
        document.raise_for_status()
        return document.json()["issuer"].rstrip("/")
    except (requests.RequestException, ValueError, KeyError) as exc:
        raise AwsModeError(f"no issuer from the discovery URL {discovery_url}: {exc}") from None


def _ipython_shell() -> Any:
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython else None


def _stop_when_the_kernel_shuts_down(shell: Any) -> None:
    """Stop the lab the moment the kernel is told to shut down (the shell's ``exit_now``).

    ipykernel then terminates the kernel's children and checks on them 10, 40, 140 and
    440 ms later: an agent that takes 180 ms to close costs the whole 440. Stopped by the
    lab first, all at once, they are gone by the time ipykernel looks.
    """
    shell.observe(_stop_on_exit_now, names="exit_now")  # observing twice still calls once


def _stop_on_exit_now(change: dict) -> None:
    if change["new"] and _current is not None:
        _current.stop()


def _explain_refused_connections(shell: Any) -> None:
    """In a notebook, a call to a stopped lab fails deep inside requests or botocore: say
    what happened in one line instead (helpers.stopped). Other errors are shown as ever."""

    def handler(
        shell: Any, kind: type, error: BaseException, tb: Any, tb_offset: Any = None
    ) -> None:
        refused = isinstance(error, OSError) or type(error).__module__.startswith("botocore")
        if refused and _current is not None and _current.stopped:
            print(STOPPED)
        else:
            shell.showtraceback((kind, error, tb), tb_offset=tb_offset)

    shell.set_custom_exc((Exception,), handler)


@atexit.register
def _stop_at_exit() -> None:
    if _current is not None:
        _current.stop()
    _let_the_kernel_finish_its_shutdown_reply()
    # What is left is the interpreter's exit, and IPython's part of it (its shell reset)
    # runs a full garbage collection over every object the kernel loaded: botocore's
    # models, moto, matplotlib. That took 0.2-0.4 s per kernel. Frozen objects are not
    # walked, and the exiting process releases them all at once.
    gc.freeze()


def _let_the_kernel_finish_its_shutdown_reply() -> None:
    """ipykernel (7.4) answers a shutdown request on its control thread, then flushes
    output through its IOPub thread, while the main thread exits and, in a later exit
    hook, stops that IOPub thread. When the stop wins, the control thread's flush waits
    out its 10 s timeout, and Jupyter kills the kernel after 2.5 s. nbclient (the
    benchmark's runner) waited that long for 3 to 6 kernels in 10 with a lab running;
    JupyterLab shuts kernels down the same way, nbval kills them outright. The control
    thread ends as soon as its flush is done, so wait for that here, briefly.
    """
    kernelapp = sys.modules.get("ipykernel.kernelapp")
    if kernelapp is None or not kernelapp.IPKernelApp.initialized():
        return
    control = getattr(kernelapp.IPKernelApp.instance(), "control_thread", None)
    if control is not None and control.is_alive() and control is not threading.current_thread():
        control.join(timeout=SHUTDOWN_REPLY_WAIT_S)
