"""Analytics reports (spec 2.14): requesting a report (queued in the outbox) and computing it;
the queries, figures and materialized tables are private to this package.
"""
