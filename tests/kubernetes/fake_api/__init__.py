"""A fake Kubernetes API server for end-to-end tests of the Kubernetes runner.

It is reached over HTTP on loopback through the official ``kubernetes`` client with a
generated kubeconfig, and behaves like a real API server wherever the runner depends on it.
The modules say in detail what each part does and does not do:

* ``server``: real URL layout, discovery (``/api``, ``/apis``, ``/version``), pod logs
  (``container``, ``tailLines``, ``limitBytes``, ``previous``, ``follow``), the service and pod
  ``proxy`` subresources, ``Status`` bodies for every error, 401 without a valid token;
  ``portforward``: the pod ``portforward`` subresource over WebSocket (``v4.channel.k8s.io``).
* ``store``: create/get/list/replace/patch/delete/deletecollection with uid, resourceVersion,
  generateName, optimistic concurrency, the status subresource, propagation policies
  (batch/v1 Jobs orphan by default, with the real warning header), finalizers, dry run.
* ``selectors``, ``patch``, ``validation``, ``admission``: label/field selectors, merge /
  strategic-merge / JSON patch, the validation errors the runner can hit (names, labels,
  1 MiB ConfigMaps), defaulting (Job selectors and labels, Service ClusterIPs, …).
* ``pod_security``, ``quota``, ``sidecars``: admission a real cluster adds — Pod Security
  ``restricted``/``baseline`` enforcement, ResourceQuota pod counts, Istio sidecar injection
  (the sidecar's process is ``images/istio_proxy.py``).
* ``auth``, ``bootstrap_policy``: ``deny()`` for permission tests; RBAC for every identity but
  the admin (ordinary users, service accounts), with the built-in ``admin``/``edit``/``view``
  ClusterRoles copied from Kubernetes and aggregated.
* ``faults``: throttled or failing list calls, a pod proxy that cannot reach pods.
* ``controllers``: Job (with ``FailedCreate`` events), TTL-after-finished, CronJob (run on
  demand, no clock), garbage collector, namespace and event recording.
* ``kubelet``: containers as real local processes; volumes as directories; path, Service name
  and ``0.0.0.0`` rewriting; logs; graceful deletion; crash hooks and the image-pull cycle.
* ``network``: per-pod loopback IPs, ClusterIPs with a TCP kube-proxy.

Everything strict is off by default (the kubeconfig is cluster-admin, nothing injected or
enforced); ``FakeCluster``'s hooks and the fixtures in ``conftest.py`` switch each condition on.

Not implemented: watch (405), server-side apply (415), Deployments/ReplicaSets/StatefulSets,
nodes, persistent volumes, probes, resource enforcement, LimitRanges, exec/attach, SPDY.
"""

from .cluster import FakeCluster

__all__ = ["FakeCluster"]
