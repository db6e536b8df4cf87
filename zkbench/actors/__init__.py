"""Actors: one OS process per recipe participant, narrating as JSON lines; and the supervisor that runs them.

``Supervisor(hosts).spawn("lock", "a1", path="/locks/db", hold=2)`` -> :class:`ActorHandle`; ``stop``
(SIGTERM), ``crash`` (SIGKILL), ``pause`` (SIGSTOP), ``resume`` (SIGCONT), ``list``; events via ``history``,
``subscribe()``, ``add_listener()`` or ``async for event in sup.events()``.
"""

from zkbench.actors.protocol import ActorEvent, format_plain
from zkbench.actors.supervisor import ActorError, ActorHandle, Supervisor

__all__ = ["ActorEvent", "format_plain", "Supervisor", "ActorHandle", "ActorError"]
