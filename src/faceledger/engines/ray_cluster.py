"""A real multi-node Ray cluster on one machine, started with the ``ray`` command line.

For tests, benchmarks and trying the Ray engine without a cloud account: every node is its
own ``ray start --block`` process tree (GCS and raylet on the head; a raylet, its object
store and its workers on each node) with its own CPUs and its own temp folder, joined to the
head by address exactly as on separate machines. Nothing is shared but the machine.

Example::

    with LocalCluster(cpus_per_node=1) as cluster:
        cluster.start(nodes=2)                # head + one more node, both alive
        settings = load_settings(engine="ray", ray_address=cluster.address, workers=2)
        scan_pending(ledger, settings)        # one actor on each node
        cluster.kill_node(cluster.nodes[1])   # SIGKILL its raylet and workers

The cluster uses Ray's token authentication with a fresh random token: ``env`` holds what a
driver needs (``RAY_AUTH_MODE``, ``RAY_AUTH_TOKEN``); :meth:`start` puts it in this process's
environment until :meth:`stop`, so ``ray.init(address=...)`` here and in child processes
(``faceledger scan --engine ray``) can connect. Ray's node health check runs every
``health_check_ms`` here (Ray's default is 3 s with five
misses), so a killed node is declared dead in about two seconds, not twenty.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from faceledger.errors import ConfigError


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Node:
    """One ``ray start --block`` process tree."""

    process: subprocess.Popen[bytes]
    temp_dir: str
    log: Path
    head: bool = False
    killed: bool = field(default=False)


class LocalCluster:
    """Head plus worker nodes on this machine (see module docs)."""

    def __init__(
        self, *, cpus_per_node: int = 1, health_check_ms: int = 500, object_store_mb: int = 256,
        ray_bin: str | None = None,
    ) -> None:  # fmt: skip
        self.cpus_per_node = cpus_per_node
        self.object_store_mb = object_store_mb
        self.ray_bin = ray_bin or str(Path(sys.executable).with_name("ray"))
        if not Path(self.ray_bin).is_file():
            raise ConfigError(
                f"the `ray` command is not at {self.ray_bin}: pip install 'faceledger[ray]'"
            )
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes: list[Node] = []
        self.env = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self._saved: dict[str, str | None] = {}
        self._env = {
            **os.environ,
            **self.env,
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_health_check_period_ms": str(health_check_ms),
            "RAY_health_check_timeout_ms": str(health_check_ms),
            "RAY_health_check_failure_threshold": "3",
        }

    def start(self, *, nodes: int = 2, timeout: float = 180.0) -> None:
        """Start the head and ``nodes - 1`` more nodes; return once all are alive (or raise)."""
        self._saved = {name: os.environ.get(name) for name in self.env}
        os.environ.update(self.env)
        _reload_ray_auth()
        self._launch(head=True)
        for _ in range(nodes - 1):
            self._launch(head=False)  # `ray start --address` waits for the head's GCS itself
        self.wait_alive(nodes, timeout=timeout)

    def add_node(self, *, timeout: float = 180.0) -> Node:
        alive = self.alive()
        node = self._launch(head=False)
        self.wait_alive(alive + 1, timeout=timeout)
        return node

    def _launch(self, *, head: bool) -> Node:
        temp = tempfile.mkdtemp(prefix="flray-")  # short: Ray's socket paths are limited
        log = Path(temp) / "ray-start.log"
        command = [
            self.ray_bin, "start", "--block", "--disable-usage-stats",
            "--num-cpus", str(self.cpus_per_node), "--node-ip-address", "127.0.0.1",
            "--temp-dir", temp, "--object-store-memory", str(self.object_store_mb << 20),
            "--dashboard-agent-listen-port", str(_free_port()),
            "--metrics-export-port", str(_free_port()),
        ]  # fmt: skip
        if head:
            command += ["--head", "--port", str(self.port), "--include-dashboard", "false",
                        "--dashboard-port", str(_free_port())]  # fmt: skip
        else:
            command += ["--address", self.address]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, env=self._env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        node = Node(process, temp, log, head=head)
        self.nodes.append(node)
        return node

    def alive(self) -> int:
        """Nodes the cluster counts alive (asks the GCS through a driver in this process)."""
        import ray

        if not ray.is_initialized():
            ray.init(address=self.address, log_to_driver=False, configure_logging=False)
        nodes: list[dict[str, object]] = ray.nodes()  # type: ignore[no-untyped-call]
        return len([n for n in nodes if n["Alive"]])

    def wait_alive(self, count: int, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for node in self.nodes:
                if not node.killed and node.process.poll() is not None:
                    raise ConfigError(f"a Ray node exited at start: {node.log.read_text()[-2000:]}")
            if self._gcs_up() and self.alive() == count:
                return
            if time.monotonic() > deadline:
                raise ConfigError(f"Ray cluster not up with {count} nodes after {timeout:.0f} s")
            time.sleep(0.2)

    def wait_dead(self, count_alive: int, *, timeout: float = 60.0) -> None:
        """Until the GCS has declared the killed nodes dead (health check misses)."""
        deadline = time.monotonic() + timeout
        while self.alive() != count_alive:
            if time.monotonic() > deadline:
                raise ConfigError(f"Ray cluster still counts more than {count_alive} nodes alive")
            time.sleep(0.2)

    def _gcs_up(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True

    def kill_node(self, node: Node) -> None:
        """SIGKILL the node's whole process tree (``ray start``, raylet, object store, workers):
        what a crashed or pre-empted machine looks like to the rest of the cluster."""
        for pid in [node.process.pid, *_descendants(node.process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        node.process.wait()
        node.killed = True

    def stop(self) -> None:
        """Kill every node (workers first, head last) and remove their temp folders."""
        import ray

        if ray.is_initialized():
            ray.shutdown()
        for node in reversed(self.nodes):
            if not node.killed:
                self.kill_node(node)
            shutil.rmtree(node.temp_dir, ignore_errors=True)
        self.nodes = []
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved = {}
        _reload_ray_auth()

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _descendants(root: int) -> list[int]:
    """Every process below ``root`` (Linux ``/proc``; Ray's workers start their own sessions,
    so a process group would miss them)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _reload_ray_auth() -> None:
    """Make this process's Ray read its authentication settings again (it caches them)."""
    with contextlib.suppress(ImportError, AttributeError):  # a Ray without token auth
        from ray._raylet import AuthenticationTokenLoader, Config  # type: ignore[attr-defined]

        Config.initialize("")
        AuthenticationTokenLoader.instance().reset_cache()
