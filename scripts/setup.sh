#!/bin/sh
# Set up everything zkbench needs on a Debian/Ubuntu machine: a virtualenv with the package and its test
# extras, Java, and Debian's `zookeeper` package when no ZooKeeper distribution is found.
# Safe to run again: each step is skipped when already done. Used by `make run` and `make test`.
set -eu
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }
as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
    else return 1
    fi
}
APT_UPDATED=
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        say "cannot install $*: this is not a Debian/Ubuntu machine (no apt-get). Install it by hand."
        return 1
    fi
    if [ -z "$APT_UPDATED" ]; then
        say "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || {
            say "cannot run apt-get as root (not root, no passwordless sudo). Install by hand: sudo apt-get install $*"
            return 1; }
        APT_UPDATED=1
    fi
    say "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. Python >= 3.10 with venv
PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
    apt_install python3 python3-venv python3-pip || exit 1
fi
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
    say "zkbench needs Python >= 3.10; $("$PYTHON" --version) found. Set PYTHON=/path/to/python3.x"; exit 1; }
if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    "$PYTHON" -m venv .venv 2>/dev/null || { apt_install python3-venv && "$PYTHON" -m venv .venv; } || {
        say "could not create a virtualenv: install python3-venv"; exit 1; }
fi

# 2. the package (editable) with test and browser-mode extras; re-run pip only when pyproject.toml changed
STAMP=.venv/.zkbench-installed
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
    say "installing zkbench and its dependencies into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test,serve]'
    touch "$STAMP"
fi

# 3. Java and ZooKeeper (jars only: zkbench starts its own servers)
if ! command -v java >/dev/null 2>&1; then
    apt_install default-jre-headless || { say "zkbench needs Java 11+ to run ZooKeeper"; exit 1; }
fi
if ! .venv/bin/python -c 'from zkbench.server import find_distribution; find_distribution()' 2>/dev/null; then
    apt_install zookeeper libservlet-api-java || {
        .venv/bin/python -c 'from zkbench.server import HOW_TO_GET_ZOOKEEPER as m; print(m)' >&2
        exit 1; }
fi
# 4. Debian's zookeeper package ships no SLF4J binding, so its servers log nothing (not even why they fail to
#    start): add Debian's log4j binding. A tarball (ZOOKEEPER_HOME) brings its own.
LOGGING=$(.venv/bin/python -c \
    'from zkbench.server import find_distribution as f; d = f(); print(d.kind, d.log_binding)')
case "$LOGGING" in
    "debian none"|"debian slf4j-simple")
        apt_install libslf4j-java liblog4j1.2-java ||
            say "ZooKeeper's log stays empty: install libslf4j-java liblog4j1.2-java" ;;
esac
say "ready: $(.venv/bin/python -c 'from zkbench.server import find_distribution; print(find_distribution().describe())')"

# 4. a headless browser for the browser-room test (tests/test_serve_browser.py): Debian's Chromium and its
# WebDriver. Selenium drives these system binaries; nothing downloads a browser. Not needed to run zkbench.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    apt_install chromium chromium-driver || say "no chromium/chromedriver: the browser test will be skipped"
fi
