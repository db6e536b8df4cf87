"""Coordination recipes that hide znodes and watches but narrate every step (see :mod:`.narration`).

``Lock``, ``LeaderLatch``/``LeaderElection``, ``ServiceRegistry``/``ServiceWatcher``, ``JobQueue``,
``Barrier``/``DoubleBarrier``, ``ConfigWatcher``/``set_config``, ``Master``/``Worker``. Engine only: no Textual.
"""

from zkbench.recipes.barrier import Barrier, DoubleBarrier
from zkbench.recipes.config import ConfigWatcher, delete_config, set_config
from zkbench.recipes.discovery import ServiceRegistry, ServiceWatcher
from zkbench.recipes.election import LeaderElection, LeaderLatch
from zkbench.recipes.lock import FencedResource, Lock, LockLostError, StaleTokenError
from zkbench.recipes.masterworker import Master, NotMasterError, Worker, submit_task
from zkbench.recipes.narration import RecipeState, Step
from zkbench.recipes.queue import GUARANTEES, Job, JobQueue, TakeMode

__all__ = ["Barrier", "DoubleBarrier", "ConfigWatcher", "set_config", "delete_config", "ServiceRegistry",
           "ServiceWatcher", "LeaderElection", "LeaderLatch", "Lock", "LockLostError", "FencedResource",
           "StaleTokenError", "Master", "Worker", "NotMasterError", "submit_task", "RecipeState", "Step",
           "GUARANTEES", "Job", "JobQueue", "TakeMode"]
