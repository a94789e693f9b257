"""Webhooks (spec 2.15, 3): managing hooks, URL safety, matching recorded events to hooks and
queueing signed deliveries (``hook_dispatch``), and the delivery records.
"""
