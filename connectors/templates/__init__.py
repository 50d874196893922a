"""The packaged German templates of mails and letters, rendered with Jinja2.

Mail and print jobs name a template and carry `variables`; this module turns them into the
text and HTML parts of a mail or the subject and body of a letter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    select_autoescape,
)

from connectors.errors import ConnectorError

FALLBACK_TEMPLATE: Final = "campaign"
DEFAULT_SENDER_LINE: Final = "journeyhub · Postfach 10 00 00 · 10115 Berlin"
_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_]*")
_SAFE_SCHEMES: Final = frozenset({"http", "https", "mailto"})


class TemplateRenderError(ConnectorError):
    """A template could not be rendered with the variables of a job."""


@dataclass(frozen=True)
class MailBody:
    """The two parts of a mail.

    Attributes:
        text: The plain-text part.
        html: The HTML part.
    """

    text: str
    html: str


@dataclass(frozen=True)
class LetterBody:
    """What a letter template yields.

    Attributes:
        subject: The subject line (`Betreff`).
        sender_line: The return-address line printed above the address in the window.
        text: The body below the salutation; paragraphs are separated by blank lines.
    """

    subject: str
    sender_line: str
    text: str


def safe_url(value: object) -> str:
    """Pass http, https and mailto URLs; anything else (e.g. `javascript:`) becomes `#`."""
    text = str(value).strip()
    return text if urlsplit(text).scheme.lower() in _SAFE_SCHEMES else "#"


class Templates:
    """The template set: the packaged directory or one of the same layout.

    Files per template name:

    - `<name>.txt` and `<name>.html`: the plain-text and HTML parts of a mail (HTML is
      autoescaped, so a variable can never inject markup).
    - `<name>.letter.txt`: a letter body; it sets `letter_subject` and may set
      `letter_sender` (the return-address line above the window).

    A name without its own file falls back to the generic `campaign` template. Every
    template sees the job's `variables` as names, plus `salutation`, `subject` (mails) and
    `job_id`; a template gives a default for each variable it uses
    (`{{ category | default("...") }}`), so a variable without one is an error, not an empty
    gap. Variables the packaged templates read:

    - product_interest: `category`, `url`
    - cross_sell: `product_name`, `ordered_product`, `url`
    - survey_invitation: `survey_url`, `order_id`
    - campaign: `campaign_name`, `headline`, `body`, `url`, `url_label`, `sender_line`
    - every mail: `unsubscribe_url` (a footer link and a `List-Unsubscribe` entry)

    Args:
        directory: Where the template files are (default: this package's directory).
    """

    def __init__(self, directory: Path | None = None) -> None:
        self._env = Environment(
            loader=FileSystemLoader(directory or Path(__file__).parent),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._env.filters["safe_url"] = safe_url

    def resolve(self, name: str, suffix: str) -> str:
        """The file that renders template `name` as `suffix` (`txt`, `html`, `letter.txt`).

        A name that is malformed or has no such file resolves to the `campaign` template.
        """
        if _NAME.fullmatch(name):
            candidate = f"{name}.{suffix}"
            if candidate in self._env.list_templates():
                return candidate
        return f"{FALLBACK_TEMPLATE}.{suffix}"

    def mail(self, name: str, context: Mapping[str, Any]) -> MailBody:
        """Render the text and HTML parts of mail template `name`.

        Raises:
            TemplateRenderError: The template failed, e.g. on a variable without default.
        """
        return MailBody(
            text=self._render(self.resolve(name, "txt"), context),
            html=self._render(self.resolve(name, "html"), context),
        )

    def letter(self, name: str, context: Mapping[str, Any]) -> LetterBody:
        """Render letter template `name` into subject, return-address line and body.

        Raises:
            TemplateRenderError: The template failed or set no `letter_subject`.
        """
        file_name = self.resolve(name, "letter.txt")
        try:
            module = self._env.get_template(file_name).make_module(dict(context))
            exported = module.__dict__
            subject = str(exported["letter_subject"])
        except KeyError:
            msg = f"letter template {file_name} must set letter_subject"
            raise TemplateRenderError(msg) from None
        except TemplateError as exc:
            raise _render_error(file_name, exc) from exc
        sender = str(exported.get("letter_sender") or DEFAULT_SENDER_LINE)
        return LetterBody(subject=subject.strip(), sender_line=sender, text=str(module).strip())

    def _render(self, file_name: str, context: Mapping[str, Any]) -> str:
        try:
            return self._env.get_template(file_name).render(context).strip() + "\n"
        except TemplateError as exc:
            raise _render_error(file_name, exc) from exc


def _render_error(file_name: str, exc: TemplateError) -> TemplateRenderError:
    if isinstance(exc, TemplateNotFound):
        msg = f"template {file_name} is missing from the template directory"
    else:
        msg = f"template {file_name} could not be rendered: {exc.message or type(exc).__name__}"
    return TemplateRenderError(msg)
