"""Institutions, users, roles, sessions, second factors and API clients; admission and revocation."""
