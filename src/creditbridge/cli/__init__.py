"""The command line: one Typer sub-app per domain, composed in :mod:`creditbridge.cli.app`."""
