"""The in-cluster configuration is read without importing the official client (issue 15:
the import was most of the time before the first list), exactly as the client's
InClusterConfigLoader reads it; anything it would refuse is left to it."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from fakeapi import FakeApiServer, tls_available
from kubernetes.client import Configuration
from kubernetes.config.incluster_config import InClusterConfigLoader

from svcdns.sources.kube import ApiConnection, RawApi, in_cluster

CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def service_account(folder: Path, *, token: str = "abc.def", ca: bytes = CA) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "token").write_text(token)
    (folder / "ca.crt").write_bytes(ca)
    return folder


def the_clients(environ: dict[str, str], folder: Path) -> ApiConnection:
    configuration = Configuration()
    InClusterConfigLoader(
        token_filename=str(folder / "token"), cert_filename=str(folder / "ca.crt"), environ=environ
    ).load_and_set(configuration)
    return ApiConnection(
        host=configuration.host,
        ca_pem=Path(configuration.ssl_ca_cert).read_bytes(),
        token=configuration.get_api_key_with_prefix("BearerToken"),
        token_file=str(folder / "token"),
    )


@pytest.mark.parametrize(
    ("host", "token"),
    [
        pytest.param("10.96.0.1", "abc.def", id="ipv4"),
        pytest.param("fd00:10:96::1", "abc.def", id="ipv6-in-brackets"),
        pytest.param("kubernetes.default.svc", "line\r\nend\n", id="name-newlines-as-read"),
    ],
)
def test_read_as_the_client_reads_it(tmp_path: Path, host: str, token: str) -> None:
    folder = service_account(tmp_path / "sa", token=token)
    environ = {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": "443"}
    assert in_cluster(environ, folder) == the_clients(environ, folder)


@pytest.mark.parametrize(
    ("environ", "token", "ca"),
    [
        pytest.param({"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, "t", CA, id="no-port"),
        pytest.param(
            {"KUBERNETES_SERVICE_HOST": "", "KUBERNETES_SERVICE_PORT": "443"}, "t", CA, id="empty"
        ),
        pytest.param(
            {"KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "443"}, "", CA, id="token"
        ),
        pytest.param(
            {"KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "443"}, "t", b"", id="ca"
        ),
    ],
)
def test_what_the_client_refuses_is_left_to_it(
    tmp_path: Path, environ: dict[str, str], token: str, ca: bytes
) -> None:
    folder = service_account(tmp_path / "sa", token=token, ca=ca)
    assert in_cluster(environ, folder) is None
    with pytest.raises(Exception, match=r"(?i)empty|not set"):
        the_clients(environ, folder)
    assert in_cluster(environ, tmp_path / "none") is None  # no service account at all


@pytest.mark.skipif(not tls_available(), reason="no openssl to make a certificate")
def test_the_in_cluster_settings_reach_the_api(tmp_path: Path) -> None:
    with FakeApiServer(tls=True) as fake:
        kubeconfig = json.loads(fake.write_kubeconfig(tmp_path / "kubeconfig").read_text())
        ca = base64.b64decode(kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"])
        folder = service_account(tmp_path / "sa", token=fake.token, ca=ca)
        port = fake.url.rsplit(":", 1)[1]
        environ = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port}
        connection = in_cluster(environ, folder)
        assert connection is not None
        assert RawApi(connection).get_json("/api/v1/namespaces", {})["kind"] == "NamespaceList"
