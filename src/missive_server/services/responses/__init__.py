"""Canned responses (spec 2.11) and their attachment files."""
