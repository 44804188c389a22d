"""
harness: start the real storyd binary and talk HTTP to it.

Storyd runs one daemon in its own temporary directory. It listens on the
daemon's NOTIFY_SOCKET (a Unix datagram socket, as systemd does), starts it
with --listen 127.0.0.1:0 and learns the port from the STATUS= message, so
there are no sleeps and no guessed free ports. restart() keeps the data
directory, so persistence tests are a stop() and a start() away.

ExternalStoryd stands for a daemon someone else runs (STORYD_TEST_ADDR, e.g.
one under gdb); it has an address and nothing else.

Client is a thin http.client wrapper: one connection per request, every
reply read whole into a Reply.
"""

import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 10.0

# What the sanitizers print when they find something; any of these in
# stderr fails the test that ran the daemon.
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "ERROR: UndefinedBehaviorSanitizer",
    "WARNING: ThreadSanitizer",
    "WARNING: MemorySanitizer",
    "runtime error:",
)


class StartError(Exception):
    pass


class Reply:
    """One HTTP reply, read whole."""

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers          # http.client.HTTPMessage
        self.body = body                # bytes
        self._json = None

    def header(self, name, default=None):
        return self.headers.get(name, default)

    @property
    def media_type(self):
        ct = self.headers.get("Content-Type")
        if ct is None:
            return None
        return ct.split(";", 1)[0].strip().lower()

    @property
    def json(self):
        if self._json is None:
            self._json = json.loads(self.body.decode("utf-8"))
        return self._json

    def __repr__(self):
        body = self.body[:300]
        return f"<Reply {self.status} {self.reason} {self.headers.get('Content-Type')} {body!r}>"


class Client:
    """HTTP to one daemon; one connection per request, so no state leaks between calls."""

    def __init__(self, host, port, timeout=HTTP_TIMEOUT):
        self.host = host
        self.port = port
        self.timeout = timeout

    def request(self, method, path, body=None, headers=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return Reply(resp.status, resp.reason, resp.headers, data)
        finally:
            conn.close()

    def send_json(self, method, path, obj, content_type="application/json"):
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        return self.request(method, path, body, {"Content-Type": content_type})

    def get(self, path, headers=None):
        return self.request("GET", path, headers=headers)

    def post(self, path, obj):
        return self.send_json("POST", path, obj)

    def put(self, path, obj):
        return self.send_json("PUT", path, obj)

    def delete(self, path):
        return self.request("DELETE", path)

    def connect(self):
        """A raw TCP socket to the daemon, for half requests and garbage."""
        return socket.create_connection((self.host, self.port), timeout=self.timeout)


def article_path(article_id):
    return "/v1/articles/" + urllib.parse.quote(article_id, safe="")


def cluster_path(cluster_id):
    return "/v1/clusters/" + urllib.parse.quote(cluster_id, safe="")


class ExternalStoryd:
    """A daemon started by someone else (STORYD_TEST_ADDR=host:port)."""

    external = True

    def __init__(self, addr):
        host, _, port = addr.rpartition(":")
        self.host = host.strip("[]") or "127.0.0.1"
        self.port = int(port)

    def client(self):
        return Client(self.host, self.port)

    def stderr_text(self):
        return ""

    def sanitizer_reports(self):
        return []

    def cleanup(self):
        pass


class Storyd:
    """One storyd process in its own temporary directory."""

    external = False

    def __init__(self, binary, config=None, args=(), name="storyd", nofile=None,
                 address_space=None, wrapper=()):
        self.binary = binary
        self.args = list(args)
        self.wrapper = list(wrapper)    # a command storyd runs under (valgrind ...)
        self.nofile = nofile            # RLIMIT_NOFILE for the daemon, to test running out
        self.address_space = address_space     # RLIMIT_AS, bytes: to test running out of memory
        self.dir = tempfile.mkdtemp(prefix=f"storyd-e2e-{name[:40]}-")
        self.data_dir = os.path.join(self.dir, "data")
        os.mkdir(self.data_dir)
        self.notify_path = os.path.join(self.dir, "notify.sock")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.stdout_path = os.path.join(self.dir, "stdout.log")
        self.config_path = None
        if config is not None:
            self.config_path = os.path.join(self.dir, "storyd.conf")
            with open(self.config_path, "w") as f:
                f.write(config)
        self.proc = None
        self.notify_sock = None
        self.notify_messages = []       # every KEY=VALUE line received, in order
        self.host = "127.0.0.1"
        self.port = None
        self.returncode = None
        self._reports_taken = 0

    # -- lifecycle --------------------------------------------------------

    def command(self):
        cmd = self.wrapper + [self.binary, "--listen", "127.0.0.1:0", "--data-dir", self.data_dir]
        if self.config_path:
            cmd += ["--config", self.config_path]
        return cmd + self.args

    def start(self, timeout=START_TIMEOUT, ready=True):
        """Start and wait for READY=1 and the listening port; StartError otherwise.
        ready=False: wait for the port only (STATUS=recovering ...; listening on)."""
        assert self.proc is None, "already running"
        if os.path.exists(self.notify_path):
            os.unlink(self.notify_path)
        self.notify_sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify_sock.bind(self.notify_path)
        self.notify_messages = []
        self.port = None
        self.returncode = None
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path)
        with open(self.stderr_path, "ab") as err, open(self.stdout_path, "ab") as out:
            err.write(f"--- start: {' '.join(self.command())}\n".encode())
            err.flush()
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, env=env,
                                         preexec_fn=self._limit if self.nofile or
                                         self.address_space else None)
        try:
            self._wait_ready(timeout, ready)
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_ready(self, timeout, need_ready=True):
        deadline = time.monotonic() + timeout
        ready = False
        while not ((ready or not need_ready) and self.port):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StartError(f"no READY=1 and STATUS=listening within {timeout} s; "
                                 f"got {self.notify_messages}\n{self.stderr_text()}")
            # Bounded waits on the socket, checking between them that the
            # process is still alive, so a crash at start fails fast.
            self.notify_sock.settimeout(min(0.2, remaining))
            try:
                data = self.notify_sock.recv(65536)
            except socket.timeout:
                if self.proc.poll() is not None:
                    raise StartError(f"storyd exited with {self.proc.returncode} before READY=1\n"
                                     f"{self.stderr_text()}")
                continue
            for line in data.decode("utf-8", "replace").split("\n"):
                if not line:
                    continue
                self.notify_messages.append(line)
                if line == "READY=1":
                    ready = True
                m = re.match(r"STATUS=(?:.*; )?listening on (?:127\.0\.0\.1|\[[0-9a-fA-F:.]+\]):(\d+)",
                             line)
                if m:
                    self.port = int(m.group(1))

    def _limit(self):
        if self.nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))
        if self.address_space:
            resource.setrlimit(resource.RLIMIT_AS, (self.address_space, self.address_space))

    def cpu_seconds(self):
        """User plus system CPU time the running daemon has used (Linux /proc)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def wait_notify(self, key_value, timeout=STOP_TIMEOUT):
        """Wait for one more notify line equal to key_value (e.g. STOPPING=1)."""
        if key_value in self.notify_messages:
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.notify_sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.notify_sock.recv(65536)
            except socket.timeout:
                break
            lines = [l for l in data.decode("utf-8", "replace").split("\n") if l]
            self.notify_messages += lines
            if key_value in lines:
                return True
        return False

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait_log(self, text, timeout=STOP_TIMEOUT):
        """Poll stderr until it holds text; AssertionError after timeout seconds."""
        deadline = time.monotonic() + timeout
        while text not in self.stderr_text():
            assert time.monotonic() < deadline, f"no {text!r} in stderr:\n{self.stderr_text()}"
            time.sleep(0.02)

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM and wait; the exit status. SIGKILL if it does not exit in time."""
        if self.proc is None:
            return self.returncode
        self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def wait(self, timeout=STOP_TIMEOUT):
        """Wait for an exit already under way (after signal()); the exit status."""
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.returncode = "timeout"
        self._closed()
        return self.returncode

    def kill(self):
        """SIGKILL and wait (a crash, as far as the daemon can tell)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.kill()
        self.returncode = self.proc.wait()
        self._closed()
        return self.returncode

    def restart(self):
        """SIGTERM, then start again on the same data directory and config."""
        self.stop()
        return self.start()

    def _closed(self):
        self.proc = None
        if self.notify_sock is not None:
            self.notify_sock.close()
            self.notify_sock = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def cleanup(self):
        if self.proc is not None:
            self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- talking to it ----------------------------------------------------

    def client(self):
        assert self.port, "not started"
        return Client(self.host, self.port)

    def stderr_text(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def sanitizer_reports(self):
        """Sanitizer lines in stderr not yet taken by take_sanitizer_reports()."""
        text = self.stderr_text()[self._reports_taken:]
        return [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKERS)]

    def take_sanitizer_reports(self):
        """The reports, which a test now owns: teardown will not report them again."""
        reports = self.sanitizer_reports()
        self._reports_taken = len(self.stderr_text())
        return reports


def run_cli(binary, *args, timeout=10):
    """Run storyd for its command line only (--help, -n); a CompletedProcess with text."""
    return subprocess.run([binary, *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, errors="replace", timeout=timeout,
                          env={k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"})
