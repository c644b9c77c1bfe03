"""Source adapters: turn the outside world into `model.Event`s for `ClusterState`."""
