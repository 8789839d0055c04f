"""The shared kernel: settings, database engine and sessions, the error tree, the clock, cryptography.

Imports no domain module.
"""
