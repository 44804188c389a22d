"""
Fixtures for the storyd end-to-end tests.

  storyd_bin     the binary (STORYD_BIN, else build/storyd next to the sources)
  daemon         one daemon per test module, for read-mostly tests; with
                 STORYD_TEST_ADDR=host:port, the daemon running there instead
  client         a Client for `daemon`
  start_storyd   a factory for daemons of a test's own (fresh state or a
                 config); skipped with STORYD_TEST_ADDR
  fresh_daemon   start_storyd() with the default config
  module_storyd  like start_storyd, for daemons one module's tests share
  uid            uid("x") -> an article id unique to this test and this run

Every daemon a fixture started is stopped at teardown, and a sanitizer report
in its stderr fails the test; when a test fails, the tail of each of its
daemons' stderr is added to the report.
"""

import hashlib
import os
import re
import uuid

import pytest

from harness import ExternalStoryd, Storyd

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
EXTERNAL = os.environ.get("STORYD_TEST_ADDR")
RUN = uuid.uuid4().hex[:8]      # ids differ between runs against one external daemon


def _binary():
    return os.environ.get("STORYD_BIN") or os.path.join(SOURCE_ROOT, "build", "storyd")


@pytest.fixture(scope="session")
def storyd_bin():
    path = _binary()
    if not os.access(path, os.X_OK):
        pytest.skip(f"no storyd binary at {path} (set STORYD_BIN)")
    return path


@pytest.fixture(scope="session")
def source_root():
    return SOURCE_ROOT


# Tests post articles dated anywhere from 2014 to today into one daemon; the
# retention window, measured back from the newest article, would evict the
# older ones. Tests that give a config of their own set what they need.
TEST_CONFIG = "[store]\nretention_hours = 876000\n"


class Daemons:
    """The daemons one fixture started; stopped and checked at teardown."""

    def __init__(self, binary, name):
        self.binary = binary
        self.name = name
        self.all = []

    def __call__(self, config=None, args=(), start=True, **options):
        if config is None:
            config = TEST_CONFIG
        d = Storyd(self.binary, config=config, args=args, name=self.name, **options)
        self.all.append(d)
        if start:
            d.start()
        return d

    def finish(self):
        problems = []
        for d in self.all:
            if d.running():
                d.stop()
            reports = d.sanitizer_reports()
            if reports:
                problems.append(f"sanitizer reports from storyd in {d.dir}:\n" +
                                "\n".join(reports) + "\n--- stderr ---\n" + d.stderr_text()[-20000:])
        for d in self.all:
            d.cleanup()
        if problems:
            pytest.fail("\n\n".join(problems), pytrace=False)


def _safe_name(node_name):
    """A short name for ids and directories; a digest keeps truncated ones apart."""
    digest = hashlib.sha1(node_name.encode()).hexdigest()[:6]
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", node_name)[:50] + "-" + digest


@pytest.fixture(scope="module")
def daemon(request):
    if EXTERNAL:
        yield ExternalStoryd(EXTERNAL)
        return
    binary = _binary()
    if not os.access(binary, os.X_OK):
        pytest.skip(f"no storyd binary at {binary} (set STORYD_BIN)")
    daemons = Daemons(binary, _safe_name(request.module.__name__))
    _remember(request.module, daemons)
    d = daemons()
    yield d
    daemons.finish()


@pytest.fixture(scope="module")
def module_storyd(request):
    """A factory for daemons shared by one module's tests (own config or state)."""
    if EXTERNAL:
        pytest.skip("needs a daemon of its own; STORYD_TEST_ADDR is set")
    binary = _binary()
    if not os.access(binary, os.X_OK):
        pytest.skip(f"no storyd binary at {binary} (set STORYD_BIN)")
    daemons = Daemons(binary, _safe_name(request.module.__name__))
    _remember(request.module, daemons)
    yield daemons
    daemons.finish()


def _remember(module, daemons):
    if not hasattr(module, "_storyd_daemons"):
        module._storyd_daemons = []
    module._storyd_daemons.append(daemons)


@pytest.fixture(scope="module")
def client(daemon):
    return daemon.client()


@pytest.fixture
def start_storyd(request, storyd_bin):
    if EXTERNAL:
        pytest.skip("needs a daemon of its own; STORYD_TEST_ADDR is set")
    daemons = Daemons(storyd_bin, _safe_name(request.node.name))
    yield daemons
    daemons.finish()


@pytest.fixture
def fresh_daemon(start_storyd):
    """A daemon of this test's own, default config, empty data directory."""
    return start_storyd()


@pytest.fixture
def uid(request):
    prefix = f"{_safe_name(request.node.name)}-{RUN}"

    def make(suffix=""):
        return f"{prefix}-{suffix}" if suffix else prefix
    return make


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    seen = []
    for value in list(item.funcargs.values()) + getattr(item.module, "_storyd_daemons", []):
        if isinstance(value, Daemons):
            seen += value.all
        elif isinstance(value, Storyd):
            seen.append(value)
    for d in dict.fromkeys(seen):
        report.sections.append((f"storyd stderr ({d.dir})", d.stderr_text()[-4000:]))
