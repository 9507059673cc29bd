"""Campaigns: an audience and a template become compliant, rate-limited, exactly-once sends.

Read ``worker.py`` for the life of one recipient; ``campaign.py`` for what a campaign is.
"""
