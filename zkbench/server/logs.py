"""ZooKeeper's own log for local servers, and the one-line reason a server gave for not starting.

Every local server writes its log (and the JVM's stdout/stderr) to ``server.log`` in its work dir. ZooKeeper logs
through SLF4J, which needs a binding on the classpath or it logs nothing at all: an Apache tarball ships its own
(logback from 3.8, log4j before); Debian's ``zookeeper`` package ships none, so zkbench adds Debian's
``slf4j-log4j12`` + ``log4j-1.2`` (packages ``libslf4j-java``, ``liblog4j1.2-java``) or ``slf4j-simple``.
"""

from __future__ import annotations

import re
from pathlib import Path

from zkbench.server.distribution import Distribution

__all__ = ["jvm_logging_args", "failure_reason", "read_from", "tail"]

LOG4J_PROPERTIES = """\
# written by zkbench: ZooKeeper's log to stdout, which is server.log
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.Target=System.out
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
"""


def jvm_logging_args(dist: Distribution, workdir: Path) -> list[str]:
    """JVM flags that send ZooKeeper's log at INFO to stdout with the distribution's SLF4J binding."""
    args = ["-Dzookeeper.root.logger=INFO,CONSOLE", "-Dzookeeper.console.threshold=INFO",
            f"-Dzookeeper.log.dir={workdir}"]
    if dist.log_binding == "log4j":
        props = workdir / "log4j.properties"
        if not props.exists() or props.read_text() != LOG4J_PROPERTIES:
            props.write_text(LOG4J_PROPERTIES)
        args.append(f"-Dlog4j.configuration={props.as_uri()}")
    elif dist.log_binding == "slf4j-simple":
        args += ["-Dorg.slf4j.simpleLogger.logFile=System.out", "-Dorg.slf4j.simpleLogger.showDateTime=true",
                 "-Dorg.slf4j.simpleLogger.defaultLogLevel=info"]
    return args


def read_from(path: Path, offset: int) -> str:
    """The text written to ``path`` after byte ``offset`` (what this start of the server logged)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


_LEVEL = re.compile(r"\b(ERROR|FATAL)\b\s*(?:\[[^\]]*\])?\s*(?:-\s*)?(.*)$")
_EXC = re.compile(r"^(?:Caused by: |Exception in thread \"[^\"]*\" )?([\w$.]+(?:Exception|Error|Throwable))"
                  r"(?::\s*(.*))?$")
_QUOTED = re.compile(r'"([^"]+)"')


def _short(exc_class: str) -> str:
    return exc_class.rsplit(".", 1)[-1].split("$")[-1]


def _config_hint(message: str, config_file: Path | None) -> str:
    """For 'For input string: "abc"': which line of zoo.cfg holds the value ZooKeeper choked on."""
    if config_file is None:
        return ""
    try:
        lines = config_file.read_text().splitlines()
    except OSError:
        return ""
    for value in _QUOTED.findall(message):
        for line in lines:
            key, sep, val = line.partition("=")
            if sep and val.strip() == value:
                return f" ({key.strip()}={value} in {config_file})"
    return ""


def failure_reason(text: str, config_file: Path | None = None) -> str | None:
    """The first error ZooKeeper (or the JVM) logged, with its root cause, in one line; ``None`` if none."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = _LEVEL.search(line)
        if match is None or _EXC.match(line.strip()):
            continue
        message = re.sub(r"^[\w.$]+ - ", "", match.group(2)).strip()  # slf4j-simple: "ERROR logger.Name - text"
        root = None
        for follow in lines[i + 1:]:
            stripped = follow.strip()
            if not stripped or stripped.startswith(("at ", "...")):
                continue
            exc = _EXC.match(stripped)
            if exc is None:
                break
            root = exc
        if root is not None:
            cause = f"{_short(root.group(1))}: {root.group(2)}" if root.group(2) else _short(root.group(1))
            message = f"{message.rstrip('.')}: {cause}" if message else cause
            message += _config_hint(root.group(2) or "", config_file)
        return message or None
    for i, line in enumerate(lines):  # no log line at ERROR: the JVM itself failed (bad flag, no main class)
        stripped = line.strip()
        if stripped.startswith("Error occurred during initialization") and i + 1 < len(lines):
            return f"{stripped}: {lines[i + 1].strip()}"
        if stripped.startswith(("Error:", "Invalid ")) or _EXC.match(stripped):
            return stripped
    return None
