"""The inbox web UI: server-rendered pages (Jinja2) over the same services as the REST API."""
