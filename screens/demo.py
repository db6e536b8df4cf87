"""The workshop demo screen: launch and break the actors of one recipe and watch ZooKeeper keep its promises.

Side by side: the live tree scoped to the demo's base path, one card per actor, a learner's note; below, the
narration of all actors in time order; on top, the live invariant line. Actors are real processes run by
``zkbench.actors.Supervisor``: the screen spawns them, signals them (stop = SIGTERM, crash = SIGKILL,
pause/resume = SIGSTOP/SIGCONT) and stops every one of them when it is left or the app quits. Their events reach
the UI through a thread-safe deque drained by an async worker, in batches.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import random
import threading
import time
from importlib import resources
from typing import Any

from rich.markdown import Markdown as RichMarkdown
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Input, Label, Static

from zkbench.actors import ActorError, ActorEvent, Supervisor
from zkbench.demos import ActorCardState, DemoModel, DemoSpec, Fate, demo_spec, side_summary
from zkbench.errors import explain
from zkbench.widgets.actor_card import ActorCard
from zkbench.widgets.invariant_line import InvariantLine
from zkbench.widgets.narration_log import NarrationLog

__all__ = ["DemoScreen", "ConfigValuePrompt", "DEFAULT_SESSION_TIMEOUT"]

log = logging.getLogger(__name__)

DEFAULT_SESSION_TIMEOUT = 5.0  # seconds: short enough that a workshop sees failover, long enough to read it
NARROW_WIDTH = 120
INVARIANT_INTERVAL = 0.25  # seconds between invariant recomputations
LOG_REORDER_SECONDS = 0.3  # how long narration waits for a late line from another actor's pipe


def _env_timeout() -> float | None:
    """``ZKBENCH_DEMO_SESSION_TIMEOUT`` (seconds): the actors' session timeout, for rooms that want it longer."""
    raw = os.environ.get("ZKBENCH_DEMO_SESSION_TIMEOUT", "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        log.warning("ignoring ZKBENCH_DEMO_SESSION_TIMEOUT=%r: not a number of seconds", raw)
        return None
    return value if value > 0 else None


class DemoCommands(Provider):
    """The demo's actions in the command palette (the same ones the bindings offer)."""

    def _commands(self) -> list[tuple[str, str, Any]]:
        screen = self.screen
        if not isinstance(screen, DemoScreen):
            return []
        return screen.palette_commands()

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)


class ConfigValuePrompt(ModalScreen[str | None]):
    """Ask for the new config value (JSON, or a plain string)."""

    BINDINGS = [Binding("escape", "cancel", "Back", id="demo_config_cancel")]

    def __init__(self, path: str, current: str) -> None:
        super().__init__()
        self._path = path
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="demo-config-box"):
            yield Label(Text(f"New value for {self._path} (JSON; Enter sets it, Esc cancels)"))
            yield Input(self._current, id="demo-config-input", placeholder='{"log_level": "DEBUG"}')

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if not value:
            self.notify("Type a value (JSON, e.g. {\"log_level\": \"DEBUG\"})", severity="warning", markup=False)
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class DemoScreen(Screen[None]):
    """One recipe demo: ``DemoScreen(workbench, "lock")``."""

    NAV_TITLE = "Demo"
    CSS_PATH = str(resources.files("zkbench.styles").joinpath("demo.tcss"))
    COMMANDS = App.COMMANDS | {DemoCommands}

    BINDINGS = [
        Binding("a", "add_actor", "Add actor", id="demo_add_actor"),
        Binding("w", "start_worker", "Start worker", id="demo_start_worker"),
        Binding("s", "stop_actor", "Stop", id="demo_stop_actor"),
        Binding("k", "crash_actor", "Crash", id="demo_crash_actor"),
        Binding("p", "pause_actor", "Pause/resume", id="demo_pause_actor"),
        Binding("K", "crash_key", "Crash holder/leader", id="demo_crash_key"),
        Binding("g", "gc_pause", "GC pause", id="demo_gc_pause"),
        Binding("r", "crash_random", "Crash random worker", id="demo_crash_random"),
        Binding("j", "add_jobs", "Add jobs", id="demo_add_jobs"),
        Binding("P", "add_producer", "Add producer", id="demo_add_producer", show=False),
        Binding("u", "raise_gate", "Raise gate", id="demo_raise_gate"),
        Binding("w", "add_waiter", "Add waiter", id="demo_add_waiter"),
        Binding("l", "lift_gate", "Lift gate", id="demo_lift_gate"),
        Binding("v", "set_config", "Set value", id="demo_set_config"),
        Binding("d", "delete_config", "Delete config", id="demo_delete_config", show=False),
        Binding("M", "add_master", "Add master", id="demo_add_master", show=False),
        Binding("t", "submit_tasks", "Submit tasks", id="demo_submit_tasks"),
        Binding("x", "dismiss_card", "Dismiss", id="demo_dismiss", show=False),
        Binding("X", "dismiss_all", "Dismiss all ended", id="demo_dismiss_all", show=False),
        Binding("n", "toggle_note", "Note", id="demo_toggle_note"),
        Binding("e", "toggle_tree", "Tree", id="demo_toggle_tree", show=False),
        *(Binding(str(n), f"select({n})", f"Select actor {n}", id=f"demo_select_{n}", show=False)
          for n in range(1, 10)),
        Binding("escape", "leave", "Leave demo", id="demo_leave"),
    ]

    # Actions every demo has; the rest must be one of the spec's controls.
    _COMMON = {"add_actor", "stop_actor", "crash_actor", "pause_actor", "crash_key", "dismiss_card", "dismiss_all",
               "toggle_note", "toggle_tree", "select", "leave"}

    def __init__(self, workbench: Any, kind: str, *, base: str | None = None,
                 session_timeout: float | None = None, autostart: bool | tuple[tuple[str, int], ...] = True,
                 model: DemoModel | None = None, tree_model: Any = None, clock: Any = time.time,
                 options: dict[str, dict[str, Any]] | None = None,
                 name: str | None = None, id: str | None = None) -> None:  # noqa: A002
        super().__init__(name=name, id=id)
        spec = demo_spec(kind)
        self.spec: DemoSpec = spec.with_base(base) if base else spec
        self.kind = kind
        self.workbench = workbench
        self.session_timeout = session_timeout or _env_timeout() or DEFAULT_SESSION_TIMEOUT
        self.autostart = autostart
        self.options = options or {}  # role key -> spawn options that override the spec's (tests: shorter holds)
        self.model = model or DemoModel(self.spec)
        self.tree_model = tree_model
        self.clock = clock
        self.title = f"Demo › {self.spec.title}"
        self.NAV_TITLE = self.title  # the app's navigation row reads it
        self.supervisor: Supervisor | None = None
        self.selected: str | None = None
        self.closing: threading.Thread | None = None
        self.started_ids: list[str] = []
        self._inbox: collections.deque[ActorEvent] = collections.deque()
        self._cards: dict[str, ActorCard] = {}
        self._tree: Any = None
        self._pending_log: list[ActorEvent] = []
        self._expanded_once: set[str] = set()
        self._gc_busy = False
        self._last_invariant = -INVARIANT_INTERVAL

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield InvariantLine(id="demo-invariant")
        with Horizontal(id="demo-body"):
            with Vertical(id="demo-tree-pane"):
                tree = self._make_tree()
                if tree is not None:
                    yield tree
                else:
                    yield Static(Text("The live tree is not available (zkbench.widgets.znode_tree missing)."),
                                 id="demo-tree-missing")
            yield VerticalScroll(id="demo-cards")
            with VerticalScroll(id="demo-side"):
                yield Static(RichMarkdown(self.spec.note), id="demo-note")
                yield Static("", id="demo-extra")
        yield NarrationLog(id="demo-log")
        yield Footer()

    def _make_tree(self) -> Any:
        try:
            from zkbench.widgets.znode_tree import ZnodeTree
        except ImportError:
            log.warning("ZnodeTree is not available; the demo shows no tree")
            return None
        own = lambda: 0  # noqa: E731 - actors' sessions are not "ours": no "(this session)" marks
        self._tree = ZnodeTree(None, root=self.spec.base, badge_seconds=3.0, own_session=own, clock=time.monotonic,
                               id="demo-tree")
        return self._tree

    def on_mount(self) -> None:
        self.query_one("#demo-tree-pane").border_title = f"Tree {self.spec.base}"
        self.query_one("#demo-side").border_title = "What is happening"
        self.query_one("#demo-log").border_title = "Narration (all actors, in time order)"
        self._refresh_cards_title()
        self._apply_layout(self.size.width)
        self._attach_tree()
        self.set_interval(0.25, self._flush_tree, name="demo-tree-flush")
        self._render_model(list(self.model.history))
        self._pump()
        if self.autostart:
            self.call_after_refresh(self._autostart)

    def on_resize(self, event: Any) -> None:
        self._apply_layout(event.size.width)

    def _apply_layout(self, width: int) -> None:
        self.set_class(width < NARROW_WIDTH, "-narrow")
        compact = width < NARROW_WIDTH
        for card in self._cards.values():
            if card.compact != compact and card.actor_id in self.model.cards:
                card.compact = compact
                card.show_state(self.model.cards[card.actor_id])

    def _refresh_cards_title(self) -> None:
        cards = self.query_one("#demo-cards")
        live = len(self.model.live())
        cards.border_title = f"Actors ({live} running)"
        sel = f"selected {self.selected} · " if self.selected else ""
        timeout = self.model.negotiated_timeout or self.session_timeout
        cards.border_subtitle = f"{sel}session timeout {timeout:g}s"

    # ------------------------------------------------------------------ tree
    def _mirror(self) -> Any:
        return self.tree_model if self.tree_model is not None else getattr(self.workbench, "mirror", None)

    def _attach_tree(self) -> None:
        model = self._mirror()
        if self._tree is not None and model is not None and self._tree.model is not model:
            self._tree.reset_model(model)
            self._expand_demo_tree()

    def on_workbench_ready(self) -> None:
        """The app opened (or reopened) its sessions: draw the new mirror."""
        if self.is_mounted:
            self._attach_tree()

    def apply_events(self, batch: list[Any]) -> None:
        """Mirror events from the app's drain: note the ones under the demo's base path (cheap)."""
        if self._tree is None:
            return
        base = self.spec.base
        prefix = base.rstrip("/") + "/"
        mine = [e for e in batch if (getattr(e, "path", None) is None and type(e).__name__.startswith("Resync"))
                or (isinstance(getattr(e, "path", None), str) and (e.path == base or e.path.startswith(prefix)
                                                                   or base.startswith(e.path.rstrip("/") + "/")))]
        if mine:
            self._tree.note_events(mine)

    def _flush_tree(self) -> None:
        if self._tree is None:
            return
        if self._tree.model is None:
            self._attach_tree()
            return
        if self._tree.pending:
            self._tree.flush()
        self._expand_demo_tree()

    def _expand_demo_tree(self, limit: int = 300) -> None:
        """Open every znode of the (small) demo subtree; wide parents stay behind the tree's "… N more" leaf."""
        tree = self._tree
        model = tree.model if tree is not None else None
        if model is None:
            return
        stack, seen = [self.spec.base], 0
        while stack and seen < limit:
            path = stack.pop()
            seen += 1
            node = tree.node_for(path)
            if node is None:
                continue
            try:
                kids = model.children(path)
            except KeyError:
                continue
            if kids and not node.is_expanded and path not in self._expanded_once:
                self._expanded_once.add(path)  # expand once: if the user collapses it, it stays collapsed
                node.expand()
            if node.is_expanded:
                stack.extend(f"{path.rstrip('/')}/{k}" for k in list(kids)[:50])

    # ------------------------------------------------------------------ actors: events
    def _on_actor_event(self, event: ActorEvent) -> None:
        """Supervisor listener: runs on a reader thread, so it only enqueues."""
        self._inbox.append(event)

    @work(exclusive=True, group="demo-pump", exit_on_error=False)
    async def _pump(self) -> None:
        """Long-lived async worker: drain the actors' events ~20 times a second and apply them in one batch."""
        while True:
            await asyncio.sleep(0.05)
            self._flush_log()
            self._refresh_invariant()
            if not self._inbox:
                continue
            batch: list[ActorEvent] = []
            while self._inbox and len(batch) < 5000:
                batch.append(self._inbox.popleft())
            try:
                self.feed(batch)
            except Exception as exc:  # noqa: BLE001 - keep supervising; show what broke
                log.exception("demo could not apply actor events")
                self.notify(f"Demo display error: {explain(exc)}", severity="error", markup=False)

    def feed(self, events: list[ActorEvent]) -> None:
        """Apply actor events to the model and the UI (tests feed fixed events here)."""
        batch = self.model.apply(events)
        self._render_model(batch)

    def _render_model(self, batch: list[ActorEvent]) -> None:
        self._pending_log.extend(batch)
        self._flush_log()
        self._sync_cards()
        self._refresh_invariant()
        self._refresh_cards_title()

    def _refresh_invariant(self, force: bool = False) -> None:
        """Recompute the invariant line and side summary when events changed them, at most ~4 times a second
        (the checkers walk the history; see benchmarks/demo_invariants.py)."""
        now = time.monotonic()
        if not self.model.stale or (not force and now - self._last_invariant < INVARIANT_INTERVAL):
            return
        self._last_invariant = now
        inv = self.model.invariant()
        self.query_one(InvariantLine).show(inv.level.value, inv.text, inv.detail)
        self.query_one("#demo-extra", Static).update(Text("\n".join(side_summary(self.model))))

    def _flush_log(self, everything: bool = False) -> None:
        """Write narration lines older than :data:`LOG_REORDER_SECONDS`, in time order.

        Each actor's lines come through its own pipe, so a line can arrive after a later line of another actor;
        holding lines back a moment lets them be interleaved by the time they happened.
        """
        if not self._pending_log:
            return
        self._pending_log.sort(key=lambda e: e.time)
        cutoff = self.clock() - LOG_REORDER_SECONDS
        n = len(self._pending_log) if everything else 0
        if not everything:
            while n < len(self._pending_log) and self._pending_log[n].time <= cutoff:
                n += 1
        if n:
            ready, self._pending_log = self._pending_log[:n], self._pending_log[n:]
            self.query_one(NarrationLog).write_events(ready, self.model.t0)

    def _sync_cards(self) -> None:
        container = self.query_one("#demo-cards", VerticalScroll)
        # One-shot actors (an updater, a batch producer) leave once they finished cleanly.
        for card in list(self.model.cards.values()):
            if card.fate is Fate.STOPPED and card.returncode == 0 and self.model.is_oneshot(card):
                self.model.dismiss(card.id)
        gone = [aid for aid in self._cards if aid not in self.model.cards]
        for aid in gone:
            self._cards.pop(aid).remove()
            if self.selected == aid:
                self.selected = None
        compact = self.has_class("-narrow")
        for index, (aid, state) in enumerate(self.model.cards.items(), start=1):
            widget = self._cards.get(aid)
            if widget is None:
                widget = self._cards[aid] = ActorCard(state, index=index, compact=compact)
                container.mount(widget)
            else:
                widget.show_state(state, index)
            widget.set_class(aid == self.selected, "-selected")

    def on_actor_card_selected(self, message: ActorCard.Selected) -> None:
        self.selected = message.actor_id
        for aid, widget in self._cards.items():
            widget.set_class(aid == self.selected, "-selected")
        self._refresh_cards_title()

    # ------------------------------------------------------------------ actors: control
    def _ensure_supervisor(self) -> Supervisor:
        if self.supervisor is None:
            self.supervisor = Supervisor(self.workbench.hosts, session_timeout=self.session_timeout)
            self.supervisor.add_listener(self._on_actor_event)
        return self.supervisor

    def spawn(self, role_key: str, **overrides: Any) -> str | None:
        """Start one actor of ``role_key``; returns its id (None, with a notification, if it failed)."""
        if getattr(self.workbench, "read_only", False):
            self.notify("Read-only mode is on: demo actors write to ZooKeeper, so none was started "
                        "(F6 turns read-only off)", severity="warning", markup=False)
            return None
        role = self.spec.roles[role_key]
        actor_id = self.model.next_id(role_key)
        options = role.options(self.spec.base, self.model.highest[role_key])
        options.update(self.options.get(role_key, {}))
        options.update(overrides)
        try:
            self._ensure_supervisor().spawn(role.role, actor_id, **options)
        except ActorError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return None
        self.started_ids.append(actor_id)
        return actor_id

    def on_read_only_changed(self, read_only: bool) -> None:
        """The app toggled read-only (F6): start the demo's actors if they were held back by it."""
        if not read_only and self.autostart and not self.started_ids:
            self._autostart()

    def _autostart(self) -> None:
        if getattr(self.workbench, "read_only", False):
            self.query_one(NarrationLog).note("read-only mode is on: no actors started (F6 turns it off; then "
                                              "they start)", self.clock())
            self.spawn(self.spec.default_role)  # explains why, once
            return
        plan = self.spec.start if self.autostart is True else self.autostart
        for role_key, count in plan or ():
            for _ in range(count):
                self.spawn(role_key)

    def _target(self) -> ActorCardState | None:
        """The selected actor, or the first card when nothing is selected yet."""
        if self.selected in self.model.cards:
            return self.model.cards[self.selected]
        focused = self.focused
        if isinstance(focused, ActorCard) and focused.actor_id in self.model.cards:
            return self.model.cards[focused.actor_id]
        live = self.model.live()
        if live:
            return live[0]
        self.notify("No actor selected: press a to start one", severity="warning", markup=False)
        return None

    def _signal(self, what: str, card: ActorCardState) -> None:
        sup = self.supervisor
        if sup is None or not card.alive:
            self.notify(f"{card.id} is not running ({card.fate.value}); x dismisses its card",
                        severity="warning", markup=False)
            return
        try:
            if what == "stop":
                sup.stop(card.id, wait=False)
            elif what == "crash":
                sup.crash(card.id, wait=False)
            elif what == "pause":
                sup.pause(card.id)
            elif what == "resume":
                sup.resume(card.id)
        except ActorError as exc:
            self.notify(str(exc), severity="error", markup=False)

    def action_add_actor(self) -> None:
        self.spawn(self.spec.default_role)

    def action_start_worker(self) -> None:
        self.spawn(self.spec.default_role)

    def action_stop_actor(self) -> None:
        card = self._target()
        if card is not None:
            self._signal("stop", card)

    def action_crash_actor(self) -> None:
        card = self._target()
        if card is not None:
            self._signal("crash", card)

    def action_pause_actor(self) -> None:
        card = self._target()
        if card is not None:
            self._signal("resume" if card.fate is Fate.PAUSED else "pause", card)

    def key_holder(self) -> ActorCardState | None:
        """The actor the lesson says to crash: the lock holder, the leader, the active master, a busy worker."""
        running = [c for c in self.model.cards.values() if c.fate is Fate.RUNNING]
        for state in ("holding", "leader", "working"):
            found = [c for c in running if c.state == state
                     and (self.kind != "master-worker" or state != "leader" or c.role == "master")]
            if found:
                return found[0]
        default_role = self.spec.roles[self.spec.default_role].role
        same = [c for c in running if c.role == default_role]
        return same[0] if same else None

    def action_crash_key(self) -> None:
        card = self.key_holder()
        if card is None:
            self.notify(f"Nobody to crash: {self.spec.crash_hint} is not running", severity="warning",
                        markup=False)
            return
        self.selected = card.id
        self._signal("crash", card)

    def action_crash_random(self) -> None:
        services = [c for c in self.model.cards.values() if c.role == "service" and c.fate is Fate.RUNNING]
        if not services:
            self.notify("No running service instance to crash: press w to start one", severity="warning",
                        markup=False)
            return
        self._signal("crash", random.choice(services))

    def action_add_jobs(self) -> None:
        self.spawn("batch")

    def action_add_producer(self) -> None:
        self.spawn("producer")

    def action_raise_gate(self) -> None:
        self.spawn("raise")

    def action_add_waiter(self) -> None:
        self.spawn("waiter")

    def action_lift_gate(self) -> None:
        self.spawn("lift")

    def action_add_master(self) -> None:
        self.spawn("master")

    def action_submit_tasks(self) -> None:
        self.spawn("submit")

    def action_set_config(self) -> None:
        path = self.spec.base.rstrip("/") + "/config"
        sets = [c for c in self.model.cards.values() if "config" in c.facts]
        current = sets[-1].facts["config"] if sets else '{"log_level": "DEBUG"}'

        def chosen(value: str | None) -> None:
            if value:
                self.spawn("setter", value=value)

        self.app.push_screen(ConfigValuePrompt(path, current), chosen)

    def action_delete_config(self) -> None:
        self.spawn("setter", delete=True, value=None)

    def action_dismiss_card(self) -> None:
        card = self._target()
        if card is None:
            return
        if card.alive:
            self.notify(f"{card.id} is still running: stop (s) or crash (k) it first", severity="warning",
                        markup=False)
            return
        self.model.dismiss(card.id)
        self._render_model([])
        self._refresh_invariant(force=True)

    def action_dismiss_all(self) -> None:
        for card in [c for c in self.model.cards.values() if not c.alive]:
            self.model.dismiss(card.id)
        self._render_model([])
        self._refresh_invariant(force=True)

    def action_select(self, n: int) -> None:
        """Select (focus) the n-th actor card."""
        cards = list(self._cards.values())
        if 0 < n <= len(cards):
            cards[n - 1].focus()
            cards[n - 1].scroll_visible()
            self.selected = cards[n - 1].actor_id
            self.on_actor_card_selected(ActorCard.Selected(self.selected))
        else:
            self.notify(f"There is no actor {n}", severity="warning", markup=False)

    def action_toggle_note(self) -> None:
        self.toggle_class("-show-note" if self.has_class("-narrow") else "-hide-note")

    def action_toggle_tree(self) -> None:
        self.toggle_class("-hide-tree")

    def action_leave(self) -> None:
        self.app.pop_screen()

    # ------------------------------------------------------------------ the GC-pause lesson
    def action_gc_pause(self) -> None:
        if self._gc_busy:
            self.notify("The GC-pause lesson is already running", severity="warning", markup=False)
            return
        state = "holding" if self.kind == "lock" else "leader"
        holders = [c for c in self.model.cards.values() if c.fate is Fate.RUNNING and c.state == state]
        if not holders:
            self.notify(f"Nobody is {state} right now: wait for one, then press g", severity="warning",
                        markup=False)
            return
        if len([c for c in self.model.live() if c.id != holders[0].id]) == 0:
            self.notify("Add another actor first (a): someone must take over during the pause", severity="warning",
                        markup=False)
            return
        self._gc_lesson(holders[0].id, state)

    @work(exclusive=True, group="demo-gc-pause", exit_on_error=False)
    async def _gc_lesson(self, actor_id: str, state: str) -> None:
        """Pause the holder past its session timeout, wait until another actor takes over, then resume it."""
        self._gc_busy = True
        logw = self.query_one(NarrationLog)
        try:
            verb = "acquired" if state == "holding" else "elected"
            mark = len(self.model.history)
            logw.note(f"GC-pause lesson: pausing {actor_id} ({state}) for longer than its "
                      f"{self.session_timeout:g}s session timeout", time.time())
            self._signal("pause", self.model.cards[actor_id])
            deadline = time.monotonic() + self.session_timeout * 3 + 10
            taken_by = None
            while time.monotonic() < deadline and taken_by is None:
                await asyncio.sleep(0.1)
                for e in self.model.history[mark:]:
                    if e.kind == verb and e.source == "actor" and e.actor != actor_id:
                        taken_by = e.actor
                card = self.model.cards.get(actor_id)
                if card is None or card.fate is not Fate.PAUSED:
                    logw.note(f"GC-pause lesson: {actor_id} is no longer paused; lesson stopped", time.time())
                    return
            if taken_by is None:
                logw.note("GC-pause lesson: nobody took over in time; resuming", time.time())
            else:
                logw.note(f"GC-pause lesson: {taken_by} {verb} it while {actor_id} is frozen; "
                          f"resuming {actor_id} in 2s", time.time())
                await asyncio.sleep(2.0)
            card = self.model.cards.get(actor_id)
            if card is not None and card.fate is Fate.PAUSED:
                self._signal("resume", card)
        finally:
            self._gc_busy = False

    # ------------------------------------------------------------------ bindings and palette
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "crash_key":
            return self.kind in ("lock", "election", "queue", "master-worker")
        if action in self._COMMON:
            return True
        if action == "gc_pause":
            return self.kind in ("lock", "election")
        return any(c.action == action for c in self.spec.controls)

    def palette_commands(self) -> list[tuple[str, str, Any]]:
        role = self.spec.roles[self.spec.default_role].label
        out: list[tuple[str, str, Any]] = [
            (f"Demo: add {role}", f"Start one more {role} (a)", self.action_add_actor),
            ("Demo: stop selected actor", "SIGTERM: it releases and closes its session, ephemerals go now (s)",
             self.action_stop_actor),
            ("Demo: crash selected actor", "SIGKILL: its session lingers until the timeout (k)",
             self.action_crash_actor),
            ("Demo: pause/resume selected actor", "SIGSTOP / SIGCONT, like a long GC pause (p)",
             self.action_pause_actor),
            ("Demo: dismiss ended actors", "Remove the cards of crashed and stopped actors (X)",
             self.action_dismiss_all),
            ("Demo: toggle note", "Show or hide the learner's note (n)", self.action_toggle_note),
            ("Demo: leave", "Stop every actor of this demo and go back (Esc)", self.action_leave),
        ]
        if self.check_action("crash_key", ()):
            out.append((f"Demo: crash {self.spec.crash_hint}", f"SIGKILL {self.spec.crash_hint} (K)",
                        self.action_crash_key))
        if self.kind in ("lock", "election"):
            out.append(("Demo: GC-pause lesson", "Pause the holder past its session timeout, then resume it (g)",
                        self.action_gc_pause))
        for control in self.spec.controls:
            out.append((f"Demo: {control.title}", f"{control.description} ({control.key})",
                        getattr(self, f"action_{control.action}")))
        return out

    # ------------------------------------------------------------------ leaving
    def on_unmount(self) -> None:
        self.stop_all()

    def stop_all(self) -> threading.Thread | None:
        """Stop every actor this screen started (SIGTERM, SIGKILL after 3 s), off the UI thread."""
        sup, self.supervisor = self.supervisor, None
        if sup is None:
            return self.closing
        sup.remove_listener(self._on_actor_event)
        # Not a daemon: the interpreter waits for it at exit, so quitting never leaves actors behind.
        self.closing = threading.Thread(target=sup.close, kwargs={"timeout": 3.0}, name="demo-stop-actors")
        self.closing.start()
        return self.closing
