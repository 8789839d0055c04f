"""Errors of the shared-data list, each a specialisation of the core tree so one handler renders it."""

from __future__ import annotations

from creditbridge.core.errors import Conflict, ValidationFailed


class CatalogFileInvalid(ValidationFailed):
    """Raised when a catalog file cannot be read or breaks the format (docs/catalog-format.md).

    The message names the file; each :class:`~creditbridge.core.errors.Issue` carries the file as
    ``location``, the path inside it as ``field`` (``datasets[3].fields[2].type``) or the YAML line
    as ``row``, and the reason in Chinese.
    """

    code = "CB-CATALOG-INVALID"
    title = "共享清单文件有误"


class CatalogVersionConflict(Conflict):
    """Raised when a file reuses the version id of a loaded list but its content differs."""

    code = "CB-CATALOG-VERSION-CONFLICT"
    title = "共享清单版本冲突"
