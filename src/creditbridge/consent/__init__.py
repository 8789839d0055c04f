"""Consent (授权): an enterprise's signed permission for one institution to read stated categories
of its non-public data, for one purpose, over a data range and a validity window, a number of
times — and the access log (查询记录) of every read made under it."""
