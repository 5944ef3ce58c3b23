"""The manifests `isvcperf render` and `isvcperf k launch --dry` print: valid Kubernetes 1.30 objects
(strict OpenAPI schema validation with kubernetes-validate, offline), Pod Security "restricted",
labelled, bounded in time, and a runner Role with exactly the documented permissions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from isvcperf import spec
from isvcperf.kube import manifests
from isvcperf.payload.bodies import load_payload

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
K8S_VERSION = "1.30.0"
PAYLOAD = ROOT / "examples" / "payloads" / "sklearn-irisv2-input.json"
RUNNER_RULES = [  # README, "Kubernetes permissions": what `isvcperf k job-run` calls, nothing more
    {"apiGroups": ["serving.kserve.io"], "resources": ["inferenceservices"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["isvcperf-nightly-result"],
     "verbs": ["get", "update"]},
]


def isvcperf(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "isvcperf", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)


def rendered(example: Path, *overrides: str) -> list[dict[str, Any]]:
    sets = [arg for o in ("runner=kubernetes", *overrides) for arg in ("--set", o)]
    proc = isvcperf("render", str(example), "-n", "perf", "--name", "r1", *sets)
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def launched(*flags: str, options: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """`k launch --dry` with these --set flags and command-line `options`."""
    sets = [arg for f in flags for arg in ("--set", f)]
    proc = isvcperf("k", "launch", "--dry", "-g", "nightly", "-n", "perf", "--set", "ready.isvc=sklearn-irisv2",
                    "--set", f"http.payloadFile={PAYLOAD}", "--set", "assess.SLOs.upper.http/latency-p90=500", *sets,
                    *options)
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def pod_specs(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for obj in objects:
        if obj["kind"] == "Job":
            out.append(obj["spec"]["template"]["spec"])
        elif obj["kind"] == "CronJob":
            out.append(obj["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    return out


def all_variants() -> list[list[dict[str, Any]]]:
    variants = [rendered(example) for example in EXAMPLES if "sweep" not in example.name]
    variants.append(rendered(ROOT / "examples" / "sklearn-irisv2-k8s.yaml",
                             "kubernetes.secretEnv[0].name=TOKEN", "kubernetes.secretEnv[0].secret=tok",
                             "kubernetes.secretEnv[0].key=token",
                             "kubernetes.envFromSecrets={extra}", "kubernetes.imagePullSecrets={regcred}",
                             "kubernetes.serviceAccountName=loadgen", "kubernetes.nodeSelector.pool=loadgen",
                             "kubernetes.tolerations[0].key=loadgen", "kubernetes.tolerations[0].operator=Exists"))
    variants.append(launched("runner=job"))
    variants.append(launched("runner=cronjob", "cronjobSchedule=*/10 * * * *"))
    return variants


@pytest.fixture(scope="module")
def variants() -> list[list[dict[str, Any]]]:
    return all_variants()


def test_every_manifest_validates_strictly_against_kubernetes_1_30(variants: list[list[dict[str, Any]]]) -> None:
    count = 0
    for objects in variants:
        for obj in objects:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
            count += 1
    assert count >= 4 * len(variants)


def test_a_run_is_a_configmap_a_service_a_network_policy_and_two_jobs(variants: list[list[dict[str, Any]]]) -> None:
    objects = rendered(ROOT / "examples" / "sklearn-irisv2-k8s.yaml")
    kinds = sorted(f"{o['kind']}/{o['metadata']['name']}" for o in objects)
    assert kinds == ["ConfigMap/r1-config", "Job/r1-master", "Job/r1-workers", "NetworkPolicy/r1-master",
                     "Service/r1-master"]
    master = next(o for o in objects if o["metadata"]["name"] == "r1-master" and o["kind"] == "Job")
    workers = next(o for o in objects if o["metadata"]["name"] == "r1-workers")
    assert master["spec"]["backoffLimit"] == 0
    assert master["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert workers["spec"]["parallelism"] == workers["spec"]["completions"] == 2  # load.workers
    assert workers["spec"]["backoffLimitPerIndex"] == 0  # a lost worker is not replaced mid-run
    for job in (master, workers):
        assert job["spec"]["ttlSecondsAfterFinished"] == 3600
        assert 0 < job["spec"]["activeDeadlineSeconds"] < 2 * 3600
    args = master["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--master-bind-host") + 1] == "$(POD_IP)"
    worker_args = workers["spec"]["template"]["spec"]["containers"][0]["args"]
    assert worker_args[worker_args.index("--master-host") + 1] == "r1-master"
    assert "--logfile" not in args  # logs go to stdout, for kubectl logs
    loadgen = objects[0]["data"]["loadgen.json"]
    assert "http://sklearn-irisv2.perf.svc.cluster.local/v2/models/sklearn-irisv2/infer" in loadgen


def test_every_object_is_labelled(variants: list[list[dict[str, Any]]]) -> None:
    for objects in variants:
        instances = {o["metadata"]["labels"]["app.kubernetes.io/instance"] for o in objects}
        assert len(instances) == 1
        for obj in objects:
            labels = obj["metadata"]["labels"]
            assert labels["app.kubernetes.io/name"] == "isvcperf"
            assert labels["app.kubernetes.io/component"]
            assert obj["metadata"]["namespace"] == "perf"


def test_pods_meet_the_restricted_pod_security_profile(variants: list[list[dict[str, Any]]]) -> None:
    specs = [pod for objects in variants for pod in pod_specs(objects)]
    assert len(specs) >= 2 * len(variants) - 2
    for pod in specs:
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert sc["readOnlyRootFilesystem"] is True
            assert container["resources"]["requests"] and container["resources"]["limits"]
            mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
            assert mounts["scratch"] == "/scratch"
        assert {"name": "scratch", "emptyDir": {"sizeLimit": "256Mi"}} in pod["volumes"]


def test_spec_settings_reach_the_pods(variants: list[list[dict[str, Any]]]) -> None:
    objects = variants[-3]
    pod = pod_specs(objects)[0]
    container = pod["containers"][0]
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["serviceAccountName"] == "loadgen"
    assert pod["nodeSelector"] == {"pool": "loadgen"}
    assert pod["tolerations"] == [{"key": "loadgen", "operator": "Exists"}]
    assert {"secretRef": {"name": "extra"}} in container["envFrom"]
    assert {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "tok", "key": "token"}}} in container["env"]
    template = next(o for o in objects if o["kind"] == "Job")["spec"]["template"]
    assert {"sidecar.istio.io/inject": "false"}.items() <= template["metadata"]["annotations"].items()
    assert template["metadata"]["annotations"]["karpenter.sh/do-not-disrupt"] == "true"  # no eviction mid-run


def test_runner_role_grants_only_the_documented_calls(variants: list[list[dict[str, Any]]]) -> None:
    for objects in variants[-2:]:
        role = next(o for o in objects if o["kind"] == "Role")
        assert role["rules"] == RUNNER_RULES
        binding = next(o for o in objects if o["kind"] == "RoleBinding")
        assert binding["subjects"][0]["name"] == role["metadata"]["name"] == "isvcperf-nightly"
        pod = pod_specs(objects)[0]
        assert pod["serviceAccountName"] == "isvcperf-nightly"
        assert pod["automountServiceAccountToken"] is True
    assert all(pod["automountServiceAccountToken"] is False for pod in pod_specs(variants[0]))
    readme = (ROOT / "README.md").read_text()
    for rule in RUNNER_RULES:
        assert f"{'/'.join(rule['verbs'])} {rule['resources'][0]}" in readme


def test_k_launch_allow_invalid_reaches_the_runner_job(variants: list[list[dict[str, Any]]]) -> None:
    """The runner's exit code is the Job's status, so --allow-invalid must reach its command line, as with `run`."""
    plain = pod_specs(variants[-2])[0]["containers"][0]["args"]
    for runner, kind in ((("runner=job",), "Job"), (("runner=cronjob", "cronjobSchedule=*/10 * * * *"), "CronJob")):
        objects = launched(*runner, options=("--allow-invalid",))
        assert any(o["kind"] == kind for o in objects)
        assert pod_specs(objects)[0]["containers"][0]["args"] == [*plain, "--allow-invalid"]
    assert "--allow-invalid" not in plain
    assert plain[:5] == ["-m", "isvcperf", "k", "job-run", "/etc/isvcperf/spec.yaml"]


def test_cronjob_launch_keeps_a_history(variants: list[list[dict[str, Any]]]) -> None:
    cron = next(o for o in variants[-1] if o["kind"] == "CronJob")
    assert cron["spec"]["schedule"] == "*/10 * * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"


def test_a_payload_too_large_for_a_configmap_is_bad_input(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text('{"data": "' + "x" * (1024 * 1024) + '"}')
    run_spec = spec.from_data({"target": {"isvc": "m"}, "payload": {"file": str(big)}, "runner": "kubernetes"})
    with pytest.raises(Exception, match=r"payload: .*over the 900 KiB"):
        manifests.for_run(run_spec, load_payload(run_spec), "r1", "perf")


@pytest.mark.parametrize(("override", "field"), [
    ("target.isvc=Bad_Name", "target.isvc"),
    ("kubernetes.namespace=UPPER", "kubernetes.namespace"),
    ("kubernetes.ttlSecondsAfterFinished=-1", "kubernetes.ttlSecondsAfterFinished"),
    ("kubernetes.imagePullPolicy=Sometimes", "kubernetes.imagePullPolicy"),
    ("kubernetes.startTimeout=0s", "kubernetes.startTimeout"),
])
def test_bad_kubernetes_settings_name_the_field(override: str, field: str) -> None:
    proc = isvcperf("render", str(ROOT / "examples" / "sklearn-irisv2-k8s.yaml"), "--set", override)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"isvcperf: error: {field}:"), proc.stderr
    assert "Traceback" not in proc.stderr


USER_LOCUSTFILE = '''"""A user's own locustfile."""
from isvcperf.loadgen import user


class MyUser(user.InferenceUser):
    """Sends the spec's payload; a real one would override request_bytes()."""
'''


def test_own_locustfile_goes_into_the_configmap_and_the_pod_command_lines(tmp_path: Path) -> None:
    """load.locustfile rendered: its text is the ConfigMap's locustfile.py, the file every pod's
    Locust loads (beside the fallback that prints the final stats); a launch ships it too."""
    mine = tmp_path / "my_locustfile.py"
    mine.write_text(USER_LOCUSTFILE)
    objects = rendered(ROOT / "examples" / "sklearn-irisv2-k8s.yaml", f"load.locustfile={mine}")
    config_map = next(o for o in objects if o["kind"] == "ConfigMap")
    assert config_map["data"]["locustfile.py"] == USER_LOCUSTFILE
    mount = f"{manifests.CONFIG_DIR}/locustfile.py,{manifests.CONFIG_DIR}/{manifests.FALLBACK_LOCUSTFILE}"
    for pod in pod_specs(objects):
        args = pod["containers"][0]["args"]
        assert args[args.index("-f") + 1] == mount, args
        assert str(mine) not in " ".join(args)  # the pods read the ConfigMap's copy, not this machine's path
    runner = launched("runner=job", f"load.locustfile={mine}")
    shipped = next(o for o in runner if o["kind"] == "ConfigMap")["data"]
    assert shipped["locustfile.py"] == USER_LOCUSTFILE
    assert yaml.safe_load(shipped["spec.yaml"])["load"]["locustfile"] == "locustfile.py"


def test_only_the_runs_own_pods_reach_the_master_unless_more_peers_are_named() -> None:
    """The master's web port can stop or reshape the load: by default a NetworkPolicy admits the
    run's own pods to both ports; webFrom adds peers to the web port only; it can be turned off."""
    example = ROOT / "examples" / "sklearn-irisv2-k8s.yaml"
    (policy,) = [o for o in rendered(example) if o["kind"] == "NetworkPolicy"]
    assert policy["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/instance": "r1",
                                                            "app.kubernetes.io/component": "master"}
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    assert policy["spec"]["ingress"] == [{"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "r1"}}}],
                                          "ports": [{"port": "master"}, {"port": "web"}]}]
    opened = rendered(example, "kubernetes.networkPolicy.webFrom[0].ipBlock.cidr=172.16.0.2/32")
    (policy,) = [o for o in opened if o["kind"] == "NetworkPolicy"]
    kubernetes_validate.validate(policy, K8S_VERSION, strict=True)
    assert policy["spec"]["ingress"][1] == {"from": [{"ipBlock": {"cidr": "172.16.0.2/32"}}], "ports": [{"port": "web"}]}
    assert not [o for o in rendered(example, "kubernetes.networkPolicy.enabled=false") if o["kind"] == "NetworkPolicy"]
