"""The API connection: the official client reads the configuration in a child process, and
the server talks to the API with urllib3 alone (the client is never imported here)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeapi import FakeApiServer

from svcdns.sources import KubeConfigError
from svcdns.sources import kube as kube_module
from svcdns.sources.kube import ApiConnection, RawApi, api_client

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    server = FakeApiServer()
    server.start()
    yield server
    server.stop()


def test_the_server_process_never_imports_the_client(fake: FakeApiServer, tmp_path: Path) -> None:
    kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from svcdns.sources.kube import RawApi, api_client
        api = RawApi(api_client(Path({str(kubeconfig)!r}), None))
        assert api.get_json("/api/v1/namespaces", {{}})["kind"] == "NamespaceList"
        print(sorted(m for m in sys.modules if m.startswith("kubernetes")))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_connection_carries_what_the_kubeconfig_says(fake: FakeApiServer, tmp_path: Path) -> None:
    connection = api_client(fake.write_kubeconfig(tmp_path / "kubeconfig"), None)
    assert connection.host.startswith("http")
    assert connection.token == f"Bearer {fake.token}"
    assert connection.kubeconfig == str(tmp_path / "kubeconfig")


def test_a_broken_kubeconfig_is_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "kubeconfig"
    broken.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n")
    with pytest.raises(KubeConfigError) as raised:
        api_client(broken, None)
    assert str(raised.value).startswith(f"{broken}: ")
    assert "\n" not in str(raised.value)


def test_an_in_cluster_token_file_is_read_again_once_a_minute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    api = RawApi(
        ApiConnection(host="http://127.0.0.1:1", token="Bearer first", token_file=str(token))
    )
    assert api._headers()["Authorization"] == "Bearer first"
    token.write_text("rotated\n")  # the kubelet rotates projected tokens
    assert api._headers()["Authorization"] == "Bearer first"  # not re-read at every request
    now = kube_module.time.monotonic()
    monkeypatch.setattr(kube_module.time, "monotonic", lambda: now + kube_module.TOKEN_REREAD + 1)
    assert api._headers()["Authorization"] == "Bearer rotated"
