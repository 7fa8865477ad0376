"""byline makes no network connections: indexing and a hybrid search, traced with strace, connect
to nothing but local (AF_UNIX) sockets, and ONNX Runtime writes no telemetry files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from index import no_network, onnx_backend

from conftest import SAMPLES

BYLINE = str(Path(sys.executable).with_name("byline"))
# Variables under which ONNX Runtime suppresses telemetry by itself; the test must not rely on them.
CI_VARIABLES = ("CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS", "JENKINS_URL",
                "CODEBUILD_BUILD_ID", "BUILDKITE", "TEAMCITY_VERSION", "APPVEYOR", "BITBUCKET_BUILD_NUMBER",
                "SYSTEM_TEAMFOUNDATIONCOLLECTIONURI", "ORT_RUNNING_UNIT_TESTS")


def strace_works() -> bool:
    if shutil.which("strace") is None:
        return False
    done = subprocess.run(["strace", "-f", "-qq", "-e", "trace=connect", "true"], capture_output=True)
    return done.returncode == 0


def traced(args: list[str], log: Path, env: dict) -> subprocess.CompletedProcess:
    command = ["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(log), BYLINE, *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def network_calls(log: Path) -> list[str]:
    """Traced connect/sendto/sendmsg calls that address anything but a local socket."""
    return [line for line in log.read_text().splitlines() if "AF_INET" in line or "AF_NETLINK" in line]


@pytest.mark.skipif(not strace_works(), reason="strace is not installed or cannot trace here "
                                               "(scripts/setup.sh installs it when run as root)")
def test_index_add_and_hybrid_search_make_no_network_connection(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in CI_VARIABLES and k not in no_network.ENVIRONMENT}
    # A fresh HOME shows any file ONNX Runtime would write; the model export stays where it is.
    env.update(HOME=str(home), BYLINE_CACHE=str(onnx_backend.cache_root()), PYTHONPATH=os.pathsep.join(sys.path))
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in sorted(p.name for p in SAMPLES.glob("*.txt"))[:3]:
        shutil.copy(SAMPLES / name, docs / name)
    index = tmp_path / "ix"
    added = traced(["index", "add", str(docs), "--index", str(index), "-q"], tmp_path / "add.log", env)
    assert added.returncode == 0, added.stderr
    found = traced(["search", "film festival opening", "--index", str(index), "-o", "ids"], tmp_path / "search.log", env)
    assert found.returncode == 0, found.stderr
    for log in ("add.log", "search.log"):
        assert network_calls(tmp_path / log) == [], log
    assert not (home / ".cache" / "Microsoft").exists(), "ONNX Runtime wrote telemetry files"


def test_export_child_gets_the_same_no_network_environment():
    assert onnx_backend._NO_NETWORK == no_network.ENVIRONMENT
