"""Find an installed ZooKeeper distribution: ZOOKEEPER_HOME, Debian's package, or an Apache tarball."""

from __future__ import annotations

import glob
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Distribution", "DistributionNotFound", "find_distribution", "HOW_TO_GET_ZOOKEEPER"]

DEBIAN_JAR = Path("/usr/share/java/zookeeper.jar")
DEBIAN_HOME = Path("/usr/share/zookeeper")
DEBIAN_SERVLET_API = Path("/usr/share/java/servlet-api.jar")  # package libservlet-api-java
# SLF4J bindings Debian ships separately from its zookeeper package, best first: without one ZooKeeper logs nothing
DEBIAN_LOG_BINDINGS = (
    # packages libslf4j-java and liblog4j1.2-java
    ("log4j", (Path("/usr/share/java/slf4j-log4j12.jar"), Path("/usr/share/java/log4j-1.2.jar"))),
    ("slf4j-simple", (Path("/usr/share/java/slf4j-simple.jar"),)),  # libslf4j-java alone
)
NO_LOG_BINDING_HINT = ("no SLF4J binding, so ZooKeeper cannot log why it fails: "
                       "apt-get install libslf4j-java liblog4j1.2-java (scripts/setup.sh does)")

HOW_TO_GET_ZOOKEEPER = (
    "No ZooKeeper distribution found. Get one of: "
    "`apt-get install zookeeper` (Debian/Ubuntu; `make run` does this for you as root), "
    "an Apache tarball unpacked with ZOOKEEPER_HOME (or --zk-home) pointing at it, "
    "or `docker compose up` with zkbench's docker-compose.yml and `zkbench --hosts 127.0.0.1:2181`."
)


class DistributionNotFound(RuntimeError):
    """No usable ZooKeeper jars were found; the message says how to get them."""


@dataclass(frozen=True, slots=True)
class Distribution:
    """Where the jars are and how to put them on a JVM's classpath."""

    kind: str  # "home" (ZOOKEEPER_HOME / --zk-home), "debian" or "tarball"
    home: Path | None
    classpath: tuple[str, ...]
    version: str | None
    zkcli: Path | None  # the real zkCli.sh, handy as an outside client
    # how ZooKeeper's SLF4J logging reaches server.log: "log4j" / "slf4j-simple" (jars zkbench added from
    # Debian), "own" (the distribution ships its binding and config), or "none" (ZooKeeper logs nothing)
    log_binding: str = "none"

    @property
    def classpath_str(self) -> str:
        return os.pathsep.join(self.classpath)

    def describe(self) -> str:
        where = str(self.home) if self.home else self.classpath[0]
        text = f"ZooKeeper {self.version or '(unknown version)'} from {where} ({self.kind})"
        return text if self.log_binding != "none" else f"{text}; {NO_LOG_BINDING_HINT}"


def _jar_version(jar: Path) -> str | None:
    match = re.search(r"zookeeper-(\d+\.\d+\.\d+)\.jar$", jar.name)
    if match:
        return match.group(1)
    try:
        with zipfile.ZipFile(jar) as zf:
            for name in zf.namelist():
                if name.endswith("pom.properties") and "org.apache.zookeeper/zookeeper/" in name:
                    text = zf.read(name).decode("utf-8", "replace")
                    found = re.search(r"^version=(\S+)", text, re.M)
                    if found:
                        return found.group(1)
    except (OSError, zipfile.BadZipFile):
        return None
    return None


def _from_home(home: Path, kind: str) -> Distribution | None:
    """An Apache binary tarball layout: ``lib/*.jar`` (plus the main jar at the top in old releases)."""
    jars = sorted(glob.glob(str(home / "lib" / "*.jar"))) + sorted(glob.glob(str(home / "zookeeper-*.jar")))
    main = [Path(j) for j in jars if re.search(r"zookeeper-\d[\w.\-]*\.jar$", Path(j).name)
            and "jute" not in Path(j).name and "prometheus" not in Path(j).name]
    if not main:
        return None
    conf = home / "conf"
    classpath = ([str(conf)] if conf.is_dir() else []) + jars
    zkcli = home / "bin" / "zkCli.sh"
    names = " ".join(Path(j).name for j in jars)
    binding = "own" if re.search(r"logback-classic|slf4j-log4j12|slf4j-reload4j|log4j-slf4j", names) else "none"
    return Distribution(kind, home, tuple(classpath), _jar_version(main[0]), zkcli if zkcli.exists() else None,
                        binding)


def _debian() -> Distribution | None:
    if not DEBIAN_JAR.exists():
        return None
    # The Debian jar's manifest carries a Class-Path with its dependencies, except the servlet API that the
    # AdminServer's Jetty needs (without it the AdminServer fails with NoClassDefFoundError: javax/servlet/Servlet).
    real = DEBIAN_JAR.resolve()
    zkcli = DEBIAN_HOME / "bin" / "zkCli.sh"
    classpath = (str(DEBIAN_JAR), *(str(p) for p in (DEBIAN_SERVLET_API,) if p.exists()))
    binding = "none"
    for name, jars in DEBIAN_LOG_BINDINGS:
        if all(j.exists() for j in jars):
            binding = name
            classpath += tuple(str(j) for j in jars)
            break
    return Distribution("debian", DEBIAN_HOME if DEBIAN_HOME.exists() else None, classpath,
                        _jar_version(real), zkcli if zkcli.exists() else None, binding)


def find_distribution(zk_home: str | os.PathLike[str] | None = None) -> Distribution:
    """Return the first distribution found: ``zk_home``, then ``$ZOOKEEPER_HOME``, then Debian's package.

    Raises :class:`DistributionNotFound` with :data:`HOW_TO_GET_ZOOKEEPER` when none is usable.
    """
    explicit = zk_home or os.environ.get("ZOOKEEPER_HOME")
    if explicit:
        home = Path(explicit).expanduser()
        dist = _from_home(home, "home")
        if dist is None and home.resolve() == DEBIAN_HOME.resolve():
            dist = _debian()
        if dist is None:
            raise DistributionNotFound(
                f"{home} does not look like a ZooKeeper distribution (no lib/zookeeper-*.jar). "
                + HOW_TO_GET_ZOOKEEPER)
        return dist
    dist = _debian()
    if dist is not None:
        return dist
    for candidate in ("/opt/zookeeper", "/usr/local/zookeeper", *sorted(glob.glob("/opt/apache-zookeeper-*-bin"))):
        dist = _from_home(Path(candidate), "tarball")
        if dist is not None:
            return dist
    raise DistributionNotFound(HOW_TO_GET_ZOOKEEPER)
