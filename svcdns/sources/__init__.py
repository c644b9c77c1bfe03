"""Source adapters: turn the outside world into `model.Event`s for `ClusterState`.

`kube` is imported only when the API is the source: the official client costs about 25 MB
of memory just to import, which a manifests-fed server should not pay.
"""


class KubeConfigError(Exception):
    """No usable API configuration; the message says what was tried."""
