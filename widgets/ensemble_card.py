"""One ZooKeeper server's health as a card: mode (the leader stands out), zxid and lag, latency, load, sparklines.

The card only renders what it is given (:meth:`ServerCard.show`); it never talks to a server. A server that is
down turns the card red; the leader's card gets a bold accent border and a star.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Label, Sparkline, Static

from zkbench.ensemble import EnsembleSnapshot, Mode, ServerHealth, ServerTarget

__all__ = ["ServerCard"]


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


class ServerCard(Widget, can_focus=True):
    """A focusable card for one server; the focused card is the member that kill/restart act on."""

    DEFAULT_CSS = """
    ServerCard {
        height: 11;
        border: round $panel-lighten-2;
        border-title-color: $text;
        border-subtitle-color: $text-muted;
        padding: 0 1;
    }
    ServerCard:focus {
        border: round $primary;
        background: $boost;
        border-title-style: reverse;
    }
    ServerCard.-leader {
        border: heavy $success;
        border-title-color: $success;
        border-title-style: bold;
    }
    ServerCard.-leader:focus {
        border: heavy $primary;
        border-title-style: bold reverse;
    }
    ServerCard.-down {
        border: heavy $error;
        border-title-color: $error;
        background: $error 15%;
    }
    ServerCard.-down:focus {
        background: $error 25%;
    }
    ServerCard.-not-serving {
        border: round $warning;
        border-title-color: $warning;
    }
    ServerCard > .card-body {
        height: 7;
    }
    ServerCard > Horizontal {
        height: 1;
    }
    ServerCard > Horizontal.-extra {
        display: none;
    }
    ServerCard.-tall {
        height: 14;
    }
    ServerCard.-tall > Horizontal.-extra {
        display: block;
    }
    ServerCard > Horizontal > Label {
        width: 6;
        color: $text-muted;
    }
    ServerCard > Horizontal > Sparkline {
        width: 1fr;
    }
    ServerCard.-down Sparkline > .sparkline--max-color {
        color: $error;
    }
    """

    #: History sparklines beyond req/s and latency, for tall terminals: (metric in the history, label).
    EXTRA_SPARKLINES = (("outstanding", "out"), ("connections", "conns"), ("watches", "watch"))

    def __init__(self, target: ServerTarget, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.target = target
        self.health: ServerHealth | None = None
        self.border_title = target.label
        self.border_subtitle = target.address if target.myid is not None else ""

    def compose(self) -> ComposeResult:
        yield Static(Text("waiting for the first poll…", style="dim"), classes="card-body")
        with Horizontal(classes="spark-reqs"):
            yield Label("req/s")
            yield Sparkline([], id="spark-reqs")
        with Horizontal(classes="spark-lat"):
            yield Label("lat")
            yield Sparkline([], id="spark-lat")
        for metric, label in self.EXTRA_SPARKLINES:  # shown when the screen is tall enough (class -tall)
            with Horizontal(classes="-extra"):
                yield Label(label)
                yield Sparkline([], id=f"spark-{metric}")

    def show(self, health: ServerHealth, snapshot: EnsembleSnapshot,
             history: Mapping[str, Sequence[float]] | None = None) -> None:
        """Render ``health`` (one server of ``snapshot``) and its metric histories."""
        self.health = health
        mode = health.mode
        self.set_class(mode is Mode.LEADER, "-leader")
        self.set_class(mode is Mode.DOWN, "-down")
        self.set_class(mode is Mode.NOT_SERVING, "-not-serving")
        title = health.label
        if mode is Mode.LEADER:
            title = f"★ {title} · LEADER"
        elif mode is Mode.DOWN:
            title = f"✖ {title} · DOWN"
        else:
            title = f"{title} · {mode.value}"
        self.border_title = title
        self.query_one(".card-body", Static).update(self._body(health, snapshot))
        if history:
            self.query_one("#spark-reqs", Sparkline).data = list(history.get("requests_per_s", ()))
            self.query_one("#spark-lat", Sparkline).data = list(history.get("latency_avg", ()))
            for metric, _ in self.EXTRA_SPARKLINES:
                self.query_one(f"#spark-{metric}", Sparkline).data = list(history.get(metric, ()))

    def _body(self, h: ServerHealth, snapshot: EnsembleSnapshot) -> Text:
        """Seven short lines; each fits the narrowest card (21 columns at 80x24) and is cut with … beyond that."""
        if h.mode in (Mode.DOWN, Mode.NOT_SERVING):
            text = Text(no_wrap=False, overflow="fold")
            if h.mode is Mode.DOWN:
                text.append("not answering\n", style="bold")
                text.append(h.error or "no reply", style="italic")
            else:
                text.append("up, NOT SERVING\n", style="bold")
                text.append("no quorum: election running, joining, or cut off from a majority", style="italic")
            return text
        text = Text(no_wrap=True, overflow="ellipsis")
        if h.mode is Mode.LEADER:
            text.append("LEADER", style="bold reverse")
            if h.synced_followers is not None:
                text.append(f" {h.synced_followers} synced")
            text.append("\n")
        else:
            lag = snapshot.lag(h)
            text.append(h.mode.value)
            if lag is not None:
                text.append(" · ")
                text.append("in sync" if lag == 0 else f"lag {lag:,} txn", style="" if lag == 0 else "bold")
            elif h.mode is not Mode.STANDALONE and snapshot.leader is not None and h.zxid is not None \
                    and snapshot.leader.zxid is not None:
                text.append(" · ")
                text.append(f"epoch {h.zxid.epoch}<{snapshot.leader.zxid.epoch}", style="bold")
            text.append("\n")
        epoch = f" e{h.zxid.epoch}" if h.zxid else ""
        text.append(f"zxid {h.zxid or '-'}{epoch}\n")
        text.append(f"lat {h.latency_text()} ms\n")
        text.append(f"out {_n(h.outstanding)}  conns {_n(h.connections)}\n")
        text.append(f"znodes {_n(h.znodes)}  eph {_n(h.ephemerals)}\n")
        text.append(f"watches {_n(h.watches)}")
        if h.watched_paths is not None:
            text.append(f" on {_n(h.watched_paths)}")
        text.append("\n")
        ruok = {True: "imok", False: "ruok?!", None: "ruok -"}[h.ruok]
        source = (h.source or "-").replace("AdminServer", "admin").replace(" + ", "+")
        text.append(f"{source} · {ruok}", style="dim")
        return text
