"""The command line: --help, --version, usage errors, and `storyd -n` config checks."""

import os
import re

import pytest

from e2e_helpers import needs_own_daemon
from harness import StartError, run_cli

pytestmark = needs_own_daemon

VALID_CONFIG = """\
# every key the contract names, with a non-default value where it is harmless
[server]
listen = 127.0.0.1:7979
max_request_bytes = 1048576
max_batch = 100

[store]
data_dir = /var/lib/storyd
fsync = always

[cluster]
max_matches = 3
"""

# Two mistakes, on lines 3 and 6.
INVALID_CONFIG = """\
[server]
listen = 127.0.0.1:7878
no_such_key = 1
max_batch = 10
[store]
fsync = sometimes
"""


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_prints_name_and_version_and_exits_0(storyd_bin, flag):
    r = run_cli(storyd_bin, flag)
    assert r.returncode == 0, r
    assert re.fullmatch(r"storyd \d+\.\d+\.\d+\s*", r.stdout), repr(r.stdout)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_usage_to_stdout_and_exits_0(storyd_bin, flag):
    r = run_cli(storyd_bin, flag)
    assert r.returncode == 0, r
    assert "storyd" in r.stdout, repr(r.stdout)
    for option in ("--config", "--listen", "--data-dir", "--check-config"):
        assert option in r.stdout, f"--help does not mention {option}: {r.stdout!r}"


@pytest.mark.parametrize("args", [["--no-such-option"], ["-Z"], ["--listen"]])
def test_usage_error_exits_2_with_a_message_on_stderr(storyd_bin, args):
    r = run_cli(storyd_bin, *args)
    assert r.returncode == 2, r
    assert r.stderr.strip(), "no message on stderr"


@pytest.mark.parametrize("flag", ["-n", "--check-config"])
def test_check_config_accepts_a_valid_file(storyd_bin, tmp_path, flag):
    path = write(tmp_path, "ok.conf", VALID_CONFIG)
    r = run_cli(storyd_bin, flag, "-c", path)
    assert r.returncode == 0, r


def test_check_config_accepts_the_shipped_example(storyd_bin, source_root):
    path = os.path.join(source_root, "config", "storyd.conf")
    r = run_cli(storyd_bin, "-n", "-c", path)
    assert r.returncode == 0, r


def test_check_config_reports_every_error_with_file_and_line(storyd_bin, tmp_path):
    path = write(tmp_path, "bad.conf", INVALID_CONFIG)
    r = run_cli(storyd_bin, "-n", "--config", path)
    assert r.returncode == 1, r
    out = r.stdout + r.stderr
    assert re.search(re.escape(path) + r":3:.*no_such_key", out), f"line 3 not reported: {out!r}"
    assert re.search(re.escape(path) + r":6:.*fsync", out), f"line 6 not reported: {out!r}"


@pytest.mark.parametrize("section,line", [
    ("server", "max_request_bytes = lots"),
    ("server", "max_batch = -1"),
    ("server", "listen = nowhere"),
    ("store", "fsync = sometimes"),
    ("cluster", "max_matches = 1x"),
])
def test_check_config_rejects_bad_values(storyd_bin, tmp_path, section, line):
    path = write(tmp_path, "bad.conf", f"[{section}]\n{line}\n")
    r = run_cli(storyd_bin, "-n", "-c", path)
    assert r.returncode == 1, r
    key = line.split()[0]
    assert re.search(re.escape(path) + r":2:.*" + key, r.stdout + r.stderr), r


def test_check_config_rejects_a_missing_file(storyd_bin, tmp_path):
    r = run_cli(storyd_bin, "-n", "-c", str(tmp_path / "absent.conf"))
    assert r.returncode != 0, r
    assert r.stderr.strip()


def test_daemon_refuses_to_start_with_a_bad_config(start_storyd):
    d = start_storyd(config=INVALID_CONFIG, start=False)
    with pytest.raises(StartError, match="exited"):
        d.start()
    assert d.returncode not in (None, 0)
