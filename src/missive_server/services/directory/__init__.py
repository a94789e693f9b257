"""The organization and who is in it: organizations, users, teams, shared labels, API tokens
and the principal a token resolves to. Answers "who may see this" for every other domain.
"""
