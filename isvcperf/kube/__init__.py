"""The Kubernetes API as the runner uses it: the cluster client, manifests rendered from a Plan, results stored in a ConfigMap."""
