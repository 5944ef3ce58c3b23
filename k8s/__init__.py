"""The Kubernetes manifests of isvcperf: the Jinja2 templates the runner renders from a Plan
(`*.yaml.j2`) and the kustomize base of the in-cluster runner (`base/`).

A Python package only so that an installed isvcperf (and its image) carries them; nothing
here is code.
"""
