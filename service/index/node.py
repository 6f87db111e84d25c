"""A local OpenSearch node for development, tests, CI and single-machine users, built from Maven Central.

The integ-test-zip distribution has the server and transport only; the module jars the index needs
(analysis-common: the arabic and english analyzers) are fetched with Maven and installed as modules.
One unpacked distribution serves any number of nodes, each with its own config, data and logs.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from service.config import Settings

DIST_GROUP = "org.opensearch.distribution.integ-test-zip"
MODULES = {
    "analysis-common": (
        "org.opensearch.plugin",
        "org.opensearch.analysis.common.CommonAnalysisPlugin",
        "Adds analysis components: the language analyzers, arabic_normalization, arabic_stem",
    )
}
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
START_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0
SERVICE_USER = "opensearch"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_CHILDREN: dict[int, subprocess.Popen] = {}  # nodes this process started, so stop() can reap them


class NodeError(RuntimeError):
    """The local node could not be fetched, started or stopped; the message says why."""


@dataclass(frozen=True)
class LocalNode:
    """One local node: where the distribution lives, where this node keeps its files, its port."""

    root: Path  # e.g. .opensearch/
    version: str
    name: str = "local"
    port: int = 9200
    heap: str = "512m"

    @property
    def home(self) -> Path:
        return self.root.resolve() / "dist" / f"opensearch-{self.version}"

    @property
    def node_dir(self) -> Path:
        return self.root.resolve() / "nodes" / self.name

    @property
    def pid_file(self) -> Path:
        return self.node_dir / "opensearch.pid"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def local_node(settings: Settings, name: str = "local") -> LocalNode:
    """The local node that OPENSEARCH_URL points at; a remote cluster is refused with NodeError."""
    url = urlparse(settings.opensearch_urls[0])
    if url.hostname not in LOCAL_HOSTS or url.scheme != "http":
        raise NodeError(
            f"OPENSEARCH_URL={settings.opensearch_urls[0]} is not a local http node; "
            "`opensearch start|stop` manage only a node on this machine"
        )
    return LocalNode(
        settings.opensearch_local_dir,
        settings.opensearch_version,
        name=name,
        port=url.port or 9200,
        heap=settings.opensearch_heap,
    )


def _maven_copy(artifact: str, out: Path) -> None:
    command = ["mvn", "-q", "-B", f"{DEPENDENCY_PLUGIN}:copy", f"-Dartifact={artifact}", f"-DoutputDirectory={out}"]
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=900)
    except FileNotFoundError:
        raise NodeError("Maven (mvn) is not installed; it fetches OpenSearch from Maven Central") from None
    except subprocess.CalledProcessError as error:
        tail = (error.stdout + error.stderr).decode(errors="replace").strip().splitlines()[-3:]
        raise NodeError(f"Maven could not fetch {artifact}: {' '.join(tail)}") from None


def install(node: LocalNode) -> Path:
    """Fetch (through the local Maven cache) and assemble the distribution with its modules, once."""
    marker = node.home / ".assembled"
    if marker.is_file():
        return node.home
    artifacts = node.root.resolve() / "artifacts"
    _maven_copy(f"{DIST_GROUP}:opensearch:{node.version}:zip", artifacts)
    staging = node.home.parent / f".staging-{node.version}"
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(artifacts / f"opensearch-{node.version}.zip") as zipped:
        zipped.extractall(staging)
    home = staging / f"opensearch-{node.version}"
    for path in (home / "bin").iterdir():
        path.chmod(0o755)  # zip files do not keep the executable bit
    for module, (group, classname, description) in MODULES.items():
        _maven_copy(f"{group}:{module}:{node.version}:jar", home / "modules" / module)
        (home / "modules" / module / "plugin-descriptor.properties").write_text(
            f"description={description}\nversion={node.version}\nname={module}\nclassname={classname}\n"
            f"java.version=11\nopensearch.version={node.version}\ncustom.foldername=\nextended.plugins=\n"
            "has.native.controller=false\n",
            encoding="utf-8",
        )
    shutil.rmtree(node.home, ignore_errors=True)
    os.replace(home, node.home)
    shutil.rmtree(staging, ignore_errors=True)
    marker.write_text(node.version, encoding="utf-8")
    return node.home


def java_home() -> Path:
    """The JDK to run OpenSearch with: OPENSEARCH_JAVA_HOME, JAVA_HOME, or the `java` on PATH."""
    for variable in ("OPENSEARCH_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(variable):
            return Path(os.environ[variable])
    java = shutil.which("java")
    if not java:
        raise NodeError(
            "no Java found: OpenSearch 2.x needs Java 11, 17 or 21 (apt-get install openjdk-17-jre-headless)"
        )
    return Path(os.path.realpath(java)).parents[1]


def _write_config(node: LocalNode) -> Path:
    config = node.node_dir / "config"
    config.mkdir(parents=True, exist_ok=True)
    logs, data = node.node_dir / "logs", node.node_dir / "data"
    logs.mkdir(exist_ok=True)
    data.mkdir(exist_ok=True)
    shutil.copyfile(node.home / "config" / "log4j2.properties", config / "log4j2.properties")
    # The stock options write GC logs and heap dumps relative to the distribution: point them here.
    options = (node.home / "config" / "jvm.options").read_text(encoding="utf-8")
    options = options.replace("logs/", f"{logs}/").replace("HeapDumpPath=data", f"HeapDumpPath={data}")
    (config / "jvm.options").write_text(options, encoding="utf-8")
    (config / "jvm.options.d").mkdir(exist_ok=True)
    settings = {
        "cluster.name": f"mt-news-{node.name}",
        "node.name": node.name,
        "network.host": "127.0.0.1",
        "http.port": node.port,
        "discovery.type": "single-node",
        "path.data": str(data),
        "path.logs": str(logs),
        # A developer's nearly full disk should not turn the indices read-only.
        "cluster.routing.allocation.disk.threshold_enabled": False,
    }
    (config / "opensearch.yml").write_text(
        "".join(f"{key}: {json.dumps(value)}\n" for key, value in settings.items()), encoding="utf-8"
    )
    return config


def running_pid(node: LocalNode) -> int | None:
    """The node's process id if it is alive."""
    try:
        pid = int(node.pid_file.read_text().strip())
        os.kill(pid, 0)
        return pid
    except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
        return None


def health(url: str, wait_for_green: bool = False) -> dict | None:
    """Cluster health, or None when nothing answers."""
    query = "?wait_for_status=green&timeout=30s" if wait_for_green else ""
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health{query}", timeout=40) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def start(node: LocalNode) -> dict:
    """Start the node (installing it first if needed) and return its health once green."""
    install(node)
    if running_pid(node) is None:
        if health(node.url) is not None:
            raise NodeError(f"something else already answers on {node.url}; choose another port")
        config = _write_config(node)
        env = {
            **os.environ,
            "OPENSEARCH_HOME": str(node.home),
            "OPENSEARCH_PATH_CONF": str(config),
            "OPENSEARCH_JAVA_HOME": str(java_home()),
            "OPENSEARCH_JAVA_OPTS": f"-Xms{node.heap} -Xmx{node.heap}",
        }
        user = _service_user(node)
        with open(node.node_dir / "console.log", "ab") as console:
            # Its own session, so the node outlives this process and ignores the terminal's Ctrl-C.
            process = subprocess.Popen(
                [str(node.home / "bin" / "opensearch")],
                env=env,
                cwd=node.node_dir,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                user=user,
                group=user,
            )
        node.pid_file.write_text(str(process.pid), encoding="utf-8")
        _CHILDREN[process.pid] = process
        return _wait_until_green(node, process)
    return _wait_until_green(node)


def _service_user(node: LocalNode) -> str | None:
    """OpenSearch refuses to run as root: as root, run it as a system user that owns the node's files."""
    if os.geteuid() != 0:
        return None
    for parent in node.root.resolve().parents:
        if not parent.stat().st_mode & 0o001:
            raise NodeError(
                f"running as root, the node runs as user {SERVICE_USER!r}, which cannot enter {parent}; "
                "set OPENSEARCH_LOCAL_DIR to a directory others can traverse (e.g. /var/tmp/mt-news-opensearch)"
            )
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=True,
            capture_output=True,
        )
    for path in [node.node_dir, *node.node_dir.rglob("*")]:
        shutil.chown(path, SERVICE_USER, SERVICE_USER)
    return SERVICE_USER


def _wait_until_green(node: LocalNode, process: subprocess.Popen | None = None) -> dict:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        exited = process.poll() is not None if process else running_pid(node) is None
        if exited:
            node.pid_file.unlink(missing_ok=True)
            _CHILDREN.pop(process.pid if process else -1, None)
            raise NodeError(f"the node exited during start-up; see {node.node_dir / 'console.log'}")
        status = health(node.url, wait_for_green=True)
        if status and status.get("status") == "green":
            return status
        time.sleep(0.5)  # the HTTP port is not open yet: poll again shortly
    raise NodeError(f"the node did not turn green within {START_TIMEOUT:.0f}s; see {node.node_dir / 'console.log'}")


def stop(node: LocalNode) -> bool:
    """Stop the node cleanly (SIGTERM, then SIGKILL after a grace period); False if it was not running."""
    pid = running_pid(node)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    child = _CHILDREN.pop(pid, None)
    if child is not None:  # started by this process: wait on it, which also reaps it
        try:
            child.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    else:
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and running_pid(node) is not None:
            time.sleep(0.2)
        if running_pid(node) is not None:
            os.kill(pid, signal.SIGKILL)
    node.pid_file.unlink(missing_ok=True)
    return True


def status(node: LocalNode) -> dict:
    """What runs where: pid, URL, health, directories."""
    pid = running_pid(node)
    return {
        "running": pid is not None,
        "pid": pid,
        "url": node.url,
        "version": node.version,
        "installed": (node.home / ".assembled").is_file(),
        "home": str(node.home),
        "node_dir": str(node.node_dir),
        "health": health(node.url) if pid else None,
    }
