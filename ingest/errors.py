"""Exceptions of latgraph. Every error says where the problem is (file, record)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceLocation:
    """Where a problem was found: a file and, when known, a record id or line number."""

    file: str
    record: int | str | None = None

    def __str__(self) -> str:
        return self.file if self.record is None else f"{self.file}, record {self.record}"


class LatgraphError(Exception):
    """Root of latgraph's exceptions; ``str()`` appends the source location when there is one."""

    def __init__(self, message: str, source: SourceLocation | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source

    def __str__(self) -> str:
        return self.message if self.source is None else f"{self.source}: {self.message}"

    def __reduce__(self) -> tuple[type, tuple[str, SourceLocation | None]]:
        # keep the source location when the error crosses a process boundary (ingest workers)
        return (self.__class__, (self.message, self.source))


class IngestError(LatgraphError):
    """A file or record could not be read."""


class UnknownFormatError(IngestError):
    """No reader recognised the file's content."""


class SchemaError(LatgraphError):
    """A frame does not have the canonical event columns or dtypes."""


class ConfigError(LatgraphError):
    """Contradictory or invalid options."""
