"""E-mail about finished background work: SMTP when configured, a log line otherwise."""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from email.message import EmailMessage

from loadbay.settings import Settings, get_settings

log = logging.getLogger("loadbay.notify")

_TIMEOUT_SECONDS = 30
_LINK = re.compile(r"https?://\S+")


def send_mail(to: str, subject: str, body: str, settings: Settings | None = None) -> bool:
    """True once sent (or logged); False when delivery failed.

    It never raises for a delivery problem: the work it reports on is already done,
    and a mail server being down must not turn that work into a failure.
    """
    if settings is None:
        settings = get_settings()
    if not settings.smtp_host:
        # The embedded default: the operator finds the link in the log.
        detail = " ".join(_LINK.findall(body)) or " ".join(body.split())[:500]
        log.info("mail to=%s subject=%r link=%s", to, subject, detail)
        return True
    try:
        message = EmailMessage()
        message["From"] = settings.smtp_from
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=_TIMEOUT_SECONDS) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError, ValueError) as exc:
        # ValueError: a header with a line break, i.e. an address that cannot be sent to.
        log.warning("mail to=%s subject=%r not sent: %s", to, subject, exc)
        return False
    return True
