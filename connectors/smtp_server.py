"""The local SMTP server of `journeyhub up`: every received message becomes an `.eml` file.

It lets the mail and alerts connectors run without a real mail server; the messages land in
`<data_dir>/mail/` where a person or a test can open them (CONTRACT §5).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from connectors.mail import LOCAL_SMTP_PORT
from connectors.shutdown import wait_for_shutdown_signal
from streams.errors import SettingsError
from streams.logs import configure_logging
from streams.settings import Settings

log = structlog.get_logger(__name__)

MAIL_DIR_NAME: Final = "mail"
_ACCEPTED: Final = "250 Message accepted for delivery"


class MailDirHandler:
    """An aiosmtpd handler storing each message, byte for byte, as `<directory>/<name>.eml`.

    Names sort by arrival (`<UTC time>-<process id>-<counter>.eml`), and each message gets a
    file of its own, so a message sent twice shows up twice.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._counter = itertools.count(1)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Store the message and accept it."""
        content = envelope.original_content or b""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{stamp}-{os.getpid()}-{next(self._counter):06d}.eml"
        await asyncio.to_thread(_store, self.directory, name, content)
        log.info("mail_stored", file=name, recipients=len(envelope.rcpt_tos))
        return _ACCEPTED


def _store(directory: Path, name: str, content: bytes) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    partial = directory / f".{name}.part"
    partial.write_bytes(content)
    os.replace(partial, directory / name)


async def start_local_smtp_server(
    data_dir: Path, host: str = "127.0.0.1", port: int = LOCAL_SMTP_PORT
) -> asyncio.Server:
    """Start the SMTP server in the running event loop and return once it listens.

    Messages are stored under `<data_dir>/mail/`. Close the returned server to stop it.
    """
    handler = MailDirHandler(data_dir / MAIL_DIR_NAME)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="journeyhub.localhost", enable_SMTPUTF8=True),
        host=host,
        port=port,
    )
    log.info("smtp_server_listening", host=host, port=port, directory=str(handler.directory))
    return server


def run_local_smtp_server(
    settings: Settings, host: str = "127.0.0.1", port: int = LOCAL_SMTP_PORT
) -> None:
    """Serve the local SMTP server in the foreground until SIGINT or SIGTERM."""

    async def main() -> None:
        server = await start_local_smtp_server(settings.data_dir, host, port)
        try:
            await wait_for_shutdown_signal()
        finally:
            server.close()
            await server.wait_closed()

    asyncio.run(main())


def main(argv: list[str] | None = None) -> None:
    """`python -m connectors.smtp_server`: the server with settings from the environment."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=LOCAL_SMTP_PORT)
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        sys.exit(f"connectors.smtp_server: error: {exc}")
    configure_logging(settings.log_level, settings.log_format)
    run_local_smtp_server(settings, args.host, args.port)


if __name__ == "__main__":
    main()
