"""Agent runtimes through the control plane: ``CreateAgentRuntime`` and its siblings.

Direct code deployment, as AgentCore Runtime does it: the code zip is read from S3 (the
lab's moto), unpacked, and its entry point started as a process of its own with the
runtime's environment variables and its execution role's credentials
(:mod:`helpers.agentcore.runtime_host`). Each runtime gets a workload identity of its
own, named after the runtime id, for which only the front door mints WATs (the data
plane refuses them to every caller, as AWS does), and its ``customJWTAuthorizer``
becomes the front door's inbound check. Create and update answer at once with
``CREATING`` or ``UPDATING``; the deployment goes on in the background until ``READY``
(or ``CREATE_FAILED`` / ``UPDATE_FAILED`` with a ``failureReason``). An update is a new
version: the new code starts, then takes the traffic, then the old process stops. An
update that leaves the process's inputs as they were (code, entry point, environment,
role, protocol) and changes only the front door's part (authorizer, headers) is served
by the running process: a new one would run the same thing.

What the lab does not emulate answers 501 rather than being dropped: container images,
VPC networking, Node.js, a port or path of your own, endpoints other than the default,
and the other settings :data:`NOT_EMULATED` lists.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..processes import child_env, reap, spawn
from ..serving import LOOPBACK, Listening, stop_together
from . import request_headers, runtime_host
from .custom_claims import rules_of
from .directory import MANAGED_BY_RUNTIME, Directory, page_of
from .errors import AwsError, validation_error
from .inbound import TrustedIssuer
from .protocol import Handler, without_call
from .runtime import AgentRuntime, RuntimeFrontDoor

# Readiness: an HTTP runtime answers /ping with 200 (the runtime contract); for an MCP
# server any answer will do, from a path that is not /mcp (GET there opens an SSE stream).
READY_PATHS = {"HTTP": "/ping", "MCP": "/"}
DEPLOY_DEADLINE_S = 60.0
# Members the lab keeps and returns as given, beside those it acts on.
KEPT = (
    "agentRuntimeArtifact",
    "roleArn",
    "networkConfiguration",
    "description",
    "authorizerConfiguration",
    "requestHeaderConfiguration",
    "protocolConfiguration",
    "lifecycleConfiguration",
    "environmentVariables",
)
DEFAULT_LIFECYCLE = {"idleRuntimeSessionTimeout": 900, "maxLifetime": 28800}
# Members the lab cannot act on, of the request and of its customJWTAuthorizer.
NOT_EMULATED = (
    "allowedPorts",
    "capacityProviderConfiguration",
    "filesystemConfigurations",
    "hooksConfiguration",
    "metadataConfiguration",
    "platformVersion",
    "resourceConfigurations",
)
JWT_NOT_EMULATED = (
    "allowedWorkloadConfiguration",
    "certificateConfigurations",
    "privateEndpoint",
    "privateEndpointOverrides",
)

FetchCode = Callable[[dict], bytes]  # an S3 location -> the zip's bytes


@dataclass
class Version:
    number: int
    config: dict
    status: str
    created: float
    updated: float
    failure: str | None = None


@dataclass
class Runtime:
    id: str
    name: str
    arn: str
    workload_arn: str
    versions: list[Version] = field(default_factory=list)
    process: RuntimeProcess | None = None

    @property
    def latest(self) -> Version:
        return self.versions[-1]


class RuntimeProcess(Listening):
    """The deployed code of one version, serving on a loopback port the lab bound."""

    def __init__(
        self, name: str, code_dir: Path, entry: str, env: dict[str, str], inputs: str
    ) -> None:
        self.name, self.code_dir = name, code_dir
        self.inputs = inputs  # a digest of what it runs: code, entry point, environment
        listener = socket.create_server((LOOPBACK, 0))
        self.port = listener.getsockname()[1]
        self.url = f"http://{LOOPBACK}:{self.port}"
        fd = listener.fileno()
        self._log = open(code_dir.parent / f"{code_dir.name}.log", "ab")  # noqa: SIM115
        try:
            self._proc = spawn(
                [sys.executable, "-m", runtime_host.__name__, entry],
                cwd=code_dir,
                env=child_env({**env, runtime_host.SOCKET_FD_VAR: str(fd)}),
                pass_fds=(fd,),
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
        finally:
            listener.close()  # the child holds its own copy

    def still_alive(self) -> None:
        if self._proc.poll() is not None:
            raise RuntimeError(f"the entry point exited with status {self._proc.returncode}")

    def stop(self) -> None:  # safe to call twice, and from two threads
        reap(self._proc)
        self._log.close()


class AgentRuntimes:
    """The runtimes of one account: their versions, processes and front-door entries."""

    def __init__(
        self,
        *,
        directory: Directory,
        front_door: RuntimeFrontDoor,
        fetch_code: FetchCode,
        roles: dict[str, dict[str, str]],
        base_env: dict[str, str],
        state_dir: Path,
        clock: Callable[[], float],
    ) -> None:
        self.directory, self.front_door, self.fetch_code = directory, front_door, fetch_code
        self.roles = roles  # role ARN -> the credentials its processes get
        self.base_env, self.clock = base_env, clock
        self.code_root = state_dir / "runtimes"
        self._lock = threading.Lock()
        self._runtimes: dict[str, Runtime] = {}
        self._starting: set[RuntimeProcess] = set()  # deployed, not READY yet
        self._created: dict[str, tuple[dict, dict]] = {}  # clientToken -> (request, answer)
        self._stopped = False

    def handlers(self) -> dict[str, Handler]:
        ops: dict[str, Callable[[dict], dict]] = {
            "CreateAgentRuntime": self.create,
            "GetAgentRuntime": self.get,
            "UpdateAgentRuntime": self.update,
            "ListAgentRuntimes": self.list_runtimes,
            "ListAgentRuntimeVersions": self.list_versions,
            "DeleteAgentRuntime": self.delete,
        }
        return {name: without_call(fn) for name, fn in ops.items()}

    # -- operations ---------------------------------------------------------------------
    def create(self, p: dict) -> dict:
        config = self._checked(p)
        with self._lock:
            repeated = self._repeated(p)
            if repeated is not None:  # a retry of a create that was made: the same answer
                return repeated
            if any(r.name == p["agentRuntimeName"] for r in self._runtimes.values()):
                raise AwsError(
                    "ConflictException", f"An agent runtime {p['agentRuntimeName']} exists."
                )
            runtime_id = self.id_for(p["agentRuntimeName"])
            arn = self.front_door.arn(runtime_id)
            # The marker lets the data plane refuse WATs for this identity to any caller:
            # only the front door mints them, one per invocation.
            workload = self.directory.create(
                "workload",
                runtime_id,
                {"allowedResourceOauth2ReturnUrls": [], MANAGED_BY_RUNTIME: arn},
            )
            runtime = Runtime(runtime_id, p["agentRuntimeName"], arn, workload.arn)
            self.directory.create("runtime", runtime_id, {}, p.get("tags"))  # its tags
            runtime.versions.append(self._version(1, config, "CREATING"))
            self._runtimes[runtime_id] = runtime
            first = runtime.latest
            answer = {**self._summary(runtime, first), "createdAt": _time(first.created)}
            if "clientToken" in p:
                self._created[p["clientToken"]] = (_without_token(p), answer)
        self._deploy_in_background(runtime, first)
        return answer

    def _repeated(self, p: dict) -> dict | None:
        """The answer to an earlier create with this client token, if the request is the
        same; a ConflictException if it is not (the token was used for something else)."""
        earlier = self._created.get(p.get("clientToken", ""))
        if earlier is None:
            return None
        request, answer = earlier
        if request != _without_token(p):
            raise AwsError(
                "ConflictException", "This clientToken was used for a different request."
            )
        return answer

    def update(self, p: dict) -> dict:
        config = self._checked(p)
        with self._lock:
            runtime = self._find(p["agentRuntimeId"])
            if runtime.latest.status in ("CREATING", "UPDATING"):
                raise AwsError(
                    "ConflictException", f"Agent runtime {runtime.id} is {runtime.latest.status}."
                )
            version = self._version(runtime.latest.number + 1, config, "UPDATING")
            runtime.versions.append(version)
        self._deploy_in_background(runtime, version)
        return {
            **self._summary(runtime, version),
            "createdAt": _time(runtime.versions[0].created),
            "lastUpdatedAt": _time(version.updated),
        }

    def get(self, p: dict) -> dict:
        runtime = self._find(p["agentRuntimeId"])
        version = self._version_of(runtime, p.get("agentRuntimeVersion"))
        return {
            **{key: version.config[key] for key in KEPT if key in version.config},
            **self._summary(runtime, version),
            "agentRuntimeName": runtime.name,
            "createdAt": _time(runtime.versions[0].created),
            "lastUpdatedAt": _time(version.updated),
            "failureReason": version.failure,
        }

    def list_runtimes(self, p: dict) -> dict:
        with self._lock:
            runtimes = list(self._runtimes.values())
        listed = [self._listed(r, r.latest) for r in runtimes]
        return _paged("agentRuntimes", listed, p)

    def list_versions(self, p: dict) -> dict:
        runtime = self._find(p["agentRuntimeId"])
        listed = [self._listed(runtime, v) for v in reversed(runtime.versions)]
        return _paged("agentRuntimes", listed, p)

    def delete(self, p: dict) -> dict:
        if "agentRuntimeVersion" in p:
            return self._delete_version(p["agentRuntimeId"], p["agentRuntimeVersion"])
        with self._lock:
            runtime = self._find(p["agentRuntimeId"])
            del self._runtimes[runtime.id]
        self.front_door.unhost(runtime.arn)
        if runtime.process is not None:
            runtime.process.stop()
        self.directory.delete("workload", runtime.id)
        self.directory.delete("runtime", runtime.id)
        shutil.rmtree(self.code_root / runtime.id, ignore_errors=True)
        return {"agentRuntimeId": runtime.id, "status": "DELETING"}

    def _delete_version(self, runtime_id: str, number: str) -> dict:
        """One version of a runtime goes; the runtime, its latest version (the one its
        DEFAULT endpoint serves) and its workload identity stay."""
        with self._lock:
            runtime = self._find(runtime_id)
            version = self._version_of(runtime, number)
            if version is runtime.latest:
                raise AwsError(
                    "ConflictException",
                    f"Version {number} is the one the DEFAULT endpoint serves: update the"
                    " runtime first, or delete the whole runtime.",
                )
            runtime.versions.remove(version)
            code_dir = self.code_root / runtime.id / f"v{number}"
            serving = runtime.process is not None and runtime.process.code_dir == code_dir
        if not serving:  # a later version with the same code may still run from it
            shutil.rmtree(code_dir, ignore_errors=True)
        return {"agentRuntimeId": runtime.id, "agentRuntimeVersion": number, "status": "DELETING"}

    # -- deployment ---------------------------------------------------------------------
    def _deploy_in_background(self, runtime: Runtime, version: Version) -> None:
        threading.Thread(
            target=self._deploy, args=(runtime, version), name=f"deploy-{runtime.id}", daemon=True
        ).start()

    def _deploy(self, runtime: Runtime, version: Version) -> None:
        failed = "CREATE_FAILED" if version.number == 1 else "UPDATE_FAILED"
        try:
            process = self._start(runtime, version)
        except Exception as exc:  # the learner's code or zip: say why in failureReason
            self._settle(version, failed, f"{type(exc).__name__}: {exc}")
            return
        with self._lock:
            # Deleted (and perhaps made again under the same name, so the same id), or the
            # service stopped, while the code was starting: this process serves nothing.
            gone = self._stopped or self._runtimes.get(runtime.id) is not runtime
            if not gone:
                previous, runtime.process = runtime.process, process
        if gone:  # deleted, or the service stopped, while the code was starting
            process.stop()
            return
        self.front_door.host(self._front_door_entry(runtime, version, process))
        if previous is not None and previous is not process:
            previous.stop()  # after the new version took the traffic
        self._settle(version, "READY")

    def _start(self, runtime: Runtime, version: Version) -> RuntimeProcess:
        code = version.config["agentRuntimeArtifact"]["codeConfiguration"]
        archive = self._code_zip(code["code"]["s3"])
        entry = code["entryPoint"][-1]  # e.g. ["opentelemetry-instrument", "main.py"]
        env = {
            **self.base_env,
            **self.roles[version.config["roleArn"]],
            **version.config.get("environmentVariables", {}),
        }
        inputs = _digest(archive, entry, env, _protocol(version.config))
        running = runtime.process
        if running is not None and running.inputs == inputs:
            # The same code, entry point, environment, role and protocol: a new process
            # would be this one again. The version changes only the front door (authorizer,
            # headers), so the running process serves it.
            return running
        code_dir = self.code_root / runtime.id / f"v{version.number}"
        self._unpack(archive, code_dir)
        if not (code_dir / entry).is_file():
            raise FileNotFoundError(f"the entry point {entry} is not in the code zip")
        process = RuntimeProcess(runtime.id, code_dir, entry, env, inputs)
        with self._lock:
            self._starting.add(process)  # stop() ends it too, READY or not
            stopped = self._stopped
        protocol = _protocol(version.config)
        try:
            if stopped:
                raise RuntimeError("the service stopped while the code was starting")
            process.wait_ready(
                READY_PATHS[protocol],
                DEPLOY_DEADLINE_S,
                still_alive=process.still_alive,
                ready=(lambda status: status == 200) if protocol == "HTTP" else bool,
            )
        except Exception:
            process.stop()
            raise
        finally:
            with self._lock:
                self._starting.discard(process)
        return process

    def _unpack(self, archive: bytes, code_dir: Path) -> None:
        """Each version gets a folder of its own, linked to the zip unpacked once.

        A zip that carries its dependencies (AWS mode's) holds thousands of files: unpacking
        it for every version and notebook cost seconds each; hard links cost milliseconds.
        What the code writes in its folder stays that version's.
        """
        unpacked = self.code_root / ".unpacked" / hashlib.sha256(archive).hexdigest()
        if not unpacked.is_dir():
            unpacked.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(dir=unpacked.parent))
            with zipfile.ZipFile(io.BytesIO(archive)) as members:
                members.extractall(staging)
            try:
                staging.rename(unpacked)
            except OSError:  # another deployment of the same zip unpacked it meanwhile
                shutil.rmtree(staging, ignore_errors=True)
        code_dir.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(unpacked, code_dir, copy_function=os.link)

    def _code_zip(self, location: dict) -> bytes:
        try:
            return self.fetch_code(location)
        except Exception as exc:  # S3's answer, without the SDK's wording around it
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            where = f"s3://{location.get('bucket')}/{location.get('prefix', '')}"
            raise FileNotFoundError(f"the code zip {where} could not be read ({code})") from None

    def _front_door_entry(
        self, runtime: Runtime, version: Version, process: RuntimeProcess
    ) -> AgentRuntime:
        jwt = version.config.get("authorizerConfiguration", {}).get("customJWTAuthorizer")
        return AgentRuntime(
            runtime.id,
            runtime.id,  # its workload identity
            process.url,
            "JWT" if jwt else "IAM",
            protocol=_protocol(version.config),
            issuer=jwt
            and TrustedIssuer(jwt["discoveryUrl"], tuple(jwt.get("allowedAudience", []))),
            allowed_clients=tuple(jwt.get("allowedClients", ())) if jwt else (),
            allowed_scopes=tuple(jwt.get("allowedScopes", ())) if jwt else (),
            advertised_scopes=_advertised(jwt) if jwt else (),
            custom_claims=rules_of(jwt.get("customClaims", [])) if jwt else (),
            passed_headers=request_headers.allowlist_of(version.config, jwt_authorizer=bool(jwt)),
        )

    def _settle(self, version: Version, status: str, failure: str | None = None) -> None:
        with self._lock:
            version.status, version.failure, version.updated = status, failure, self.clock()

    # -- helpers ------------------------------------------------------------------------
    def _checked(self, p: dict) -> dict:
        """The request's configuration, if the lab can run it; else a clear refusal."""
        artifact = p["agentRuntimeArtifact"]
        if "codeConfiguration" not in artifact:
            raise _not_emulated("Container images (containerConfiguration)")
        if p.get("networkConfiguration", {}).get("networkMode", "PUBLIC") != "PUBLIC":
            raise _not_emulated("VPC network mode")
        _refuse_what_is_not_emulated(p)
        jwt = p.get("authorizerConfiguration", {}).get("customJWTAuthorizer")
        if jwt:
            rules_of(jwt.get("customClaims", []))  # a pairing the service refuses, refused here
            _check_scope_mapping(jwt)
        request_headers.allowlist_of(p, jwt_authorizer=bool(jwt))
        code = artifact["codeConfiguration"]
        if "s3" not in code["code"]:
            raise validation_error(
                "The code must come from S3.", [("agentRuntimeArtifact", "code.s3 is missing")]
            )
        _check_entry_point(code["entryPoint"][-1])
        _check_environment(p.get("environmentVariables", {}))
        if p["roleArn"] not in self.roles:
            raise AwsError(
                "AccessDeniedException", f"The lab's runtime cannot assume role {p['roleArn']}."
            )
        config = {key: p[key] for key in KEPT if key in p}
        _protocol(config)  # one the lab can serve
        config.setdefault("networkConfiguration", {"networkMode": "PUBLIC"})
        config.setdefault("lifecycleConfiguration", DEFAULT_LIFECYCLE)
        return config

    def id_for(self, name: str) -> str:
        """The id of the runtime called ``name``: the name and 10 characters. AWS draws them
        at random; the lab derives them from the account and the name, so that a notebook's
        outputs repeat (and a URL can be known before its runtime exists)."""
        seed = hashlib.sha256(f"{self.front_door.account_id}/{name}".encode()).digest()
        return f"{name}-{_base62(int.from_bytes(seed, 'big'), 10)}"

    def _version(self, number: int, config: dict, status: str) -> Version:
        now = self.clock()
        return Version(number, config, status, now, now)

    def _find(self, runtime_id: str) -> Runtime:
        runtime = self._runtimes.get(runtime_id)
        if runtime is None:
            raise AwsError("ResourceNotFoundException", f"No agent runtime {runtime_id}.")
        return runtime

    @staticmethod
    def _version_of(runtime: Runtime, number: str | None) -> Version:
        if number is None:
            return runtime.latest
        for version in runtime.versions:
            if str(version.number) == number:
                return version
        raise AwsError(
            "ResourceNotFoundException", f"Agent runtime {runtime.id} has no version {number}."
        )

    @staticmethod
    def _summary(runtime: Runtime, version: Version) -> dict:
        return {
            "agentRuntimeArn": runtime.arn,
            "agentRuntimeId": runtime.id,
            "agentRuntimeVersion": str(version.number),
            "workloadIdentityDetails": {"workloadIdentityArn": runtime.workload_arn},
            "status": version.status,
        }

    def _listed(self, runtime: Runtime, version: Version) -> dict:
        summary = self._summary(runtime, version)
        del summary["workloadIdentityDetails"]
        return {
            **summary,
            "agentRuntimeName": runtime.name,
            "description": version.config.get("description", ""),
            "lastUpdatedAt": _time(version.updated),
        }

    def hand_over(self) -> list[Runtime]:
        """Give up every runtime, processes running, to a successor (:meth:`adopt`)."""
        with self._lock:
            runtimes, self._runtimes = list(self._runtimes.values()), {}
        return runtimes

    def adopt(self, runtimes: list[Runtime]) -> None:
        """Serve runtimes a predecessor handed over, as after the service restarted."""
        for runtime in runtimes:
            with self._lock:
                self._runtimes[runtime.id] = runtime
            ready = [v for v in runtime.versions if v.status == "READY"]
            if runtime.process is not None and ready:
                self.front_door.host(self._front_door_entry(runtime, ready[-1], runtime.process))

    def stop(self) -> None:
        """Stop every runtime's process, those still starting included, all at once."""
        with self._lock:
            self._stopped = True
            processes = [r.process for r in self._runtimes.values() if r.process is not None]
            processes += self._starting
        stop_together(processes)


def _paged(member: str, items: list[dict], p: dict) -> dict:
    page, token = page_of(items, p.get("maxResults"), p.get("nextToken"))
    return {member: page, "nextToken": token} if token else {member: page}


def _protocol(config: dict) -> str:
    protocol = config.get("protocolConfiguration", {}).get("serverProtocol", "HTTP")
    if protocol not in READY_PATHS:
        raise _not_emulated(f"Server protocol {protocol}")
    return protocol


def _refuse_what_is_not_emulated(p: dict) -> None:
    jwt = p.get("authorizerConfiguration", {}).get("customJWTAuthorizer", {})
    given = [m for m in NOT_EMULATED if m in p] + [m for m in JWT_NOT_EMULATED if m in jwt]
    given += [
        f"protocolConfiguration.{m}"
        for m in ("port", "path")
        if m in p.get("protocolConfiguration", {})
    ]
    if given:
        raise _not_emulated(", ".join(given))
    if p["agentRuntimeArtifact"].get("codeConfiguration", {}).get("runtime", "").startswith("NODE"):
        raise _not_emulated("Node.js runtimes (the lab runs Python code)")


def _check_entry_point(entry: str) -> None:
    """The file the runtime starts must be one of the zip's own."""
    path = Path(entry)
    if path.is_absolute() or ".." in path.parts or not entry.strip():
        raise validation_error(
            f"The entry point {entry!r} is not a path inside the code zip.",
            [("entryPoint", "a relative path within the zip")],
        )


def _check_environment(variables: dict[str, str]) -> None:
    for name, value in variables.items():
        if "\0" in name or "\0" in value:
            raise validation_error(
                f"Environment variable {name!r} holds a NUL character, which no process can get.",
                [("environmentVariables", "no NUL characters")],
            )


def _digest(archive: bytes, entry: str, env: dict[str, str], protocol: str) -> str:
    settings = json.dumps([entry, sorted(env.items()), protocol]).encode()
    return hashlib.sha256(hashlib.sha256(archive).digest() + settings).hexdigest()


def _without_token(p: dict) -> dict:
    return {key: value for key, value in p.items() if key != "clientToken"}


def _check_scope_mapping(jwt: dict) -> None:
    unknown = set(jwt.get("advertisedScopeMapping", {})) - set(jwt.get("allowedScopes", ()))
    if unknown:
        raise validation_error(
            "advertisedScopeMapping maps scopes that are not in allowedScopes.",
            [("advertisedScopeMapping", f"not in allowedScopes: {sorted(unknown)}")],
        )


def _advertised(jwt: dict) -> tuple[str, ...]:
    """allowedScopes as clients are told to ask for them (advertisedScopeMapping)."""
    mapping = jwt.get("advertisedScopeMapping", {})
    return tuple(mapping.get(scope, scope) for scope in jwt.get("allowedScopes", ()))


def _not_emulated(what: str) -> AwsError:
    return AwsError("NotImplementedException", f"{what}: not emulated in the lab.", status=501)


def _base62(number: int, length: int) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    digits = []
    for _ in range(length):
        number, digit = divmod(number, len(alphabet))
        digits.append(alphabet[digit])
    return "".join(digits)


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
