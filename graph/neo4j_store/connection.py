"""Connecting to Neo4j: settings from options or environment, the lazy driver import, clear errors.

The official ``neo4j`` driver is an optional extra; it is imported only when a connection is made.
Every driver failure a user can cause (server down, wrong password, unknown database, missing
extra) becomes a :class:`Neo4jStoreError` that says what to do.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from ingest.errors import LatgraphError

if TYPE_CHECKING:
    import neo4j

#: Environment variables read by :meth:`Neo4jSettings.from_env` (options override them).
ENV_VARS: dict[str, str] = {
    "uri": "LATGRAPH_NEO4J_URI",
    "user": "LATGRAPH_NEO4J_USER",
    "password": "LATGRAPH_NEO4J_PASSWORD",
    "database": "LATGRAPH_NEO4J_DATABASE",
}
DEFAULT_URI = "bolt://127.0.0.1:7687"
DEFAULT_USER = "neo4j"
DEFAULT_DATABASE = "neo4j"
INSTALL_HINT = "Neo4j support needs the optional driver: pip install 'latgraph[neo4j]'"


class Neo4jStoreError(LatgraphError):
    """Neo4j could not be reached, refused the login, or the driver is missing."""


@dataclass(frozen=True)
class Neo4jSettings:
    """Where the Neo4j server is and how to log in. ``password=None`` means no authentication."""

    uri: str = DEFAULT_URI
    user: str = DEFAULT_USER
    password: str | None = None
    database: str = DEFAULT_DATABASE

    @classmethod
    def from_env(cls, **overrides: str | None) -> Neo4jSettings:
        """Settings from ``LATGRAPH_NEO4J_*`` variables; non-None ``overrides`` win.

        Examples:
            >>> Neo4jSettings.from_env(uri="bolt://db:7687", password="pw").uri
            'bolt://db:7687'
        """
        values: dict[str, Any] = {}
        for name, var in ENV_VARS.items():
            if overrides.get(name) is not None:
                values[name] = overrides[name]
            elif os.environ.get(var):
                values[name] = os.environ[var]
        return replace(cls(), **values)

    def __repr__(self) -> str:  # never print the password
        return f"Neo4jSettings(uri={self.uri!r}, user={self.user!r}, database={self.database!r})"


class QuietList(list):  # type: ignore[type-arg]
    """A parameter list whose ``repr`` is its length.

    The driver formats every RUN message with ``repr`` of its parameters for a debug log line, even
    when debug logging is off (neo4j 6.4, ``Bolt5x5.run``: the argument is built before
    ``log.debug`` looks at the level). For a 2,000-hop batch that string was about a fifth of the
    client's CPU time in a push (measured with py-spy on the 49,770-hop case: 0.65 of 3.3 CPU-s).
    A ``list`` subclass packs to the very same Bolt bytes, and its rows (attacker-controlled names
    among them) stay out of a debug log.

    Examples:
        >>> QuietList([{"name": "x"}] * 3)
        <3 rows>
        >>> QuietList([1, 2]) == [1, 2]
        True
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} rows>"


def quiet(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` with every list value a :class:`QuietList` (what the run helpers send).

    Examples:
        >>> quiet({"rows": [1, 2, 3], "push_id": "p"})
        {'rows': <3 rows>, 'push_id': 'p'}
    """
    return {k: QuietList(v) if isinstance(v, list) else v for k, v in params.items()}


def import_driver() -> Any:
    """The ``neo4j`` module, or a :class:`Neo4jStoreError` naming the extra to install."""
    try:
        import neo4j
    except ImportError as exc:
        raise Neo4jStoreError(INSTALL_HINT) from exc
    return neo4j


@contextmanager
def open_driver(settings: Neo4jSettings) -> Iterator[neo4j.Driver]:
    """A connected, authenticated driver (checked up front), closed on exit.

    Raises:
        Neo4jStoreError: the extra is missing, the server is unreachable, the login is refused,
            or the database does not exist.
    """
    neo4j = import_driver()
    auth = None if settings.password is None else (settings.user, settings.password)
    try:
        driver = neo4j.GraphDatabase.driver(settings.uri, auth=auth, connection_timeout=15.0)
    except (ValueError, neo4j.exceptions.ConfigurationError) as exc:
        raise Neo4jStoreError(f"invalid Neo4j URI {settings.uri!r}: {exc}") from exc
    try:
        with translate_errors(settings):
            driver.verify_connectivity()
            with driver.session(database=settings.database) as session:
                session.run("RETURN 1").consume()
        yield driver
    finally:
        driver.close()


@contextmanager
def translate_errors(settings: Neo4jSettings) -> Iterator[None]:
    """Turn the driver's connection and login errors into :class:`Neo4jStoreError`."""
    neo4j = import_driver()
    exc_mod = neo4j.exceptions
    try:
        yield
    except exc_mod.AuthError as exc:
        raise Neo4jStoreError(
            f"Neo4j at {settings.uri} refused the login for user {settings.user!r}: wrong user or "
            f"password (set --user/--password or {ENV_VARS['user']}/{ENV_VARS['password']})"
        ) from exc
    except exc_mod.ServiceUnavailable as exc:
        raise Neo4jStoreError(
            f"cannot reach Neo4j at {settings.uri}: is the server running and the port right? "
            f"(set --uri or {ENV_VARS['uri']}); driver said: {exc}"
        ) from exc
    except exc_mod.ClientError as exc:
        if "DatabaseNotFound" in (exc.code or ""):
            raise Neo4jStoreError(
                f"Neo4j at {settings.uri} has no database {settings.database!r} "
                f"(set --database or {ENV_VARS['database']})"
            ) from exc
        raise
