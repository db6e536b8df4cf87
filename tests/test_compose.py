"""docker-compose.yml cannot run here (no Docker engine), so check that its members agree with each other."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yml"


def test_compose_ensemble_is_consistent():
    doc = yaml.safe_load(COMPOSE.read_text())
    services = doc["services"]
    assert len(services) == 3
    ids, client_ports, admin_ports = set(), set(), set()
    for name, svc in services.items():
        env = svc["environment"]
        assert re.fullmatch(r"zookeeper:3\.[89]\.\d+", svc["image"]), "pin a 3.8 or 3.9 tag"
        assert env["ZOO_4LW_COMMANDS_WHITELIST"] == "*"
        assert "healthcheck" in svc and "ruok" in " ".join(svc["healthcheck"]["test"])
        myid = int(env["ZOO_MY_ID"])
        ids.add(myid)
        servers = dict(item.split("=", 1) for item in env["ZOO_SERVERS"].split())
        # this service appears in ZOO_SERVERS under its own id, with its own hostname
        assert servers[f"server.{myid}"].split(":")[0] == svc["hostname"] == name
        assert len(servers) == 3
        ports = {p.split(":")[1]: int(p.split(":")[0]) for p in svc["ports"]}
        client_ports.add(ports["2181"])
        admin_ports.add(ports["8080"])
        assert servers[f"server.{myid}"].endswith(";2181")
    assert ids == {1, 2, 3}
    assert client_ports == {2181, 2182, 2183}
    assert len(admin_ports) == 3
