"""The main screen (course project 7, the live monitor): live tree, stat panel, data view, timeline and editors.

It draws ``workbench.mirror`` (the TreeModel) and never calls kazoo itself: reads go through the model, writes
through ``zkbench.edits`` with ``workbench.client`` in thread workers. Events reach it as batches through
:meth:`MainScreen.apply_events` (the app drains ``workbench.events`` and calls it; pass ``drain=True`` to let the
screen drain the queue itself, e.g. in tests). Tree structure is reconciled at most ``flush_hz`` times a second.

Layout: ``#header`` (ZkHeader), ``#tree-pane`` (find box + ZnodeTree), ``#details`` (StatPanel + DataView),
``#timeline-pane`` (prefix box + Timeline), and ``#shell-dock``, an empty Container docked at the bottom and hidden
until something is mounted in it and ``show_shell_dock(True)`` is called (the shell pane lives there).
Below 120 columns the timeline shares the right side with the details; ``t`` switches between them. From 180
columns the stat panel and the data view sit side by side (narrower, a hex dump would wrap).
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Horizontal, Vertical
from textual.screen import Screen
from textual.suggester import Suggester
from textual.widgets import Footer, Input, Static, Tree

from zkbench import edits
from zkbench.edits import CreateMode
from zkbench.errors import explain
from zkbench.widgets.data_view import DataView
from zkbench.widgets.edit_dialogs import CreateDialog, DeleteDialog, SetDataDialog
from zkbench.widgets.stat_panel import StatPanel
from zkbench.widgets.timeline import Timeline
from zkbench.widgets.zk_header import ZkHeader
from zkbench.widgets.znode_tree import MoreLeaf, ZnodeTree, join_path

__all__ = ["MainScreen", "PathSuggester"]

log = logging.getLogger(__name__)

_EDIT_ACTIONS = {"create", "set_data", "delete"}


class PathSuggester(Suggester):
    """Completes the last path element from the model's children of the typed parent."""

    def __init__(self, model: Callable[[], Any]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self._model = model

    async def get_suggestion(self, value: str) -> str | None:
        model = self._model()
        if model is None or not value.startswith("/"):
            return None
        parent, _, partial = value.rpartition("/")
        parent = parent or "/"
        try:
            names = model.children(parent)
        except KeyError:
            return None
        for name in names:
            if name.startswith(partial) and name != partial:
                return join_path(parent, name)
        return None


class MainScreen(Screen[None]):
    """The live tree and everything about the selected znode."""

    NAV_TITLE = "Tree"
    CSS_PATH = str(resources.files("zkbench.styles").joinpath("main.tcss"))
    # -narrow: details or timeline on the right; -wide: details above the timeline; -xwide: stat | data side by side
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide"), (180, "-xwide")]
    AUTO_FOCUS = "ZnodeTree"

    BINDINGS = [
        Binding("slash", "jump", "Go to path", id="main.jump"),
        Binding("f", "filter", "Filter", id="main.filter"),
        Binding("c", "create", "Create", id="main.create"),
        Binding("e", "set_data", "Edit data", id="main.set_data"),
        Binding("d,delete", "delete", "Delete", id="main.delete"),
        Binding("t", "toggle_timeline", "Timeline", id="main.timeline"),
        Binding("p", "timeline_here", "Timeline: this subtree", id="main.timeline_here", show=False),
        Binding("escape", "clear_find", "Clear find/filter", id="main.clear_find", show=False),
    ]

    def __init__(self, workbench: Any, *, drain: bool = False, flush_hz: float = 4.0,
                 clock: Callable[[], float] = time.time, root: str = "/", hide_session: bool = False,
                 badge_seconds: float = 4.0, name: str | None = None, id: str | None = None) -> None:  # noqa: A002
        super().__init__(name=name, id=id)
        self.workbench = workbench
        self.drain = drain
        self.flush_interval = 1.0 / flush_hz
        self.clock = clock
        self.root_path = root
        self.hide_session = hide_session
        self.badge_seconds = badge_seconds
        self._find_mode: str | None = None
        self._details_dirty = False
        self._pending_reveal: str | None = None
        self._mirror_ready = False
        self._shown_path: str | None = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield ZkHeader(hide_session=self.hide_session, id="header")
        with Horizontal(id="main-body"):
            with Vertical(id="tree-pane"):
                yield Input(placeholder="/path  (→ completes, enter jumps)", id="find-input",
                            suggester=PathSuggester(lambda: self.model))
                yield Static("", id="find-status")
                yield ZnodeTree(self.model, root=self.root_path, own_session=self._own_session,
                                badge_seconds=self.badge_seconds, id="tree")
            with Vertical(id="right-pane"):
                with Vertical(id="details"):
                    yield StatPanel(acl_loader=self._read_acl, own_session=self._own_session, id="stat")
                    yield DataView(loader=self._load_data, id="data")
                with Vertical(id="timeline-pane"):
                    yield Input(placeholder="timeline: filter by path prefix (e.g. /app)", id="timeline-prefix")
                    yield Timeline(clock=self.clock, id="timeline")
        yield Container(id="shell-dock")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#find-input", Input).display = False
        self.query_one("#find-status", Static).display = False
        self.set_interval(self.flush_interval, self._flush, name="main-flush")
        if self.drain:
            self.set_interval(0.05, self._drain, name="main-drain")
        self._refresh_header()
        self._show_details()

    # ------------------------------------------------------------------ engine access
    @property
    def model(self) -> Any:
        return getattr(self.workbench, "mirror", None)

    @property
    def tree(self) -> ZnodeTree:
        return self.query_one("#tree", ZnodeTree)

    def _own_session(self) -> int:
        connection = getattr(self.workbench, "connection", None)
        return getattr(connection, "session_id", 0) or 0

    def _server_label(self, server: str | None) -> str:
        """The header's server text: ``workbench.server_label`` (it says when zkbench started the server itself),
        or the server a state event names when that differs (after a reconnect to another ensemble member)."""
        wb = self.workbench
        label = str(getattr(wb, "server_label", "") or "")
        if server and not label.startswith(server):
            local = getattr(wb, "local_server", None)
            return server + (" (private local server started by zkbench)" if local is not None else "")
        return label or (server or "")

    def _client(self) -> Any:
        return getattr(self.workbench, "client", None)

    def _read_acl(self, path: str) -> Any:
        client = self._client()
        if client is None:
            raise edits.ZkBenchError("Not connected: no user session to read the ACL with")
        return client.get_acls(path)

    def _load_data(self, path: str) -> bytes | None:
        model = self.model
        return model.load_data(path) if model is not None else None

    def on_workbench_ready(self) -> None:
        """Called by the app once the sessions are open: draw the mirror."""
        self.tree.reset_model(self.model)
        self._refresh_header()
        self._show_details()

    def show_shell_dock(self, show: bool = True) -> None:
        """Show or hide the ``#shell-dock`` container (the shell pane is mounted there by the app)."""
        self.query_one("#shell-dock").display = show

    # ------------------------------------------------------------------ events
    def _drain(self) -> None:
        events = self.workbench.events
        batch: list[Any] = []
        try:
            while len(batch) < 20_000:
                batch.append(events.get_nowait())
        except queue.Empty:
            pass
        if batch:
            self.apply_events(batch)

    def apply_events(self, batch: list[Any]) -> None:
        """Take a batch of engine events: cheap bookkeeping now, one repaint on the next flush tick."""
        tree = self.tree
        if tree.model is None and self.model is not None:
            tree.reset_model(self.model)
        selected = tree.selected_path
        for ev in batch:
            name = type(ev).__name__
            if name == "ConnectionStateChanged":
                if getattr(ev, "role", "user") == "user":
                    state = getattr(ev.state, "value", str(ev.state))
                    self.query_one(ZkHeader).set_connection(state, self._server_label(ev.server), ev.session_id)
                    self._details_dirty = True
            elif name == "SyncProgress":
                # SyncProgress(known, done: bool): znodes found so far; done once the initial walk is complete
                known, done = getattr(ev, "known", 0), bool(getattr(ev, "done", False))
                self.query_one(ZkHeader).syncing = "" if done else f"syncing… {known:,} znodes so far"
            elif selected is not None and getattr(ev, "path", None) in (selected, None):
                self._details_dirty = True
            elif selected is not None and name == "NodeRemoved" and selected.startswith(ev.path + "/"):
                self._details_dirty = True
        tree.note_events(batch)
        self.query_one(Timeline).add_events(batch)

    def _flush(self) -> None:
        """The repaint tick: reconcile the tree, refresh the header and, if it changed, the selected znode."""
        tree = self.tree
        model = self.model
        if tree.model is not model:
            tree.reset_model(model)
        ready = getattr(model, "ready", True) if model is not None else False
        if hasattr(ready, "is_set"):
            ready = ready.is_set()
        if ready and not self._mirror_ready:
            tree.note_events([_Resync()])
            self._details_dirty = True
        self._mirror_ready = bool(ready)
        if ready:
            self.query_one(ZkHeader).syncing = ""
        if tree.pending:
            tree.flush()
        if self._pending_reveal and model is not None and self._pending_reveal in model:
            path, self._pending_reveal = self._pending_reveal, None
            tree.reveal(path)
        self._refresh_header()
        if self._details_dirty:
            self._details_dirty = False
            self._show_details(reload_acl=True)

    def _refresh_header(self) -> None:
        header = self.query_one(ZkHeader)
        model = self.model
        wb = self.workbench
        label = self._server_label(None)
        if label and header.server != label and (header.server == "" or label.startswith(header.server)):
            header.server = label  # keeps "(private local server started by zkbench)" when zkbench started it
        connection = getattr(wb, "connection", None)
        if connection is not None and header.session_id == 0:
            header.set_connection(getattr(getattr(connection, "state", None), "value", header.state),
                                  self._server_label(None), self._own_session())
        strategy = getattr(model, "strategy", None) if model is not None else None
        strategy = getattr(strategy, "value", strategy) or getattr(wb, "mirror_strategy", None)
        count = len(model) if model is not None else None
        header.set_mirror(str(strategy) if strategy else "", count)
        header.read_only = bool(getattr(wb, "read_only", False))

    # ------------------------------------------------------------------ selection
    @on(Tree.NodeHighlighted, "#tree")
    def _highlighted(self, event: Tree.NodeHighlighted[Any]) -> None:
        self._show_details()

    def _show_details(self, *, reload_acl: bool = False) -> None:
        tree = self.tree
        node = tree.cursor_node
        path = node.data if node is not None and isinstance(node.data, str) else None
        if node is not None and isinstance(node.data, MoreLeaf):
            path = node.data.parent
        model = self.model
        info = None
        if path is not None and model is not None:
            try:
                info = model.get(path)
            except KeyError:
                info = None
        deleted = path is not None and info is None and model is not None
        changed = path != self._shown_path
        self._shown_path = path
        self.query_one(StatPanel).show(path, info, created_mode=tree.created_modes.get(path or ""),
                                       reload_acl=reload_acl or changed, deleted=deleted)
        self.query_one(DataView).show(path, info, deleted=deleted)

    # ------------------------------------------------------------------ find
    def action_jump(self) -> None:
        self._open_find("jump")

    def action_filter(self) -> None:
        self._open_find("filter")

    def _open_find(self, mode: str) -> None:
        self._find_mode = mode
        box = self.query_one("#find-input", Input)
        box.display = True
        if mode == "jump":
            box.placeholder = "go to /path  (→ completes, enter jumps)"
            box.value = self.tree.selected_path or "/"
        else:
            box.placeholder = "filter: names containing…  (esc clears)"
            box.value = self.tree.filter_text
        box.cursor_position = len(box.value)
        box.focus()

    @on(Input.Changed, "#find-input")
    def _find_changed(self, event: Input.Changed) -> None:
        if self._find_mode == "filter":
            self.tree.set_filter(event.value)

    @on(Input.Submitted, "#find-input")
    def _find_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if self._find_mode == "jump":
            path = value.rstrip("/") or "/"
            if self.tree.reveal(path):
                self._close_find()
            else:
                self.notify(f"No znode {path} in the tree", severity="warning", markup=False)
        else:
            self.query_one("#find-input", Input).display = False
            self.tree.focus()

    @on(ZnodeTree.FilterApplied)
    def _filter_applied(self, event: ZnodeTree.FilterApplied) -> None:
        status = self.query_one("#find-status", Static)
        if not event.text:
            status.display = False
            return
        more = f" (first {event.matches:,} shown)" if event.capped else ""
        status.update(Text(f"filter '{event.text}': {event.matches:,} matching znodes{more}"))
        status.display = True

    def _close_find(self) -> None:
        self._find_mode = None
        self.query_one("#find-input", Input).display = False
        self.tree.focus()

    def action_clear_find(self) -> None:
        if self.tree.filter_text:
            self.tree.set_filter("")
        self._close_find()

    # ------------------------------------------------------------------ timeline
    def action_toggle_timeline(self) -> None:
        if self.has_class("-narrow"):
            self.toggle_class("-show-timeline")
        if self.has_class("-show-timeline") or not self.has_class("-narrow"):
            self.query_one(Timeline).focus()

    def action_timeline_here(self) -> None:
        path = self.tree.selected_path or ""
        box = self.query_one("#timeline-prefix", Input)
        box.value = "" if path == "/" else path

    @on(Input.Changed, "#timeline-prefix")
    def _prefix_changed(self, event: Input.Changed) -> None:
        self.query_one(Timeline).prefix = event.value.strip()

    # ------------------------------------------------------------------ edits
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in _EDIT_ACTIONS and getattr(self.workbench, "read_only", False):
            return False  # read-only: the editors are hidden from the footer and the keys do nothing
        return True

    def _can_edit(self) -> bool:
        if getattr(self.workbench, "read_only", False):
            self.notify("Read-only mode: editing is off", severity="warning", markup=False)
            return False
        if self._client() is None:
            self.notify("Not connected: no user session to write with", severity="error", markup=False)
            return False
        return True

    def action_create(self) -> None:
        if not self._can_edit():
            return
        parent = self.tree.selected_path or self.root_path
        client = self._client()

        def submit(**request: Any) -> Any:
            return edits.create(client, **request)

        self.app.push_screen(CreateDialog(parent, submit), self._created)

    def _created(self, result: Any) -> None:
        if not result:
            return
        created, mode = result
        if mode is CreateMode.CONTAINER:
            self.tree.mark_created(created.path, "container")
        elif mode.needs_ttl:
            self.tree.mark_created(created.path, "ttl")
        self.notify(f"Created {created.path} ({mode.value})", markup=False)
        self._pending_reveal = created.path

    def action_set_data(self) -> None:
        if not self._can_edit():
            return
        path = self.tree.selected_path
        if path is None:
            return
        self._read_for_edit(path)

    @work(thread=True, exclusive=True, group="main-read-for-edit", exit_on_error=False)
    def _read_for_edit(self, path: str) -> None:
        """Read data and stat together through the user session, so the edit carries the version it saw."""
        client = self._client()
        try:
            data, stat = client.get(path)
        except Exception as exc:  # noqa: BLE001 - one line to the user
            log.info("could not read %s for editing: %s", path, exc)
            self.app.call_from_thread(self.notify, explain(exc, path), severity="error", markup=False)
            return
        self.app.call_from_thread(self._open_set_dialog, path, data or b"", stat.version)

    def _open_set_dialog(self, path: str, data: bytes, version: int) -> None:
        client = self._client()

        def submit(new: bytes, expected: int) -> Any:
            return edits.set_data(client, path, new, expected)

        def done(stat: Any) -> None:
            if stat is not None:
                self.notify(f"Saved {path} (dataVersion {stat.version})", markup=False)

        self.app.push_screen(SetDataDialog(path, data, version, submit), done)

    def action_delete(self) -> None:
        if not self._can_edit():
            return
        path = self.tree.selected_path
        if path is None or path == "/":
            self.notify("Refusing to delete the root znode /", severity="warning", markup=False)
            return
        client = self._client()

        def count() -> int:
            return edits.count_subtree(client, path)

        def submit(recursive: bool) -> Any:
            return edits.delete(client, path, recursive=recursive)

        def done(result: Any) -> None:
            if result is not None:
                noun = "znode" if result.deleted == 1 else "znodes"
                self.notify(f"Deleted {path} ({result.deleted:,} {noun})", markup=False)

        self.app.push_screen(DeleteDialog(path, count, submit), done)


class _Resync:
    """A synthetic "everything may have changed" event (the mirror became ready)."""

    path = None
