"""Putting data in a database: the seed document format (``seed``), the demo organization
(``demo``), the benchmark dataset (``bench_data``) and the emulator's reset and inbound
simulation (``emulator``).
"""
