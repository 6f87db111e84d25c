"""A local OpenSearch node for development, tests, CI and single-machine users, built from Maven Central.

The integ-test-zip distribution has the server and transport only; the module jars the index needs
(analysis-common: the arabic and english analyzers; percolator: saved searches; lang-painless, with its dependency
jars, which the k-NN plugin extends) are fetched with Maven and installed as modules, and the k-NN plugin zip (vector
fields and the `knn` query) as a plugin. 3.x distributions already bundle those modules: only missing ones are added.
The k-NN plugin must match the node's version exactly and Maven Central serves it for a few versions only
(KNN_PLUGIN_VERSIONS); its zip holds the Java jars and none of the faiss/nmslib native libraries, so only the Lucene
engine works (service/index/mappings.py refuses the others before they reach the node, which they would kill).
One unpacked distribution serves any number of nodes, each with its own config, data and logs.
One node (single-node discovery) is the default; `start --nodes N` starts a local N-node cluster on
loopback: each node its own name, data directory, HTTP and transport ports, found through seed hosts.
"""

from __future__ import annotations

import json
import os
import pwd
import re
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
from service.errors import ServiceError

DIST_GROUP = "org.opensearch.distribution.integ-test-zip"


@dataclass(frozen=True)
class Module:
    """A module jar of OpenSearch's own, installed under modules/ when the distribution lacks it."""

    artifact: str  # Maven group:artifact; the version is the node's
    classname: str
    description: str
    jars: tuple[str, ...] = ()  # dependency jars, group:artifact:version ("{version}": the node's)
    extends: tuple[str, ...] = ()  # extended.plugins: modules whose class loader this one's classes see
    policy: str = ""  # plugin-security.policy: the permissions the module's code needs


# lang-painless's own policy (OpenSearch's plugin-metadata): Painless compiles scripts into classes at run time.
PAINLESS_POLICY = """grant {
  permission java.lang.RuntimePermission "createClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
};
"""
MODULES = {  # in install order: a module comes after the modules it extends
    "lang-painless": Module(
        "org.opensearch.plugin:lang-painless",
        "org.opensearch.painless.PainlessPlugin",
        "An easy, safe and fast scripting language for OpenSearch; the k-NN plugin extends it",
        jars=(
            "org.opensearch.plugin:opensearch-scripting-painless-spi:{version}",
            "org.antlr:antlr4-runtime:4.13.1",
            "org.ow2.asm:asm:9.7",
            "org.ow2.asm:asm-analysis:9.7",
            "org.ow2.asm:asm-commons:9.7",
            "org.ow2.asm:asm-tree:9.7",
            "org.ow2.asm:asm-util:9.7",
        ),
        policy=PAINLESS_POLICY,
    ),
    "analysis-common": Module(
        "org.opensearch.plugin:analysis-common",
        "org.opensearch.analysis.common.CommonAnalysisPlugin",
        "Adds analysis components: the language analyzers, arabic_normalization, arabic_stem",
        extends=("lang-painless",),
    ),
    "percolator": Module(
        "org.opensearch.plugin:percolator-client",
        "org.opensearch.percolator.PercolatorPlugin",
        "Percolator module: the percolator field and percolate query (saved searches, service/alerts)",
    ),
}
KNN_PLUGIN = "org.opensearch.plugin:opensearch-knn"
# The node versions Maven Central has a k-NN build for ({node version: plugin version}); its descriptor names the one
# OpenSearch version it loads on. Another OPENSEARCH_VERSION gets a node without vector search (status says so).
KNN_PLUGIN_VERSIONS = {"2.19.1": "2.19.1.0", "3.5.0": "3.5.0.0"}
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
START_TIMEOUT = 180.0
STOP_TIMEOUT = 60.0
SERVICE_USER = "opensearch"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
TRANSPORT_OFFSET = 100  # a cluster node's transport port: its HTTP port + 100 (9200 → 9300)
MAX_NODES = 9
MEMBERS_FILE = "local-cluster.json"  # under the local dir: the nodes the last `start` started
_CHILDREN: dict[int, subprocess.Popen] = {}  # nodes this process started, so stop() can reap them


class NodeError(ServiceError, RuntimeError):
    """The local node could not be fetched, started or stopped; the message says why."""

    code = "node_error"


@dataclass(frozen=True)
class LocalNode:
    """One local node: where the distribution lives, where this node keeps its files, its port."""

    root: Path  # e.g. .opensearch/
    version: str
    name: str = "local"
    port: int = 9200
    heap: str = "512m"
    cluster: str = ""  # the cluster's name; empty: a single node (single-node discovery, named after the node)
    transport_port: int | None = None  # set for a cluster node
    seeds: tuple[str, ...] = ()  # every cluster node's transport address (host:port)
    managers: tuple[str, ...] = ()  # the names of the nodes that bootstrap the first cluster-manager election

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


def cluster_nodes(
    root: Path, version: str, name: str, ports: list[int], transport_ports: list[int], heap: str
) -> list[LocalNode]:
    """The nodes of one local cluster: <name>-1..<name>-N, every node manager-eligible and a seed of the others."""
    names = tuple(f"{name}-{i}" for i in range(1, len(ports) + 1))
    seeds = tuple(f"127.0.0.1:{port}" for port in transport_ports)
    return [
        LocalNode(root, version, node_name, port, heap, name, transport, seeds, names)
        for node_name, port, transport in zip(names, ports, transport_ports, strict=True)
    ]


def local_cluster(settings: Settings, nodes: int, name: str = "local") -> list[LocalNode]:
    """The local nodes OPENSEARCH_URL points at: one node, or N nodes on consecutive ports from its first port.

    When OPENSEARCH_URL lists exactly N local URLs, their ports are used as they are.
    """
    if not 1 <= nodes <= MAX_NODES:
        raise NodeError(f"--nodes must be between 1 and {MAX_NODES}")
    first = local_node(settings, name)
    if nodes == 1:
        return [first]
    urls = [urlparse(url) for url in settings.opensearch_urls]
    if len(urls) == nodes and all(u.hostname in LOCAL_HOSTS and u.scheme == "http" for u in urls):
        ports = [u.port or 9200 for u in urls]
    else:
        ports = [first.port + i for i in range(nodes)]
    return cluster_nodes(
        first.root, first.version, name, ports, [p + TRANSPORT_OFFSET for p in ports], settings.opensearch_heap
    )


def cluster_url(nodes: list[LocalNode]) -> str:
    """OPENSEARCH_URL for these nodes: every node's URL, comma-separated."""
    return ",".join(n.url for n in nodes)


def remember(nodes: list[LocalNode]) -> None:
    """Record which nodes `start` started, so `stop` and `status` find them all."""
    root = nodes[0].root.resolve()
    root.mkdir(parents=True, exist_ok=True)
    members = [{"name": n.name, "port": n.port, "transport_port": n.transport_port} for n in nodes]
    (root / MEMBERS_FILE).write_text(json.dumps(members), encoding="utf-8")


def remembered(settings: Settings, name: str = "local") -> list[LocalNode]:
    """The nodes the last `start` recorded (a cluster), or the single local node OPENSEARCH_URL points at."""
    first = local_node(settings, name)
    try:
        members = json.loads((first.root.resolve() / MEMBERS_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return [first]
    if len(members) < 2 or not all(m.get("transport_port") for m in members):
        return [first]
    return cluster_nodes(
        first.root,
        first.version,
        name,
        [m["port"] for m in members],
        [m["transport_port"] for m in members],
        settings.opensearch_heap,
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


def plugins_for(version: str) -> dict[str, str]:
    """{plugin name: Maven coordinates of its zip} installed on a node of this version."""
    if version not in KNN_PLUGIN_VERSIONS:
        return {}
    return {"opensearch-knn": f"{KNN_PLUGIN}:{KNN_PLUGIN_VERSIONS[version]}:zip"}


def _descriptor(name: str, module: Module, version: str) -> str:
    return (
        f"description={module.description}\nversion={version}\nname={name}\nclassname={module.classname}\n"
        f"java.version=11\nopensearch.version={version}\ncustom.foldername=\n"
        f"extended.plugins={','.join(module.extends)}\nhas.native.controller=false\n"
    )


def install(node: LocalNode) -> Path:
    """Fetch (through the local Maven cache) and assemble the distribution with its modules and plugins, once."""
    marker = node.home / ".assembled"
    plugins = plugins_for(node.version)
    # A module or plugin added since means assembling again.
    assembled = f"{node.version} {' '.join(sorted(MODULES))} plugins: {' '.join(sorted(plugins.values()))}"
    if marker.is_file() and marker.read_text(encoding="utf-8") == assembled:
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
    for name, module in MODULES.items():
        folder = home / "modules" / name
        if folder.exists():  # bundled by this distribution (3.x bundles all three)
            continue
        for artifact in (f"{module.artifact}:{node.version}", *module.jars):
            _maven_copy(f"{artifact.format(version=node.version)}:jar", folder)
        (folder / "plugin-descriptor.properties").write_text(_descriptor(name, module, node.version), "utf-8")
        if module.policy:
            (folder / "plugin-security.policy").write_text(module.policy, encoding="utf-8")
    for name, artifact in plugins.items():
        _maven_copy(artifact, artifacts)
        zip_name = "-".join(artifact.split(":")[1:3]) + ".zip"
        # Unpacked as `opensearch-plugin install` would, without its prompt to accept the plugin's permissions
        # (the k-NN policy asks to load the native libraries this zip does not have, and for cpuinfo and sockets).
        with zipfile.ZipFile(artifacts / zip_name) as zipped:
            zipped.extractall(home / "plugins" / name)
    shutil.rmtree(node.home, ignore_errors=True)
    os.replace(home, node.home)
    shutil.rmtree(staging, ignore_errors=True)
    marker.write_text(assembled, encoding="utf-8")
    return node.home


def installed_plugins(node: LocalNode) -> list[str]:
    """The plugins (not modules) in the node's distribution, e.g. ["opensearch-knn"]."""
    folder = node.home / "plugins"
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def java_home(version: str = "2") -> Path:
    """The JDK to run OpenSearch with: OPENSEARCH_JAVA_HOME, JAVA_HOME, or the `java` on PATH; for 3.x, which needs
    Java 21 or newer, a newer JDK under /usr/lib/jvm when that one is older (Debian 12's own is 17)."""
    needed = 21 if int(version.split(".")[0]) >= 3 else 11
    for variable in ("OPENSEARCH_JAVA_HOME", "JAVA_HOME"):
        if os.environ.get(variable):
            return Path(os.environ[variable])
    java = shutil.which("java")
    found = Path(os.path.realpath(java)).parents[1] if java else None
    if found and java_major(found) >= needed:
        return found
    newer = sorted((h for h in Path("/usr/lib/jvm").glob("*") if java_major(h) >= needed), key=java_major)
    if newer:
        return newer[-1]
    raise NodeError(
        f"no Java {needed} or newer found for OpenSearch {version}: install one (2.x: apt-get install "
        "openjdk-17-jre-headless; 3.x: a Java 21+ JDK) or point OPENSEARCH_JAVA_HOME at it"
    )


def java_major(home: Path) -> int:
    """The major version of the JDK at home, from its `release` file; 0 when it has none."""
    try:
        release = (home / "release").read_text(encoding="utf-8")
    except OSError:
        return 0
    found = re.search(r'^JAVA_VERSION="(\d+)', release, re.MULTILINE)
    return int(found.group(1)) if found else 0


def node_config(node: LocalNode, data: Path, logs: Path) -> dict:
    """opensearch.yml for the node: single-node discovery alone, seed hosts and bootstrap managers in a cluster."""
    settings = {
        "cluster.name": f"mt-news-{node.cluster or node.name}",
        "node.name": node.name,
        "network.host": "127.0.0.1",
        "http.port": node.port,
    }
    if node.seeds:
        settings.update(
            {
                "transport.port": node.transport_port,
                "discovery.seed_hosts": list(node.seeds),
                "cluster.initial_cluster_manager_nodes": list(node.managers),
            }
        )
    else:
        settings["discovery.type"] = "single-node"
    settings.update(
        {
            "path.data": str(data),
            "path.logs": str(logs),
            # A developer's nearly full disk should not turn the indices read-only.
            "cluster.routing.allocation.disk.threshold_enabled": False,
        }
    )
    return settings


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
    settings = node_config(node, data, logs)
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


def health(url: str, wait_for_green: bool = False, nodes: int | None = None) -> dict | None:
    """Cluster health, or None when nothing answers (or the cluster has not formed yet)."""
    query = "?wait_for_status=green&timeout=30s" if wait_for_green else ""
    if nodes and wait_for_green:
        query += f"&wait_for_nodes={nodes}"
    try:
        with urllib.request.urlopen(f"{url}/_cluster/health{query}", timeout=40) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def start(node: LocalNode) -> dict:
    """Start the node (installing it first if needed) and return the cluster's health once green."""
    install(node)
    return _wait_until_green(node, _launch(node))


def start_cluster(nodes: list[LocalNode]) -> dict:
    """Start every node at once (a cluster forms only once a majority of its managers run); health once green."""
    install(nodes[0])
    processes = [_launch(n) for n in nodes]
    status = {}
    for n, process in zip(nodes, processes, strict=True):
        status = _wait_until_green(n, process)
    return status


def _launch(node: LocalNode) -> subprocess.Popen | None:
    """Start the node's process unless it runs already; the process, or None when it was running."""
    if running_pid(node) is not None:
        return None
    if health(node.url) is not None:
        raise NodeError(f"something else already answers on {node.url}; choose another port")
    config = _write_config(node)
    env = {
        **os.environ,
        "OPENSEARCH_HOME": str(node.home),
        "OPENSEARCH_PATH_CONF": str(config),
        "OPENSEARCH_JAVA_HOME": str(java_home(node.version)),
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
    return process


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
            raise NodeError(start_failure(node, _console_tail(node)))
        status = health(node.url, wait_for_green=True, nodes=len(node.managers) or None)
        if status and status.get("status") == "green" and status.get("number_of_nodes", 0) >= len(node.managers):
            return status
        time.sleep(0.5)  # the HTTP port is not open yet: poll again shortly
    raise NodeError(f"the node did not turn green within {START_TIMEOUT:.0f}s; see {node.node_dir / 'console.log'}")


def _console_tail(node: LocalNode, size: int = 20_000) -> str:
    try:
        with open(node.node_dir / "console.log", "rb") as console:
            console.seek(max(0, console.seek(0, os.SEEK_END) - size))
            return console.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def start_failure(node: LocalNode, console: str) -> str:
    """Why the node exited during start-up, from its console output: a data directory written by a newer
    version is named with what to do (OpenSearch never opens data of a newer version); else where to look."""
    found = re.search(r"cannot downgrade a node from version \[([^\]]+)\] to version \[([^\]]+)\]", console)
    if found:
        newer, older = found.groups()
        return (
            f"the data in {node.node_dir / 'data'} was written by OpenSearch {newer}, and {older} cannot open it "
            f"(no version opens a newer one's data). Either keep it and run {newer} (OPENSEARCH_VERSION={newer}: "
            f"no vector search), or move that directory aside, start {older} empty and ingest your articles again "
            "(the translation memory spares translating again what it still holds)"
        )
    return f"the node exited during start-up; see {node.node_dir / 'console.log'}"


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


def kill(node: LocalNode) -> int | None:
    """SIGKILL the node (a crash, for tests and drills) and reap it; its pid, or None if it was not running."""
    pid = running_pid(node)
    if pid is None:
        return None
    os.kill(pid, signal.SIGKILL)
    child = _CHILDREN.pop(pid, None)
    if child is not None:
        child.wait(STOP_TIMEOUT)
    else:
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and running_pid(node) is not None:
            time.sleep(0.1)
    node.pid_file.unlink(missing_ok=True)
    return pid


def roles(nodes: list[LocalNode]) -> dict[str, dict]:
    """{node name: {"roles": ..., "manager": elected or not}} as any running node of the cluster sees it."""
    for n in nodes:
        if running_pid(n) is None:
            continue
        url = f"{n.url}/_cat/nodes?format=json&h=name,node.role,cluster_manager"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                rows = json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError):
            continue
        return {row["name"]: {"roles": row["node.role"], "manager": row["cluster_manager"] == "*"} for row in rows}
    return {}


def status(node: LocalNode, seen: dict[str, dict] | None = None) -> dict:
    """What runs where: pid, URL, health, role (in a cluster), directories."""
    pid = running_pid(node)
    report = {
        "name": node.name,
        "running": pid is not None,
        "pid": pid,
        "url": node.url,
        "version": node.version,
        "installed": (node.home / ".assembled").is_file(),
        "plugins": installed_plugins(node),  # ["opensearch-knn"] where vector search is there
        "home": str(node.home),
        "node_dir": str(node.node_dir),
        "health": health(node.url) if pid else None,
    }
    if node.seeds:
        report["transport"] = f"127.0.0.1:{node.transport_port}"
        report["role"] = (seen if seen is not None else roles([node])).get(node.name)
    return report


def cluster_status(nodes: list[LocalNode]) -> list[dict]:
    """status() of every node, with each one's roles and which one is the elected cluster manager."""
    seen = roles(nodes) if len(nodes) > 1 else {}
    return [status(n, seen) for n in nodes]
