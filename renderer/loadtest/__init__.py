"""``mms-renderer loadtest``: measure a deployment's render latency honestly.

An open-loop load generator (requests leave at their scheduled times whatever the server
answers, and latency is measured from that time, so queueing is never hidden) that sends the
campaign's own traffic: signed image URLs with values from the deployment's own field schemas,
repeat fetches of prerendered images, and ``POST /v1/urls`` prerender batches. It talks to the
service only over HTTP, like any client: target (which hosts, what they serve, their
/metrics), values (field values), traffic (what each request is), schedule (when it leaves),
engine (sending and timing), results (HDR histograms, tables, JSON), plots, findmax (the
highest sustainable rate) and command (the CLI).
"""
