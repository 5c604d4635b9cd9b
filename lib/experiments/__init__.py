"""The papers' experiments: functions of their parameters returning plain results, the only users of the cache.

Importing the package registers the data sets that need training (``deep_features``) with ``lib.nets.data``.
"""

from lib.experiments import deep_features  # noqa: F401  (registers the data set)
