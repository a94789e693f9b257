"""missive-server: a self-hostable server that speaks Missive's public REST API v1."""

__version__ = "0.1.0"
