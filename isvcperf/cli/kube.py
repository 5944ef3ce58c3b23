"""The Kubernetes commands: `render`, `list`, `delete`, and the in-cluster `k` family.

`isvcperf run` with `runner: kubernetes` lives in cli/run.py with every other run; this
module holds what only makes sense against a cluster: printing a run's manifests,
finding and deleting runs by label, and Iter8's `k launch / report / assert / log /
delete` for tests that run inside the cluster and keep their result there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

from isvcperf import spec
from isvcperf.cli.cluster_flags import cluster_options
from isvcperf.cli.commands import help_of
from isvcperf.cli.help import BAD_INPUT, EPILOG, FORMATTER, NO_CLUSTER, add_allow_invalid, add_output_option, exit_codes
from isvcperf.cli.results import add_condition_option, assert_result, exit_code
from isvcperf.kserve import urls
from isvcperf.kube import manifests, result_store
from isvcperf.kube.apply import apply_suspended
from isvcperf.kube.cluster import COMPONENT_LABEL, INSTANCE_LABEL, Cluster
from isvcperf.readiness.isvc import target_url
from isvcperf.report.live import LiveView
from isvcperf.report.render import DEFAULT_FORMATS, FORMATS, render
from isvcperf.results.result import Result, load_result
from isvcperf.spec import iter8
from isvcperf.util.durations import parse_duration
from isvcperf.util.errors import EXIT_OK, CouldNotRun, SpecError
from isvcperf.util.polling import deadline_after, poll_until

DEFAULT_GROUP = "default"
ASSERT_POLL = 2.0
REPLACE_WAIT = 60.0
REPLACE_POLL = 0.5

K_EXAMPLES = """\
examples (Iter8's KServe tutorial, in the cluster):
  isvcperf k launch --set "tasks={ready,http,assess}" --set ready.isvc=sklearn-irisv2 \\
    --set http.payloadFile=examples/payloads/sklearn-irisv2-input.json \\
    --set assess.SLOs.upper.http/latency-p90=500 --set runner=job
  isvcperf k assert -c completed -c nofailure -c slos --timeout 5m
  isvcperf k report -o html > report.html
  isvcperf k log; isvcperf k delete
"""


def register(sub: argparse._SubParsersAction) -> None:
    """Add `render`, `list`, `delete` and the `k` family."""
    render_cmd = sub.add_parser("render", help=help_of("render"),
                                formatter_class=FORMATTER, epilog=exit_codes((0, "printed"), BAD_INPUT),
                                description="Print the objects `isvcperf run` would create for SPEC with "
                                "runner kubernetes, unowned and not suspended, for review or GitOps.")
    render_cmd.add_argument("spec", metavar="SPEC.yaml")
    render_cmd.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    render_cmd.add_argument("-n", "--namespace", help="namespace (default kubernetes.namespace, else default)")
    render_cmd.add_argument("--name", help="run name (default: the spec's name and a random suffix)")
    render_cmd.add_argument("--deployment-mode", choices=urls.DEPLOYMENT_MODES, default="Serverless",
                            help="how the InferenceService is deployed, for its in-cluster host when target.url is "
                            "not given (run reads it from the status): <isvc>.<ns> or <isvc>-predictor.<ns>")
    render_cmd.set_defaults(handler=cmd_render)

    cluster_codes = exit_codes((0, "done"), BAD_INPUT, NO_CLUSTER)
    list_cmd = sub.add_parser("list", help=help_of("list"),
                              formatter_class=FORMATTER, epilog=cluster_codes,
                              description="List the runs (`isvcperf run` with runner kubernetes) and launches "
                              "(`isvcperf k launch`) in a namespace, found by their app.kubernetes.io labels, "
                              "with their state and age.")
    cluster_options(list_cmd)
    list_cmd.set_defaults(handler=cmd_list)

    delete_cmd = sub.add_parser("delete", help=help_of("delete"),
                                formatter_class=FORMATTER, epilog=cluster_codes,
                                description="Delete the objects of one run or launch (Jobs, CronJobs, Services, "
                                "ConfigMaps labelled app.kubernetes.io/instance=RUN) and nothing else, e.g. one "
                                "kept with --keep or left by a CLI that crashed.")
    delete_cmd.add_argument("run", metavar="RUN")
    cluster_options(delete_cmd)
    delete_cmd.set_defaults(handler=cmd_delete)

    k = sub.add_parser("k", help=help_of("k"),
                       formatter_class=FORMATTER, epilog=K_EXAMPLES + "\n" + EPILOG)
    ksub = k.add_subparsers(dest="k_command", metavar="COMMAND", required=True, parser_class=type(k))
    launch = ksub.add_parser("launch", help="start a runner Job (or CronJob) in the cluster",
                             formatter_class=FORMATTER, epilog=K_EXAMPLES)
    launch.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="an Iter8 key (see isvcperf launch --help) or a spec path; plus runner=job|cronjob, "
                        "cronjobSchedule, ready.isvc, ready.namespace")
    launch.add_argument("--dry", action="store_true", help="print the manifests instead of creating them")
    add_allow_invalid(launch)  # carried to the runner Job's command line: its exit code is the Job's status
    report = ksub.add_parser("report", help="render the newest stored result", formatter_class=FORMATTER)
    add_output_option(report, FORMATS)
    check = ksub.add_parser("assert", help="check conditions on the newest stored result", formatter_class=FORMATTER)
    add_condition_option(check)
    check.add_argument("--timeout", default="0s", help="wait this long for a result to be stored (e.g. 5m)")
    log = ksub.add_parser("log", help="print the runner pod's log", formatter_class=FORMATTER)
    delete = ksub.add_parser("delete", help="delete the launch and its stored results", formatter_class=FORMATTER)
    job_run = ksub.add_parser("job-run")  # the runner pod's entry point: no help, so not listed
    job_run.add_argument("spec")
    job_run.add_argument("--out", type=Path, default=None)
    add_allow_invalid(job_run)
    handlers = {launch: k_launch, report: k_report, check: k_assert, log: k_log, delete: k_delete, job_run: k_job_run}
    for p, handler in handlers.items():
        cluster_options(p)
        p.add_argument("-g", "--group", default=DEFAULT_GROUP, help="the launch's name (default: default)")
        p.set_defaults(handler=handler)


# -- render, list, delete ----------------------------------------------------------------


def cmd_render(args: argparse.Namespace) -> int:
    from isvcperf.engine.run import check_inputs

    run_spec, payload = check_inputs(spec.load_file(args.spec, args.overrides))
    namespace = args.namespace or run_spec.kubernetes.namespace or "default"
    if run_spec.target.url is None:
        # No API access here: assume the cluster-local address KServe gives (run reads the status).
        isvc_ns = run_spec.target.namespace or namespace
        status = {"address": {"url": urls.cluster_local_base(str(run_spec.target.isvc), isvc_ns, args.deployment_mode)}}
        run_spec = run_spec.with_target_url(target_url({"status": status}, run_spec.target, in_cluster=True))
    name = manifests.dns_label(args.name) if args.name else manifests.run_name(run_spec)
    print(manifests.to_yaml(manifests.for_run(run_spec, payload, name, namespace).all()), end="")
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    cluster = _connect(args)
    runs: dict[str, list[dict[str, Any]]] = {}
    for obj in cluster.instance_objects():
        runs.setdefault(obj["metadata"].get("labels", {}).get(INSTANCE_LABEL, "?"), []).append(obj)
    if not runs:
        print(f"no isvcperf runs in namespace {cluster.namespace}")
        return EXIT_OK
    print(f"{'RUN':<40} {'KIND':<7} {'STATUS':<10} {'AGE':>8}  OBJECTS")
    for instance, objects in sorted(runs.items()):
        root = next((o for o in objects if o["kind"] in ("Job", "CronJob")
                     and o["metadata"]["labels"].get(COMPONENT_LABEL) in ("master", "runner")), None)
        kind = "launch" if any(o["metadata"]["labels"].get(COMPONENT_LABEL) in ("runner", "result")
                               for o in objects) else "run"
        print(f"{instance:<40} {kind:<7} {_status(root):<10} {_age(objects):>8}  "
              f"{', '.join(o['kind'] + '/' + o['metadata']['name'] for o in objects if o['kind'] != 'Pod')}")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    cluster = _connect(args)
    deleted = cluster.delete_instance(manifests.dns_label(args.run))
    if not deleted:
        raise SpecError("RUN", f"no isvcperf objects labelled {INSTANCE_LABEL}={args.run} in namespace "
                        f"{cluster.namespace} (isvcperf list shows the runs)")
    print(f"deleted {', '.join(deleted)}")
    return EXIT_OK


# -- k: in-cluster launches --------------------------------------------------------------


def k_launch(args: argparse.Namespace) -> int:
    from isvcperf.engine.run import check_inputs

    launch = iter8.read_launch(args.overrides)
    if launch.runner not in ("job", "cronjob"):
        raise SpecError("runner", "isvcperf k launch runs the test in the cluster: add --set runner=job "
                        "(or runner=cronjob with cronjobSchedule); for a run from here use isvcperf launch")
    run_spec, payload = check_inputs(spec.from_data(launch.data, base_dir=os.getcwd()))
    namespace = args.namespace or run_spec.kubernetes.namespace
    if args.dry:
        m = manifests.for_launch(run_spec, payload, args.group, namespace or "default", launch.schedule,
                                 args.allow_invalid)
        print(manifests.to_yaml(m.all()), end="")
        return EXIT_OK
    cluster = Cluster(args.context or run_spec.kubernetes.context, namespace)
    m = manifests.for_launch(run_spec, payload, args.group, cluster.namespace, launch.schedule, args.allow_invalid)
    instance = manifests.launch_instance(args.group)
    _replace_previous(cluster, instance)
    created: list[str] = []
    apply_suspended(cluster, m, created)
    print(f"launched {args.group} in namespace {cluster.namespace}: {', '.join(created)}")
    print(f"next: isvcperf k assert -g {args.group} -c completed -c slos --timeout 5m; isvcperf k report -g {args.group}")
    return EXIT_OK


def k_report(args: argparse.Namespace) -> int:
    cluster = _connect(args)
    print(render(_stored(cluster, args.group), args.output))
    return EXIT_OK


def k_assert(args: argparse.Namespace) -> int:
    try:
        timeout = parse_duration(args.timeout) or 0.0
    except ValueError as exc:
        raise SpecError("--timeout", str(exc)) from None
    cluster = _connect(args)

    def expired() -> Result:
        raise CouldNotRun(_no_result(cluster, args.group))

    result = poll_until(lambda: result_store.latest(cluster, args.group), deadline_after(timeout), ASSERT_POLL, expired)
    return assert_result(result, args.conditions)


def k_log(args: argparse.Namespace) -> int:
    cluster = _connect(args)
    selector = f"{INSTANCE_LABEL}={manifests.launch_instance(args.group)},{COMPONENT_LABEL}=runner"
    pods = sorted(cluster.list("Pod", selector), key=lambda p: p["metadata"].get("creationTimestamp", ""))
    if not pods:
        raise CouldNotRun(f"no runner pod of launch {args.group!r} in namespace {cluster.namespace} "
                          "(not started, or deleted after its TTL; the result stays: isvcperf k report)")
    print(cluster.pod_log(pods[-1]["metadata"]["name"], "runner"), end="")
    return EXIT_OK


def k_delete(args: argparse.Namespace) -> int:
    cluster = _connect(args)
    deleted = _delete_launch(cluster, manifests.launch_instance(args.group))
    print(f"deleted {', '.join(deleted)}" if deleted else f"nothing to delete for {args.group!r} in {cluster.namespace}")
    return EXIT_OK


def k_job_run(args: argparse.Namespace) -> int:
    """Inside the runner pod: run the spec with local Locust processes, store the result, exit with the verdict."""
    from isvcperf.engine.run import run_test

    run_spec = spec.load_file(args.spec, [f"kubernetes.namespace={args.namespace}"] if args.namespace else [])
    out_dir = args.out or Path(tempfile.gettempdir()) / "isvcperf-out"
    cluster = Cluster(args.context, run_spec.kubernetes.namespace)
    try:
        result = run_test(run_spec, out_dir, LiveView, DEFAULT_FORMATS)
    finally:
        if (out_dir / "result.json").is_file():
            key = result_store.save(cluster, args.group, load_result(out_dir))
            print(f"isvcperf: result stored in ConfigMap {manifests.result_config_map(args.group)} ({key})")
    return exit_code(result, args.allow_invalid)


# -- internals ---------------------------------------------------------------------------


def _connect(args: argparse.Namespace) -> Cluster:
    return Cluster(args.context, args.namespace)


def _stored(cluster: Cluster, group: str) -> Result:
    result = result_store.latest(cluster, group)
    if result is None:
        raise CouldNotRun(_no_result(cluster, group))
    return result


def _no_result(cluster: Cluster, group: str) -> str:
    runner = cluster.get("Job", manifests.launch_instance(group)) or cluster.get("CronJob",
                                                                               manifests.launch_instance(group))
    state = f"the runner is {_status(runner)}" if runner else "no runner exists (isvcperf k launch starts one)"
    return f"no result stored for launch {group!r} in namespace {cluster.namespace} yet; {state}; see isvcperf k log"


def _delete_launch(cluster: Cluster, instance: str) -> list[str]:
    """Delete a launch: its objects here, and its Role in the InferenceService's namespace (not owned by it)."""
    runner = cluster.get("Job", instance) or cluster.get("CronJob", instance)
    isvc_namespace = (runner or {}).get("metadata", {}).get("annotations", {}).get(manifests.ISVC_NAMESPACE)
    deleted = cluster.delete_instance(instance)
    if isvc_namespace and isvc_namespace != cluster.namespace:
        other = Cluster(cluster.context, isvc_namespace)
        deleted += [f"{kind}/{instance} (namespace {isvc_namespace})" for kind in ("RoleBinding", "Role")
                    if other.delete(kind, instance)]
    return deleted


def _replace_previous(cluster: Cluster, instance: str) -> None:
    """A new launch with the same group replaces the old one and its results, as in Iter8."""
    if not _delete_launch(cluster, instance):
        return

    def expired() -> bool:
        raise CouldNotRun(f"the previous launch {instance} is still being deleted; try again in a minute")

    poll_until(lambda: None if any(True for _ in cluster.instance_objects(instance)) else True,
               deadline_after(REPLACE_WAIT), REPLACE_POLL, expired)


def _status(obj: dict[str, Any] | None) -> str:
    if obj is None:
        return "-"
    if obj.get("kind") == "CronJob":
        return "suspended" if obj.get("spec", {}).get("suspend") else "scheduled"
    status = obj.get("status", {})
    for cond in status.get("conditions", []) or []:
        if cond.get("status") == "True" and cond.get("type") in ("Complete", "Failed", "Suspended"):
            return {"Complete": "succeeded"}.get(cond["type"], cond["type"].lower())
    return "running" if status.get("active") else "pending"


def _age(objects: list[dict[str, Any]]) -> str:
    stamps = [o["metadata"].get("creationTimestamp") for o in objects if o["metadata"].get("creationTimestamp")]
    if not stamps:
        return "-"
    created = dt.datetime.fromisoformat(min(stamps).replace("Z", "+00:00"))
    seconds = int((dt.datetime.now(dt.timezone.utc) - created).total_seconds())
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"
