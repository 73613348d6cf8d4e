"""The ``latgraph`` command: a click group; each subcommand lives in ``app/commands/``.

Commands stay thin: parse options, call ``app.pipeline`` or a registry, print.
"""

from __future__ import annotations

import logging

import click

from app.commands import COMMAND_MODULES
from ingest.terminal import term_safe


class SafeFormatter(logging.Formatter):
    """Log lines with the message made terminal-safe (log messages may quote host, account or file
    names: attacker data; see :mod:`ingest.terminal`)."""

    def formatMessage(self, record: logging.LogRecord) -> str:   # logging's method name
        record.message = term_safe(record.message)
        return super().formatMessage(record)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="latgraph")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
def cli(verbose: int, quiet: bool) -> None:
    """latgraph: graph-based lateral-movement analytics (admin shares, T1021.002)."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)]
    handler = logging.StreamHandler()
    handler.setFormatter(SafeFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler])


for _module in COMMAND_MODULES:
    cli.add_command(_module.command)
