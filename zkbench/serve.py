"""Browser rooms: ``zkbench serve`` runs one zkbench app process per browser tab through textual-serve.

On top of textual-serve:

- **The page works from any address.** textual-serve writes the address it binds (``--host``) into the page as
  the origin of its scripts and of its websocket. Bound to ``0.0.0.0`` for a room, that sends every learner's
  browser to 0.0.0.0, which is the learner's own machine. zkbench builds those URLs from the address the learner
  typed instead (the request's ``Host``).
- **The page needs no internet.** textual-serve's page links a Google Fonts stylesheet in its ``<head>``. That link
  blocks rendering, so in a room whose firewall drops the request, learners stare at an empty page until their
  browser gives up. zkbench serves the Roboto Mono files that textual-serve ships instead.
- **A tab's app ends with the server.** textual-serve stops a tab's app when the tab closes: it sends a "quit"
  message, and the app exits normally, stopping a demo's actors with SIGTERM, so their ephemeral znodes go at once.
  But if the server itself dies (SIGKILL, a crash), its apps would run on, with their actors, for ever. So each app is
  started with ``exec``, which leaves no shell in between, and asks Linux for SIGTERM when its parent dies
  (:func:`stop_with_server`). The web driver turns that SIGTERM into the same normal exit.
"""

from __future__ import annotations

import contextvars
import ctypes
import os
import re
import shlex
import signal
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["SERVER_PID_ENV", "serve", "stop_with_server", "offline_page"]

#: Set by ``zkbench serve`` for the apps it starts: the server's pid (the parent the app must die with).
SERVER_PID_ENV = "ZKBENCH_SERVE_PID"
_PR_SET_PDEATHSIG = 1

# The origin the browser asked for the page ("http://192.168.1.20:8000"), set while textual-serve renders it.
_page_origin: contextvars.ContextVar[str | None] = contextvars.ContextVar("zkbench_page_origin", default=None)

_GOOGLE_FONTS_LINK = re.compile(r"<link\b[^>]*fonts\.googleapis\.com[^>]*>", re.S)
_LOCAL_FONTS = """<link rel="preload" href="{{ config.static.url }}fonts/RobotoMono-VariableFont_wght.ttf"
          as="font" type="font/ttf" crossorigin />
    <style>
      @font-face { font-family: "Roboto Mono"; font-style: normal; font-weight: 100 700;
        src: url("{{ config.static.url }}fonts/RobotoMono-VariableFont_wght.ttf") format("truetype"); }
      @font-face { font-family: "Roboto Mono"; font-style: italic; font-weight: 100 700;
        src: url("{{ config.static.url }}fonts/RobotoMono-Italic-VariableFont_wght.ttf") format("truetype"); }
    </style>"""


def offline_page(template_source: str) -> str:
    """textual-serve's page template with its Google Fonts ``<link>`` replaced by the fonts it ships."""
    return _GOOGLE_FONTS_LINK.sub(lambda _m: _LOCAL_FONTS, template_source)


def serve(app_argv: Sequence[str], *, host: str, port: int, title: str = "zkbench",
          env: Mapping[str, str] | None = None) -> None:
    """Serve ``app_argv`` (one process per browser tab, with ``env`` added to this process's environment) until
    SIGINT/SIGTERM. Needs textual-serve."""
    import aiohttp_jinja2
    import jinja2
    from textual_serve.server import Server

    class OfflinePageLoader(jinja2.FileSystemLoader):
        def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str | None, Any]:
            source, filename, uptodate = super().get_source(environment, template)
            return offline_page(source), filename, uptodate

    class RoomServer(Server):
        # textual-serve's page builds every URL from self.public_url. In a request, that is the request's origin.
        @property
        def public_url(self) -> str:
            return _page_origin.get() or self._bound_url

        @public_url.setter
        def public_url(self, value: str) -> None:
            self._bound_url = value

        async def handle_index(self, request: Any) -> Any:
            _page_origin.set(f"{request.scheme}://{request.host}")  # this request's task only
            return await super().handle_index(request)

        async def _make_app(self) -> Any:
            app = await super()._make_app()
            aiohttp_jinja2.setup(app, loader=OfflinePageLoader(self.templates_path))
            return app

    # textual-serve gives each app a copy of this process's environment
    os.environ.update({**(env or {}), SERVER_PID_ENV: str(os.getpid())})
    RoomServer("exec " + shlex.join(app_argv), host=host, port=port, title=title).serve()


def stop_with_server() -> None:
    """In an app started by ``zkbench serve``: get SIGTERM when the server dies, or exit now if it already has."""
    server_pid = os.environ.pop(SERVER_PID_ENV, None)  # popped: the app's own children (actors) are not served
    if not server_pid:
        return
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the app still ends when its tab closes
        return
    if str(os.getppid()) != server_pid:  # the server died before prctl took effect
        raise SystemExit(1)
