"""A live, lazy tree of znodes drawn from a TreeModel (zkbench.mirror's protocol).

Only expanded znodes get TreeNodes; a znode shows at most ``chunk`` children at a time with a "… N more" leaf that
loads the next chunk. Changes arrive as event batches (:meth:`ZnodeTree.note_events`); they mark parents dirty and
set badges, and :meth:`flush` (run at most a few times a second) reconciles only the dirty, expanded parents with
the model. Badges fade after ``badge_seconds`` through one timer; a deleted znode stays greyed until its badge fades.
Labels are always ``rich.text.Text`` (a znode named ``a[b]`` is not markup).

Reuse it scoped to a subtree: ``ZnodeTree(model, root="/locks")``.
"""

from __future__ import annotations

import bisect
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import work
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode
from textual.worker import get_current_worker

__all__ = ["ZnodeTree", "MoreLeaf", "znode_kind", "join_path", "parent_path", "CONTAINER_OWNER", "is_ttl_owner"]

log = logging.getLogger(__name__)

CONTAINER_OWNER = 0x8000000000000000
_U64 = 0xFFFFFFFFFFFFFFFF
_SEQUENCE = re.compile(r"\d{10}$")


def join_path(parent: str, name: str) -> str:
    return f"/{name}" if parent == "/" else f"{parent}/{name}"


def parent_path(path: str) -> str:
    head = path.rsplit("/", 1)[0]
    return head or "/"


def is_ttl_owner(owner: int) -> bool:
    """ZooKeeper's EphemeralType.TTL: high byte 0xFF, extended-type bytes 0x0000, the TTL in the low 40 bits."""
    owner &= _U64
    return owner >> 56 == 0xFF and (owner >> 40) & 0xFFFF == 0


def znode_kind(owner: int, created_mode: str | None = None) -> str:
    """``persistent`` / ``ephemeral`` / ``container`` / ``ttl`` from a stat's ephemeralOwner.

    ZooKeeper 3.8 reports 0 for containers and TTL znodes (DataNode.copyStat hides its internal markers), so
    those are only recognised when the server does expose the marker or zkbench created the znode itself.
    """
    owner &= _U64
    if owner == CONTAINER_OWNER:
        return "container"
    if is_ttl_owner(owner):
        return "ttl"
    if owner:
        return "ephemeral"
    if created_mode in ("container", "ttl"):
        return created_mode
    return "persistent"


@dataclass(frozen=True, slots=True)
class MoreLeaf:
    """Tree data of the "… N more" leaf under ``parent``."""

    parent: str


_BADGE_TEXT = {"created": "created", "deleted": "deleted", "data": "DATA CHANGED", "children": "CHILDREN CHANGED"}


class ZnodeTree(Tree[Any]):
    """The namespace under ``root`` as a lazily expanded, live-updating tree."""

    COMPONENT_CLASSES = {
        "znode-tree--marker", "znode-tree--own", "znode-tree--count", "znode-tree--more",
        "znode-tree--badge-created", "znode-tree--badge-deleted", "znode-tree--badge-data",
        "znode-tree--badge-children", "znode-tree--ghost", "znode-tree--match",
    }
    DEFAULT_CSS = """
    ZnodeTree { scrollbar-size-vertical: 1; }
    ZnodeTree > .znode-tree--marker { color: $secondary; }
    ZnodeTree > .znode-tree--own { color: $warning; text-style: bold; }
    ZnodeTree > .znode-tree--count { color: $text-muted; }
    ZnodeTree > .znode-tree--more { color: $text-muted; text-style: italic; }
    ZnodeTree > .znode-tree--badge-created { color: $success; text-style: bold; }
    ZnodeTree > .znode-tree--badge-deleted { color: $error; text-style: bold; }
    ZnodeTree > .znode-tree--badge-data { color: $warning; text-style: bold; }
    ZnodeTree > .znode-tree--badge-children { color: $accent; text-style: bold; }
    ZnodeTree > .znode-tree--ghost { color: $text-disabled; text-style: strike; }
    ZnodeTree > .znode-tree--match { text-style: bold underline; }
    """

    class FilterApplied(Message):
        """A substring filter finished: how many znodes matched, and whether the match list was capped."""

        def __init__(self, text: str, matches: int, capped: bool) -> None:
            super().__init__()
            self.text, self.matches, self.capped = text, matches, capped

    class FilterDone(Message):
        def __init__(self, text: str, paths: list[str], capped: bool) -> None:
            super().__init__()
            self.text, self.paths, self.capped = text, paths, capped

    def __init__(self, model: Any = None, *, root: str = "/", chunk: int = 500, badge_seconds: float = 4.0,
                 own_session: Callable[[], int] | None = None, clock: Callable[[], float] = time.monotonic,
                 filter_cap: int = 500, name: str | None = None, id: str | None = None,  # noqa: A002
                 classes: str | None = None) -> None:
        super().__init__(root, data=root, name=name, id=id, classes=classes)
        self.model = model
        self.root_path = root
        self.chunk = chunk
        self.badge_seconds = badge_seconds
        self.own_session = own_session or (lambda: 0)
        self.clock = clock
        self.filter_cap = filter_cap
        self.created_modes: dict[str, str] = {}  # path -> "container"/"ttl" for znodes made through zkbench
        self.filter_text = ""
        self._index: dict[str, TreeNode[Any]] = {}
        self._loaded: set[str] = set()  # parents whose children are materialised
        self._limit: dict[str, int] = {}
        self._more: dict[str, TreeNode[Any]] = {}
        self._badges: dict[str, tuple[str, float]] = {}
        self._ghosts: set[str] = set()
        self._dirty: set[str] = set()
        self._relabel: set[str] = set()
        self._full_resync = False
        self._filter_paths: set[str] = set()
        self.guide_depth = 3

    # ------------------------------------------------------------------ setup
    def on_mount(self) -> None:
        self.set_interval(0.5, self._fade_badges, name="znode-tree-badges")
        self.reset_model(self.model)

    def reset_model(self, model: Any) -> None:
        """Show ``model`` (or nothing yet); keeps the cursor path when it still exists."""
        self.model = model
        self.clear()
        self._index = {self.root_path: self.root}
        self.root.data = self.root_path
        self._loaded.clear()
        self._more.clear()
        self._ghosts.clear()
        self._dirty.clear()
        self.root.set_label(self._label(self.root_path))
        if model is None or self.root_path not in model:
            self.root.allow_expand = False
            return
        self.root.allow_expand = True
        self._load_children(self.root_path)
        self.root.expand()

    # ------------------------------------------------------------------ model access
    def _info(self, path: str) -> Any:
        model = self.model
        if model is None:
            return None
        try:
            return model.get(path)
        except KeyError:
            return None

    def _children(self, path: str) -> tuple[str, ...]:
        model = self.model
        if model is None:
            return ()
        try:
            return tuple(model.children(path))
        except KeyError:
            return ()

    # ------------------------------------------------------------------ labels
    def _label(self, path: str) -> Text:
        name = path if path == self.root_path else path.rsplit("/", 1)[1]
        ghost = path in self._ghosts
        text = Text(name, style=self.get_component_rich_style("znode-tree--ghost") if ghost else "")
        if self.filter_text and self.filter_text.lower() in name.lower() and path in self._filter_paths:
            text.stylize(self.get_component_rich_style("znode-tree--match"))
        info = None if ghost else self._info(path)
        if info is not None:
            stat = info.stat
            marker = self.get_component_rich_style("znode-tree--marker")
            kind = znode_kind(stat.ephemeralOwner, self.created_modes.get(path)) if stat is not None else "persistent"
            if kind == "ephemeral":
                own = (stat.ephemeralOwner & _U64) == self.own_session() and self.own_session() != 0
                text.append(" ephemeral", style=marker)
                if own:
                    text.append(" (this session)", style=self.get_component_rich_style("znode-tree--own"))
            elif kind != "persistent":
                text.append(f" {kind}", style=marker)
            if _SEQUENCE.search(name) and path != self.root_path:
                text.append(" seq", style=marker)
            n = stat.numChildren if stat is not None else len(info.children)
            if n:
                text.append(f" ({n:,})", style=self.get_component_rich_style("znode-tree--count"))
        badge = self._badges.get(path)
        if badge is not None:
            kind_ = badge[0]
            text.append(f"  [{_BADGE_TEXT[kind_]}]", style=self.get_component_rich_style(f"znode-tree--badge-{kind_}"))
        return text

    def _more_label(self, parent: str, hidden: int) -> Text:
        return Text(f"… {hidden:,} more (enter to load {min(hidden, self.chunk):,})",
                    style=self.get_component_rich_style("znode-tree--more"))

    # ------------------------------------------------------------------ lazy loading
    def _has_children(self, path: str) -> bool:
        info = self._info(path)
        if info is None:
            return False
        stat = info.stat
        return bool(stat.numChildren if stat is not None else info.children)

    def _load_children(self, parent: str) -> None:
        """Materialise the first ``limit`` children of an expanded znode (the rest behind "… N more")."""
        node = self._index.get(parent)
        if node is None:
            return
        names = self._children(parent)
        limit = self._limit.setdefault(parent, self.chunk)
        for name in names[:limit]:
            self._add_child(node, parent, name, before=None)
        self._loaded.add(parent)
        self._update_more(parent, len(names))

    def _add_child(self, node: TreeNode[Any], parent: str, name: str, before: int | None) -> TreeNode[Any]:
        path = join_path(parent, name)
        child = node.add(self._label(path), data=path, before=before, allow_expand=self._has_children(path))
        self._index[path] = child
        return child

    def _update_more(self, parent: str, total: int) -> None:
        node = self._index[parent]
        hidden = max(0, total - self._limit.get(parent, self.chunk))
        more = self._more.get(parent)
        if hidden and more is None:
            self._more[parent] = node.add_leaf(self._more_label(parent, hidden), data=MoreLeaf(parent))
        elif hidden and more is not None:
            more.set_label(self._more_label(parent, hidden))
        elif not hidden and more is not None:
            more.remove()
            del self._more[parent]

    def _forget_subtree(self, path: str) -> None:
        prefix = path + "/"
        for p in [p for p in self._index if p.startswith(prefix)]:
            self._index.pop(p, None)
            self._loaded.discard(p)
            self._more.pop(p, None)
            self._ghosts.discard(p)
        self._index.pop(path, None)
        self._loaded.discard(path)
        self._more.pop(path, None)

    def load_more(self, parent: str) -> None:
        """Show the next chunk of ``parent``'s children."""
        if parent not in self._index:
            return
        self._limit[parent] = self._limit.get(parent, self.chunk) + self.chunk
        self._reconcile(parent)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[Any]) -> None:
        path = event.node.data
        if isinstance(path, str) and path not in self._loaded and not self.filter_text:
            self._load_children(path)

    def on_tree_node_selected(self, event: Tree.NodeSelected[Any]) -> None:
        data = event.node.data
        if isinstance(data, MoreLeaf):
            event.stop()
            self.load_more(data.parent)

    # ------------------------------------------------------------------ live updates
    def note_events(self, events: Iterable[Any]) -> None:
        """Record a batch of mirror events (cheap); the tree changes on the next :meth:`flush`."""
        now = self.clock()
        expires = now + self.badge_seconds
        for ev in events:
            kind = type(ev).__name__
            path = getattr(ev, "path", None)
            if kind == "NodeAdded":
                self._badges[path] = ("created", expires)
                self._dirty.add(parent_path(path))
                self._relabel.add(path)
            elif kind == "NodeRemoved":
                self._badges[path] = ("deleted", expires)
                self._dirty.add(parent_path(path))
            elif kind == "DataChanged":
                current = self._badges.get(path)
                if current is None or current[0] not in ("created",):
                    self._badges[path] = ("data", expires)
                self._relabel.add(path)
            elif kind == "ChildrenChanged":
                current = self._badges.get(path)
                if current is None or current[0] not in ("created", "data"):
                    self._badges[path] = ("children", expires)
                self._dirty.add(path)
                self._relabel.add(path)
            elif kind in ("ResyncFinished", "ResyncStarted", "_Resync"):
                self._full_resync = True

    @property
    def pending(self) -> bool:
        return bool(self._dirty or self._relabel or self._full_resync)

    def flush(self) -> None:
        """Apply what :meth:`note_events` recorded: reconcile dirty expanded parents, relabel changed znodes."""
        if self.model is None:
            self._dirty.clear()
            self._relabel.clear()
            return
        if self.root_path not in self._index or (self.root_path in self.model and not self._loaded
                                                 and not self.filter_text):
            self.reset_model(self.model)
        if self.filter_text:
            if self._dirty or self._full_resync:
                self.apply_filter(self.filter_text)
            dirty_labels = self._relabel
        else:
            dirty = self._dirty
            if self._full_resync:
                dirty = dirty | set(self._loaded)
            for parent in sorted(dirty, key=lambda p: p.count("/")):
                if parent in self._loaded:
                    self._reconcile(parent)
                elif parent in self._index:
                    self._relabel.add(parent)
            dirty_labels = self._relabel | dirty
        for path in dirty_labels:
            node = self._index.get(path)
            if node is not None:
                node.set_label(self._label(path))
                if path not in self._loaded and node is not self.root:
                    node.allow_expand = self._has_children(path)
        self._dirty = set()
        self._relabel = set()
        self._full_resync = False

    def _reconcile(self, parent: str) -> None:
        """Make ``parent``'s shown children match the model: add new ones in order, ghost removed ones."""
        node = self._index.get(parent)
        if node is None:
            return
        if self.root_path not in self.model or (parent != self.root_path and parent not in self.model):
            return  # the parent itself is gone: its own parent's reconcile ghosts it
        names = self._children(parent)
        limit = self._limit.setdefault(parent, self.chunk)
        want = names[:limit]
        want_set = set(want)
        existing: list[str] = []
        for child in node.children:
            if isinstance(child.data, str):
                existing.append(child.data.rsplit("/", 1)[1] if child.data != "/" else "/")
        existing_set = set(existing)
        names_set = set(names)
        now = self.clock()
        for name in existing:
            path = join_path(parent, name)
            if name not in want_set and path not in self._ghosts:
                if name in names_set:  # still exists, just pushed past the cap by new siblings
                    self._remove_node(path)
                    continue
                self._ghosts.add(path)
                if path not in self._badges or self._badges[path][0] != "deleted":
                    self._badges[path] = ("deleted", now + self.badge_seconds)
                gnode = self._index.get(path)
                if gnode is not None:
                    if gnode.is_expanded:
                        gnode.collapse()
                    gnode.allow_expand = False
                    gnode.set_label(self._label(path))
            elif name in want_set and path in self._ghosts:  # re-created before its ghost faded
                self._ghosts.discard(path)
                self._index[path].allow_expand = self._has_children(path)
                self._index[path].set_label(self._label(path))
        for name in want:
            if name in existing_set:
                continue
            current = [c.data.rsplit("/", 1)[1] for c in node.children if isinstance(c.data, str)]
            index = bisect.bisect_left(current, name)
            self._add_child(node, parent, name, before=index if index < len(current) else None)
            if self._more.get(parent) is not None and index >= len(current):
                # keep the "more" leaf last
                more = self._more.pop(parent)
                more.remove()
        self._update_more(parent, len(names))
        if node is not self.root:
            node.allow_expand = bool(names) or any(isinstance(c.data, str) for c in node.children)

    def _remove_node(self, path: str) -> None:
        node = self._index.get(path)
        if node is not None and node is not self.root:
            self._forget_subtree(path)
            node.remove()

    def _fade_badges(self) -> None:
        now = self.clock()
        expired = [p for p, (_, until) in self._badges.items() if until <= now]
        for path in expired:
            del self._badges[path]
            if path in self._ghosts:
                self._ghosts.discard(path)
                self._remove_node(path)
            else:
                node = self._index.get(path)
                if node is not None:
                    node.set_label(self._label(path))

    def badge(self, path: str) -> str | None:
        """The live badge on ``path`` (``created``, ``deleted``, ``data``, ``children``) or None."""
        badge = self._badges.get(path)
        return badge[0] if badge else None

    def node_for(self, path: str) -> TreeNode[Any] | None:
        return self._index.get(path)

    def is_ghost(self, path: str) -> bool:
        return path in self._ghosts

    def mark_created(self, path: str, mode: str) -> None:
        """Remember a container/TTL znode made through zkbench (the server's stat does not say)."""
        self.created_modes[path] = mode
        self._relabel.add(path)

    @property
    def selected_path(self) -> str | None:
        node = self.cursor_node
        if node is None or not isinstance(node.data, str):
            return None
        return node.data

    # ------------------------------------------------------------------ find
    def reveal(self, path: str) -> bool:
        """Expand down to ``path``, loading past the chunk cap if needed, and put the cursor on it."""
        if self.model is None or path not in self.model:
            return False
        if not (path == self.root_path or path.startswith(self.root_path.rstrip("/") + "/")):
            return False
        if self.filter_text:
            self.set_filter("")
        rel = path[len(self.root_path):].strip("/")
        current = self.root_path
        node = self.root
        for part in [p for p in rel.split("/") if p]:
            if current not in self._loaded:
                self._load_children(current)
            node.expand()
            child_path = join_path(current, part)
            if child_path not in self._index:
                names = self._children(current)
                try:
                    index = names.index(part)
                except ValueError:
                    return False
                limit = self._limit.get(current, self.chunk)
                if index >= limit:
                    self._limit[current] = (index // self.chunk + 1) * self.chunk
                self._reconcile(current)
            node = self._index[child_path]
            current = child_path
        _ = self.last_line  # rebuilds the line cache, so a node added just now has its line (else the cursor is lost)
        self.move_cursor(node)
        self.call_after_refresh(self.scroll_to_node, node, animate=False)
        return True

    def set_filter(self, text: str) -> None:
        """Show only znodes whose name contains ``text`` (case-insensitive) and their ancestors; "" restores."""
        text = text.strip()
        if text == self.filter_text:
            return
        keep = self.selected_path
        self.filter_text = text
        if not text:
            self._filter_paths = set()
            self.reset_model(self.model)
            if keep and keep != self.root_path:
                self.reveal(keep)
            self.post_message(self.FilterApplied("", 0, False))
            return
        self.apply_filter(text)

    def apply_filter(self, text: str) -> None:
        if self.model is not None:
            self._filter_walk(text)

    @work(thread=True, exclusive=True, group="znode-tree-filter", exit_on_error=False)
    def _filter_walk(self, text: str) -> None:
        """Walk the model (off the UI thread) for names containing ``text``; at most ``filter_cap`` matches."""
        worker = get_current_worker()
        needle = text.lower()
        matches: list[str] = []
        stack = [self.root_path]
        capped = False
        while stack:
            if worker.is_cancelled:
                return
            path = stack.pop()
            for name in reversed(self._children(path)):
                child = join_path(path, name)
                if needle in name.lower():
                    if len(matches) >= self.filter_cap:
                        capped = True
                        stack.clear()
                        break
                    matches.append(child)
                stack.append(child)
        self.post_message(self.FilterDone(text, matches, capped))

    def on_znode_tree_filter_done(self, message: FilterDone) -> None:
        message.stop()
        if message.text != self.filter_text:
            return
        self.clear()
        self._index = {self.root_path: self.root}
        self.root.data = self.root_path
        self._loaded.clear()
        self._more.clear()
        self._ghosts.clear()
        self._filter_paths = set(message.paths)
        for path in sorted(message.paths):
            current = self.root_path
            node = self.root
            rel = path[len(self.root_path):].strip("/")
            for part in rel.split("/"):
                child_path = join_path(current, part)
                child = self._index.get(child_path)
                if child is None:
                    child = node.add(Text(""), data=child_path, expand=True, allow_expand=True)
                    self._index[child_path] = child
                node = child
                current = child_path
        for path, node in self._index.items():
            node.set_label(self._label(path))
            if not node.children and node is not self.root:
                node.allow_expand = False
        self.root.expand()
        self.post_message(self.FilterApplied(message.text, len(message.paths), message.capped))

