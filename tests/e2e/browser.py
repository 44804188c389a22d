"""
browser: headless Chromium driven over the DevTools protocol, stdlib only.

Chromium starts with --remote-debugging-port=0 and writes the port it took to
DevToolsActivePort in its profile directory, so there is no guessed port.
Page is one tab: goto(), evaluate() JavaScript, wait_for() a condition,
screenshot() to a PNG. The WebSocket client is the least RFC 6455 that CDP
needs: masked text frames out; text, continuation, ping and close frames in.
"""

import base64
import http.client
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium():
    """The browser binary: $STORYD_CHROMIUM, else the first on PATH; None when absent."""
    env = os.environ.get("STORYD_CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class WebSocket:
    def __init__(self, host, port, path, timeout=30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"DevTools refused the WebSocket: {head[:200]!r}")

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 1 << 16:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + masked)

    def send(self, text):
        self._send_frame(0x1, text.encode("utf-8"))

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if b0 & 0x80:
                    return message.decode("utf-8")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Page:
    """One tab, spoken to over CDP."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.console = []           # console messages and exceptions, for failure reports

    def call(self, method, **params):
        self.next_id += 1
        want = self.next_id
        self.ws.send(json.dumps({"id": want, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == want:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._event(msg)

    def _event(self, msg):
        m = msg.get("method")
        if m == "Runtime.consoleAPICalled":
            args = msg["params"].get("args", [])
            self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
        elif m == "Runtime.exceptionThrown":
            self.console.append("exception: " + json.dumps(msg["params"].get("exceptionDetails", {}))[:500])

    def goto(self, url, width=1400, height=900):
        self.call("Runtime.enable")
        self.call("Page.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", url=url)

    def evaluate(self, expression):
        """The value of a JavaScript expression (promises awaited), as JSON would carry it."""
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"JavaScript failed: {r['exceptionDetails']}")
        return r.get("result", {}).get("value")

    def wait_for(self, expression, timeout=20.0, what=None):
        """Evaluate until truthy; its value. Polls every 100 ms: the page works in real time."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.evaluate(expression)
            except RuntimeError as e:     # the page is still loading: no body, no element yet
                last = str(e)[:300]
            else:
                if last:
                    return last
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout} s waiting for {what or expression}; "
                             f"last value {last!r}; console: {self.console[-10:]}")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path


class Chromium:
    """A headless Chromium with a throwaway profile; use as a context manager."""

    def __init__(self, binary, start_timeout=30.0):
        self.binary = binary
        self.profile = tempfile.mkdtemp(prefix="storyd-chromium-")
        self.log_path = os.path.join(self.profile, "chromium.log")
        self.start_timeout = start_timeout
        self.proc = None
        self.port = None
        self.sockets = []

    def __enter__(self):
        args = [self.binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-extensions",
                "--disable-dev-shm-usage", "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
                f"--user-data-dir={self.profile}", "about:blank"]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        deadline = time.monotonic() + self.start_timeout
        while self.port is None:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"chromium wrote no DevToolsActivePort in "
                                   f"{self.start_timeout} s:\n{self.log()}")
            try:
                with open(port_file) as f:
                    first = f.readline().strip()
                if first:
                    self.port = int(first)
            except (FileNotFoundError, ValueError):
                time.sleep(0.05)
        return self

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def page(self):
        """The first tab (about:blank at start)."""
        deadline = time.monotonic() + self.start_timeout
        while True:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                conn.request("GET", "/json/list")
                targets = json.loads(conn.getresponse().read())
            finally:
                conn.close()
            pages = [t for t in targets if t.get("type") == "page" and t.get("webSocketDebuggerUrl")]
            if pages:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"chromium shows no page target: {targets}")
            time.sleep(0.05)
        url = pages[0]["webSocketDebuggerUrl"]
        path = "/" + url.split("/", 3)[3]
        ws = WebSocket("127.0.0.1", self.port, path)
        self.sockets.append(ws)
        return Page(ws)

    def __exit__(self, *exc):
        for ws in self.sockets:
            ws.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)
        return False
