"""A headless Chromium for the tests, driven over the DevTools protocol on a pipe.

Why this way: Chromium's ``--remote-debugging-pipe`` speaks the DevTools protocol (JSON messages ended by a NUL byte)
on file descriptors 3 (commands in) and 4 (replies and events out), so the standard library is the whole client: no
selenium and chromedriver (a second binary whose version must match the browser's), no websocket library, no open
port. The protocol gives what the tests need: load a page, collect console errors and uncaught exceptions, evaluate
JavaScript to move the slider or set the hash and read the DOM, see every network request, take a screenshot.

    with Chromium.launch() as browser:       # BrowserUnavailable (with the reason) when none can be found
        page = browser.open("file:///tmp/replay.html#turn=40")
        page.evaluate("document.body.dataset.turn")
        page.screenshot("shot.png")
        page.console_errors                  # console.error, uncaught exceptions, failed loads
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

#: Executables tried in order after $CHROMIUM.
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
#: Flags for a headless run in a closed network and a container (no sandbox: the tests run as root).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--remote-debugging-pipe",
)


class BrowserUnavailable(RuntimeError):
    """No Chromium could be found; the message says where it looked and how to install one."""


def find_chromium() -> str:
    """The path of a Chromium: $CHROMIUM if set, else the first of :data:`CANDIDATES` on PATH."""
    explicit = os.environ.get("CHROMIUM")
    if explicit:
        if shutil.which(explicit):
            return shutil.which(explicit)
        raise BrowserUnavailable(f"$CHROMIUM={explicit!r} is not an executable")
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    raise BrowserUnavailable(
        f"no Chromium on PATH (looked for {', '.join(CANDIDATES)} and $CHROMIUM); "
        "`bash scripts/setup.sh` installs Debian's chromium where it runs as root with apt-get"
    )


class Chromium:
    """One headless Chromium process and its DevTools pipe. Use :meth:`launch` as a context manager."""

    def __init__(
        self, process: subprocess.Popen, to_browser: int, from_browser: int, profile: str, timeout: float = 30.0
    ) -> None:
        self.process = process
        self.timeout = timeout
        self._out = to_browser
        self._in = from_browser
        self._profile = profile
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    @classmethod
    def launch(cls, width: int = 1400, height: int = 1000, timeout: float = 30.0) -> Chromium:
        executable = find_chromium()
        commands_read, commands_write = os.pipe()  # we write commands; the browser reads them on fd 3
        replies_read, replies_write = os.pipe()  # the browser writes on fd 4; we read

        def on_fds_3_and_4() -> None:  # in the child, before exec
            high_in = fcntl.fcntl(commands_read, fcntl.F_DUPFD, 10)
            high_out = fcntl.fcntl(replies_write, fcntl.F_DUPFD, 10)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        profile = tempfile.mkdtemp(prefix="realism-chromium-")
        argv = [executable, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}", "about:blank"]
        process = subprocess.Popen(
            argv,
            preexec_fn=on_fds_3_and_4,  # fine in the single-threaded test process
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(commands_read)
        os.close(replies_write)
        browser = cls(process, commands_write, replies_read, profile, timeout)
        try:
            browser.call("Browser.getVersion")
        except Exception:
            browser.close()
            raise
        return browser

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """End the browser (politely, then by force) and remove its profile."""
        if self.process.poll() is None:
            try:
                self._send({"id": self._next_id + 1, "method": "Browser.close"})
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(timeout=5)
        for fd in (self._out, self._in):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    # ---- the protocol ----
    def _send(self, message: dict[str, Any]) -> None:
        os.write(self._out, json.dumps(message).encode() + b"\0")

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium closed its DevTools pipe (exit status {self.process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        """Send one command and return its result (events that arrive meanwhile are kept for :meth:`wait_for`)."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        self._send(message)
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def wait_for(self, method: str, session: str | None = None) -> dict[str, Any]:
        """The next event ``method`` (of ``session``), waiting for it if it has not come yet."""
        deadline = time.monotonic() + self.timeout
        while True:
            for k, event in enumerate(self._events):
                if event["method"] == method and (session is None or event.get("sessionId") == session):
                    return self._events.pop(k)["params"]
            reply = self._receive(deadline)
            if "method" in reply:
                self._events.append(reply)

    def drain(self, session: str) -> list[dict[str, Any]]:
        """Every event of ``session`` received so far (and removes them)."""
        mine = [e for e in self._events if e.get("sessionId") == session]
        self._events = [e for e in self._events if e.get("sessionId") != session]
        return mine

    def open(self, url: str) -> Page:
        """A new tab at ``url``, loaded (its load event fired)."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        page = Page(self, session)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        page.navigate(url)
        return page


class Page:
    """One tab: navigate, evaluate JavaScript, screenshot; records console errors and network requests."""

    def __init__(self, browser: Chromium, session: str) -> None:
        self.browser = browser
        self.session = session
        self.console_errors: list[str] = []
        self.requests: list[str] = []

    def _collect(self) -> None:
        for event in self.browser.drain(self.session):
            method, params = event["method"], event["params"]
            if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
                self.console_errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                self.console_errors.append(details.get("exception", {}).get("description") or details["text"])
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                self.console_errors.append(params["entry"]["text"])
            elif method == "Network.requestWillBeSent":
                self.requests.append(params["request"]["url"])

    def navigate(self, url: str) -> None:
        self.browser.call("Page.navigate", {"url": url}, session=self.session)
        self.browser.wait_for("Page.loadEventFired", session=self.session)
        self._collect()

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (JSON-able values come back as Python values)."""
        result = self.browser.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, self.session
        )
        self._collect()
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(details.get("exception", {}).get("description") or details["text"])
        return result["result"].get("value")

    def screenshot(self, path: str | os.PathLike[str]) -> Path:
        """A PNG of the whole page."""
        params = {"format": "png", "captureBeyondViewport": True}
        data = self.browser.call("Page.captureScreenshot", params, self.session)
        target = Path(path)
        target.write_bytes(base64.b64decode(data["data"]))
        return target
