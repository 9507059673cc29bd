"""Campaigns: an audience and a template become compliant, rate-limited, exactly-once sends.

Read ``worker.py`` for the life of one recipient (``gate.py`` for what is checked at each
provider call, ``attempt.py`` for one send and its outcome); ``campaign.py`` for what a
campaign is;
``router.py`` for the HTTP routes the service mounts (webhooks, tracked links), the one seam
with the service. Images are reached only over HTTP (``POST /v1/urls``); providers only
through the ``Provider`` protocol (``providers/base.py``); Redis names only through
``keys.py``.
"""
