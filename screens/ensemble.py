"""The ensemble screen: one card per ZooKeeper server, refreshed every second, a timeline of what changed, the
clients each server holds, and (for a local ensemble started by zkbench) kill / restart to show failover live.

Polling follows Dolphie's pattern: a thread worker runs one poll of every server (concurrently, each with its
own timeout), posts the result as a message, and only then is a one-shot timer armed for the next poll, so polls
never overlap however slow a server is.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, RichLog, Static, TabbedContent, TabPane
from textual.worker import Worker, WorkerState, get_current_worker

from zkbench.ensemble import (EnsembleEvent, EnsembleMonitor, EnsembleUpdate, EventKind, ServerTarget,
                              discover_targets, ephemerals_of_session, recorded_ensemble,
                              targets_from_connect_string, targets_from_local)
from zkbench.errors import explain
from zkbench.widgets.ensemble_card import ServerCard

if TYPE_CHECKING:
    from zkbench.server import LocalEnsemble
    from zkbench.workbench import Workbench

__all__ = ["EnsembleScreen"]

log = logging.getLogger(__name__)


class EnsembleScreen(Screen[None]):
    """Live health of every server of the ensemble."""

    NAV_TITLE = "Ensemble"
    TITLE = "Ensemble"

    DEFAULT_CSS = """
    EnsembleScreen {
        layout: vertical;
    }
    EnsembleScreen #ensemble-summary {
        height: 1;
        padding: 0 1;
        background: $panel;
    }
    EnsembleScreen #cards {
        grid-size: 3;
        grid-gutter: 0 1;
        height: auto;
        max-height: 50%;
        padding: 0 1;
        overflow-y: auto;
    }
    EnsembleScreen #bottom {
        height: 1fr;
        min-height: 6;
    }
    EnsembleScreen TabbedContent, EnsembleScreen ContentSwitcher, EnsembleScreen TabPane {
        height: 1fr;
    }
    EnsembleScreen TabPane {
        padding: 0;
    }
    EnsembleScreen #timeline {
        height: 1fr;
    }
    EnsembleScreen #clients-table {
        height: 1fr;
    }
    EnsembleScreen #ephemerals {
        height: auto;
        max-height: 6;
        padding: 0 1;
        background: $boost;
        overflow-y: auto;
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="ensemble_back"),
        Binding("k", "kill_member", "Kill member", id="ensemble_kill"),
        Binding("r", "restart_member", "Restart member", id="ensemble_restart"),
        Binding("t", "show_tab('timeline-tab')", "Timeline", id="ensemble_timeline"),
        Binding("c", "show_tab('clients-tab')", "Clients", id="ensemble_clients"),
        Binding("e", "show_ephemerals", "Ephemerals of session", id="ensemble_ephemerals", show=False),
        Binding("right,l", "select_card(1)", "Next server", id="ensemble_next", show=False),
        Binding("left,h", "select_card(-1)", "Previous server", id="ensemble_prev", show=False),
        Binding("space", "poll_now", "Refresh now", id="ensemble_refresh", show=False),
    ]

    class Polled(Message):
        """One poll finished (posted from the poll worker)."""

        def __init__(self, update: EnsembleUpdate, targets: Sequence[ServerTarget]) -> None:
            super().__init__()
            self.update = update
            self.targets = list(targets)

    def __init__(self, workbench_or_targets: "Workbench | Sequence[ServerTarget] | str",
                 ensemble: "LocalEnsemble | None" = None, *, monitor: Any = None, interval: float = 1.0,
                 timeout: float = 0.8) -> None:
        super().__init__()
        self.workbench: Workbench | None = None
        self.ensemble = ensemble
        self.interval = interval
        self._seeds: list[ServerTarget]
        self._discover = monitor is None and ensemble is None
        if isinstance(workbench_or_targets, str):
            self._seeds = targets_from_connect_string(workbench_or_targets)
        elif isinstance(workbench_or_targets, Sequence):
            self._seeds = list(workbench_or_targets)
            self._discover = False
        else:
            self.workbench = workbench_or_targets
            if ensemble is None:
                self.ensemble = getattr(workbench_or_targets, "local_ensemble", None)
            local = self.ensemble or getattr(workbench_or_targets, "local_server", None)
            self._seeds = (targets_from_local(local) if local is not None
                           else targets_from_connect_string(workbench_or_targets.hosts))
        if self.ensemble is None and monitor is None:
            hosts = (workbench_or_targets if isinstance(workbench_or_targets, str)
                     else getattr(self.workbench, "hosts", None))
            if hosts:
                # a `zkbench ensemble up` ensemble whose members are this connect string: kill/restart work
                self.ensemble = recorded_ensemble(hosts)
        if self.ensemble is not None:
            self._seeds = targets_from_local(self.ensemble)
            self._discover = False
        self.monitor = monitor if monitor is not None else EnsembleMonitor(self._seeds, timeout=timeout)
        self._targets: list[ServerTarget] = list(getattr(self.monitor, "targets", self._seeds))
        self._timer: Timer | None = None
        self._notes_seen: set[tuple[str, str]] = set()
        self._selected = 0
        self._client_rows: dict[str, tuple[ServerTarget, int]] = {}
        self._polls = 0
        self._polling = False  # a poll worker is in flight: "poll now" queues one more instead of cancelling it
        self._poll_again = False
        self.timeline_lines: list[str] = []  # what the timeline shows, as plain text (tests read it)
        self._timeline_width: int | None = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Static(Text("polling…"), id="ensemble-summary")
        with Grid(id="cards"):
            for i, target in enumerate(self._targets):
                yield ServerCard(target, id=f"card-{i}")
        with Vertical(id="bottom"):
            with TabbedContent(initial="timeline-tab"):
                with TabPane("Timeline", id="timeline-tab"):
                    yield RichLog(max_lines=1000, wrap=True, id="timeline")
                with TabPane("Clients (cons)", id="clients-tab"):
                    yield DataTable(id="clients-table", cursor_type="row", zebra_stripes=True)
                    yield Static(Text("select a session and press Enter to list the ephemerals it owns",
                                      style="dim"), id="ephemerals")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#clients-table", DataTable)
        table.add_columns("server", "client", "session", "recv/sent", "queued", "last op", "latency min/avg/max")
        self._fit_grid()
        cards = list(self.query(ServerCard))
        if cards:
            cards[0].focus()
        self._poll()

    def on_resize(self) -> None:
        self._fit_grid()
        self.call_after_refresh(self._rewrap_timeline)

    def _fit_grid(self) -> None:
        """As many cards per row as fit (at least 26 columns each), never more than there are servers."""
        grid = self.query_one("#cards", Grid)
        count = max(1, len(self._targets))
        per_row = max(1, min(count, (self.size.width - 2) // 26 or 1))
        grid.styles.grid_size_columns = per_row
        tall = self.size.height >= 40 and -(-count // per_row) * 14 <= self.size.height // 2
        for card in self.query(ServerCard):
            card.set_class(tall, "-tall")  # room for the outstanding / connections / watches sparklines

    def on_unmount(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        close = getattr(self.monitor, "close", None)
        if close is not None:
            close()

    # ------------------------------------------------------------------ polling
    def _poll(self) -> None:
        self._timer = None
        self._polling = True
        self._poll_worker()

    @work(thread=True, exclusive=True, group="ensemble-poll", exit_on_error=False)
    def _poll_worker(self) -> None:
        worker = get_current_worker()
        if self._discover:
            self._discover = False
            targets = discover_targets(self._seeds, timeout=1.0, config_text=self._config_znode())
            if targets and hasattr(self.monitor, "set_targets"):
                self.monitor.set_targets(targets)
        update = self.monitor.poll()
        if not worker.is_cancelled:
            self.post_message(self.Polled(update, getattr(self.monitor, "targets", self._targets)))

    def _config_znode(self) -> str | None:
        """``/zookeeper/config`` through the user session, when there is one (it lists every member)."""
        client = getattr(self.workbench, "client", None) if self.workbench else None
        if client is None or not getattr(client, "connected", False):
            return None
        try:
            data, _ = client.get("/zookeeper/config")
        except Exception as exc:  # noqa: BLE001 - any failure just means "use conf instead"
            log.info("reading /zookeeper/config failed: %s", explain(exc, "/zookeeper/config"))
            return None
        return data.decode("utf-8", "replace") if data else None

    def _arm(self) -> None:
        if self._timer is None and self.is_attached and self.interval:
            self._timer = self.set_timer(self.interval, self._poll, name="ensemble-poll")

    def _next_poll(self) -> None:
        self._polling = False
        if self._poll_again:
            self._poll_again = False
            self._poll()
        else:
            self._arm()

    @on(Polled)
    def _on_polled(self, message: Polled) -> None:
        self._polls += 1
        if [t.address for t in message.targets] != [t.address for t in self._targets]:
            self._rebuild_cards(message.targets)
        self.show_update(message.update)
        self._next_poll()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "ensemble-poll" and event.state is WorkerState.ERROR:
            error = event.worker.error
            log.error("ensemble poll failed", exc_info=error)
            self._timeline([f"poll failed: {explain(error) if error else 'unknown error'}"])
            self._next_poll()

    def action_poll_now(self) -> None:
        """Poll at once; if a poll is in flight, right after it. Cancelling it would drop its update, and with it
        the events the monitor already recorded (a member going DOWN would never reach the timeline)."""
        if self._polling:
            self._poll_again = True
            return
        if self._timer is not None:
            self._timer.stop()
        self._poll()

    def _rebuild_cards(self, targets: Sequence[ServerTarget]) -> None:
        self._targets = list(targets)
        grid = self.query_one("#cards", Grid)
        grid.remove_children()
        grid.mount_all([ServerCard(t, id=f"card-{i}-{self._polls}") for i, t in enumerate(self._targets)])
        self._fit_grid()
        self._selected = min(self._selected, len(self._targets) - 1)

    # ------------------------------------------------------------------ rendering
    def show_update(self, update: EnsembleUpdate) -> None:
        """Render one poll: cards, summary line, new timeline lines, the clients table."""
        snap = update.snapshot
        cards = {card.target.address: card for card in self.query(ServerCard)}
        for health in snap.servers:
            card = cards.get(health.target.address)
            if card is not None:
                card.show(health, snap, update.history.get(health.target.address))
        leader = snap.leader
        up = sum(h.up for h in snap.servers)
        summary = Text(no_wrap=True, overflow="ellipsis")
        summary.append(f"{up}/{len(snap.servers)} servers answering", style="bold" if up == len(snap.servers)
                       else "bold red")
        summary.append("  ·  leader: ")
        summary.append(leader.label if leader else "none", style="bold green" if leader else "bold red")
        if leader and leader.zxid:
            summary.append(f" (epoch {leader.zxid.epoch})")
        if self.ensemble is not None:
            summary.append("  ·  k kill, r restart (selected)", style="dim")
        self.query_one("#ensemble-summary", Static).update(summary)
        lines = [event.line() for event in update.events]
        for health in snap.servers:
            for note in health.notes:
                if (health.target.address, note) not in self._notes_seen:
                    self._notes_seen.add((health.target.address, note))
                    lines.append(EnsembleEvent(EventKind.MODE, f"{health.label}: {note}", snap.taken_at,
                                               health.target.address).line())
        self._timeline(lines)
        if any(h.clients is not None for h in snap.servers):
            self._fill_clients(update)

    def _timeline(self, lines: Sequence[str]) -> None:
        """Append lines (plain text, never markup) to the timeline; long lines wrap instead of being cut."""
        log_widget = self.query_one("#timeline", RichLog)
        width = log_widget.scrollable_content_region.width or None  # None: not laid out yet, RichLog defers
        for line in lines:
            self.timeline_lines.append(line)
            log_widget.write(Text(line), width=width)
        del self.timeline_lines[:-1000]
        self._timeline_width = width

    def _rewrap_timeline(self) -> None:
        """Wrap the timeline again at its current width (after a resize), keeping the scroll at the end."""
        log_widget = self.query_one("#timeline", RichLog)
        width = log_widget.scrollable_content_region.width
        if not width or width == self._timeline_width:
            return
        log_widget.clear()
        for line in self.timeline_lines:
            log_widget.write(Text(line), width=width)
        self._timeline_width = width

    def _fill_clients(self, update: EnsembleUpdate) -> None:
        table = self.query_one("#clients-table", DataTable)
        rows: dict[str, tuple[Any, ...]] = {}
        owners: dict[str, tuple[ServerTarget, int]] = {}
        for health in update.snapshot.servers:
            for c in health.clients or ():
                key = f"{health.target.address}|{c.address}|{c.session_hex}"
                lat = (f"{c.latency_min}/{c.latency_avg:g}/{c.latency_max}" if c.latency_min is not None
                       and c.latency_avg is not None else "-")
                rows[key] = (Text(health.label), Text(c.address), Text(c.session_hex), f"{c.received}/{c.sent}",
                             str(c.queued), Text(c.last_operation or "-"), lat)
                if c.session_id is not None:
                    owners[key] = (health.target, c.session_id)
        with self.app.batch_update():
            existing = {str(k.value) for k in table.rows}
            for key in existing - rows.keys():
                table.remove_row(key)
            columns = list(table.columns)
            for key, cells in rows.items():
                if key in existing:
                    for col, value in zip(columns, cells):
                        table.update_cell(key, col, value)
                else:
                    table.add_row(*cells, key=key)
        self._client_rows = owners

    # ------------------------------------------------------------------ clients & ephemerals
    @on(TabbedContent.TabActivated)
    def _tab_changed(self, event: TabbedContent.TabActivated) -> None:
        wants = event.pane.id == "clients-tab"
        if hasattr(self.monitor, "clients"):
            self.monitor.clients = wants
        if wants:
            self.action_poll_now()

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        if tab == "clients-tab":
            self.query_one("#clients-table", DataTable).focus()

    @on(DataTable.RowSelected, "#clients-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        self._lookup_ephemerals(str(event.row_key.value))

    def action_show_ephemerals(self) -> None:
        table = self.query_one("#clients-table", DataTable)
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
            self._lookup_ephemerals(str(key.value))

    def _lookup_ephemerals(self, key: str) -> None:
        owner = self._client_rows.get(key)
        if owner is None:
            return
        target, session_id = owner
        self.query_one("#ephemerals", Static).update(Text(f"looking up ephemerals of 0x{session_id:x}…"))
        self._ephemerals_worker(target, session_id)

    @work(thread=True, exclusive=True, group="ensemble-ephemerals", exit_on_error=False)
    def _ephemerals_worker(self, target: ServerTarget, session_id: int) -> None:
        worker = get_current_worker()
        others = [t for t in self._targets if t != target]
        client = getattr(self.workbench, "client", None) if self.workbench else None
        try:
            source, paths = ephemerals_of_session(session_id, [target, *others], client=client)
        except (LookupError, OSError) as exc:
            text = Text(f"session 0x{session_id:x}: {exc}", style="red")
        else:
            text = Text()
            text.append(f"session 0x{session_id:x} owns {len(paths)} ephemeral znode(s)", style="bold")
            text.append(f"  (from {source})\n", style="dim")
            text.append("\n".join(paths) if paths else "none")
        if not worker.is_cancelled:
            self.app.call_from_thread(self.query_one("#ephemerals", Static).update, text)

    # ------------------------------------------------------------------ selection, kill, restart
    def on_descendant_focus(self, event: Any) -> None:
        widget = getattr(event, "widget", None)
        if isinstance(widget, ServerCard):
            cards = list(self.query(ServerCard))
            self._selected = cards.index(widget)

    def action_select_card(self, step: int) -> None:
        cards = list(self.query(ServerCard))
        if cards:
            self._selected = (self._selected + step) % len(cards)
            cards[self._selected].focus()

    def selected_target(self) -> ServerTarget | None:
        cards = list(self.query(ServerCard))
        if not cards:
            return None
        return cards[min(self._selected, len(cards) - 1)].target

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("kill_member", "restart_member"):
            return True if self.ensemble is not None else None  # None: shown disabled
        return True

    def action_kill_member(self) -> None:
        member = self._selected_member()
        if member is None:
            return
        self._timeline([EnsembleEvent(EventKind.ACTION, f"you killed {member.label} (SIGKILL): watch the others "
                                      "elect a leader", _now(), member.address).line()])
        self._member_worker("kill", member.myid)

    def action_restart_member(self) -> None:
        member = self._selected_member()
        if member is None:
            return
        self._timeline([EnsembleEvent(EventKind.ACTION, f"restarting {member.label}…", _now(),
                                      member.address).line()])
        self._member_worker("restart", member.myid)

    def _selected_member(self) -> ServerTarget | None:
        if self.ensemble is None:
            self.notify("kill/restart works on a local ensemble started by zkbench", severity="warning",
                        markup=False)
            return None
        target = self.selected_target()
        if target is None or target.myid is None:
            return None
        return target

    @work(thread=True, exclusive=False, group="ensemble-member", exit_on_error=False)
    def _member_worker(self, what: str, myid: int) -> None:
        assert self.ensemble is not None
        try:
            if what == "kill":
                self.ensemble.kill(myid)
                message = f"server {myid} killed"
            else:
                self.ensemble.restart(myid, timeout=60)
                message = f"server {myid} restarted and serving"
        except Exception as exc:  # noqa: BLE001 - shown to the user as one line, and logged
            log.warning("%s of server %s failed", what, myid, exc_info=exc)
            self.app.call_from_thread(self.notify, f"{what} server {myid}: {explain(exc)}", severity="error",
                                      markup=False)
            return
        self.app.call_from_thread(self.notify, message, markup=False)
        self.app.call_from_thread(self.action_poll_now)

    def action_back(self) -> None:
        self.app.pop_screen()


def _now() -> float:
    import time

    return time.time()
