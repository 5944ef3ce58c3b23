"""Fixtures for tests against the fake Kubernetes API server (see fake_api/__init__.py).

``fake_cluster`` is function-scoped: every test gets a fresh cluster, and teardown proves that
nothing it started is left running and that no controller raised. It is as permissive as a
developer's own cluster; the fixtures after ``kube`` switch on, one each, the conditions real
clusters impose (ordinary RBAC users, Istio injection, Pod Security, quotas, an unreachable
pod proxy), so a test opts into exactly the strictness it is about.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fake_api import FakeCluster
from kubernetes import client, config


@pytest.fixture
def fake_cluster(tmp_path: Path) -> Iterator[FakeCluster]:
    """A started fake cluster; its kubeconfig's context uses namespace ``default``."""
    cluster = FakeCluster(tmp_path / "cluster")
    try:
        yield cluster
    finally:
        cluster.stop()
    assert cluster.processes() == [], "processes started by the fake kubelet outlived the cluster"
    assert cluster.controller_errors == [], "\n".join(cluster.controller_errors)


@pytest.fixture
def kube(fake_cluster: FakeCluster) -> Iterator[client.ApiClient]:
    """An official-client ApiClient configured from the fake cluster's kubeconfig file."""
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(fake_cluster.kubeconfig), client_configuration=configuration)
    with client.ApiClient(configuration) as api:
        yield api


# -- real-cluster conditions, one fixture each (FakeCluster's hooks say what they do) ----------


@pytest.fixture
def kube_as(fake_cluster: FakeCluster) -> Iterator[Callable[[Path], client.ApiClient]]:
    """Official-client ApiClients for other kubeconfigs (a user's, a service account's)."""
    opened: list[client.ApiClient] = []

    def connect(kubeconfig: Path) -> client.ApiClient:
        configuration = client.Configuration()
        config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
        opened.append(client.ApiClient(configuration))
        return opened[-1]

    yield connect
    for api in opened:
        api.close()


@pytest.fixture
def edit_kubeconfig(fake_cluster: FakeCluster) -> Path:
    """A kubeconfig for user ``alice``, bound to the built-in ``edit`` role in ``default`` only
    (what a Kubeflow profile contributor or a namespace developer has)."""
    return fake_cluster.user_kubeconfig("alice", "edit")


@pytest.fixture
def view_kubeconfig(fake_cluster: FakeCluster) -> Path:
    """A kubeconfig for user ``victor``, bound to the built-in ``view`` role in ``default`` only."""
    return fake_cluster.user_kubeconfig("victor", "view")


@pytest.fixture
def istio(fake_cluster: FakeCluster) -> FakeCluster:
    """Istio's sidecar injector installed, ``default`` labelled ``istio-injection=enabled``."""
    fake_cluster.install_istio()
    return fake_cluster


@pytest.fixture
def restricted_namespace(fake_cluster: FakeCluster) -> str:
    """``default`` enforces Pod Security ``restricted``; returns the namespace."""
    fake_cluster.enforce_pod_security("restricted")
    return fake_cluster.namespace


@pytest.fixture
def one_pod_quota(fake_cluster: FakeCluster) -> FakeCluster:
    """A ResourceQuota ``pods: 1`` in ``default``: a second pod is refused."""
    fake_cluster.limit_pods(1)
    return fake_cluster


@pytest.fixture
def private_control_plane(fake_cluster: FakeCluster) -> FakeCluster:
    """The API server's pod and service proxy time out (GKE private cluster); port-forward works."""
    fake_cluster.block_pod_proxy("timeout", delay=0.5)
    return fake_cluster


@pytest.fixture
def strict_mtls(fake_cluster: FakeCluster) -> FakeCluster:
    """Istio injection plus STRICT mTLS: the proxy's plain HTTP is reset by the sidecar."""
    fake_cluster.install_istio()
    fake_cluster.block_pod_proxy("reset")
    return fake_cluster
