"""Email messages and the values that go into their headers.

`build_message` makes a standard-library `EmailMessage` (plain text, optionally an HTML
alternative). Every header value goes through `header_text` or `format_address`, which remove
CR, LF and other line breaks: text typed by users (an incident title in a subject) can never
start a new header.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, getaddresses, make_msgid, parseaddr

# Everything that could end a header line or confuse a parser: ASCII controls (CR and LF among
# them), DEL, and the Unicode line and paragraph separators that str.splitlines() honours.
_UNSAFE_IN_HEADER = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
# An address part we accept: no whitespace, quoting, comments, brackets or list separators.
_ADDRESS = re.compile(r"[^\s@<>(),;:\"\[\]\\]+@[^\s@<>(),;:\"\[\]\\]+")
# A bare address `format_address` returns unchanged (see `usable_address`).
_BARE_ADDRESS = re.compile(
    r"[^\s@<>(),;:\"\[\]\\\x00-\x1f\x7f]+@[^\s@<>(),;:\"\[\]\\\x00-\x1f\x7f]+"
)


class InvalidAddress(ValueError):
    """Not an email address we are willing to put in a header."""


def header_text(value: str) -> str:
    """`value` made safe for one header line: no CR, LF or other control characters.

    A literal `=?` is broken with a zero-width space: otherwise the text could be read as an
    RFC 2047 encoded word, and one that decodes to CR or LF can inject a header on Pythons
    without the fix for CVE-2024-6923."""
    cleaned = " ".join(_UNSAFE_IN_HEADER.sub(" ", value).split())
    return cleaned.replace("=?", "=\u200b?")


def format_address(value: str) -> str:
    """`addr@example.com` or `Name <addr@example.com>`, cleaned, or `InvalidAddress`."""
    found = getaddresses([header_text(value)])
    if len(found) != 1 or not _ADDRESS.fullmatch(found[0][1]):
        raise InvalidAddress("not exactly one usable email address")
    name, address = found[0]
    if not name:
        return address
    try:
        return formataddr((header_text(name), address))
    except UnicodeEncodeError:  # a non-ASCII address part formataddr cannot encode
        raise InvalidAddress("the address has characters email cannot carry") from None


def sender_address(value: str) -> str:
    """The From address (`MAIL_FROM`) formatted for a header, or `InvalidAddress`.

    Stricter than `format_address`: the address itself must be ASCII. A non-ASCII address
    needs SMTPUTF8, which the header formatting, most SMTP servers and SendGrid's From do not
    take; a display name may be in any script (it is encoded)."""
    formatted = format_address(value)
    if not parseaddr(formatted)[1].isascii():
        raise InvalidAddress("the address has characters email cannot carry (use ASCII)")
    return formatted


def usable_address(email: str) -> str | None:
    """`email` ready for a header, or None. Subscribers' addresses are bare, and the quick
    check below accepts exactly the bare addresses `format_address` would; anything else
    (a display name, say) takes the full parser, which costs 100 times more."""
    if _BARE_ADDRESS.fullmatch(email):
        return email
    try:
        return format_address(email)
    except InvalidAddress:
        return None


def masked(address: str) -> str:
    """`a***@example.com`: enough to find the subscriber, not a list of addresses in the log."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}"


def sender_domain(sender: str) -> str:
    """The domain of the From address, for Message-IDs."""
    return parseaddr(sender_address(sender))[1].rpartition("@")[2]


def build_message(
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    text: str,
    html: str | None = None,
    now: datetime | None = None,
    automatic: bool = False,
) -> EmailMessage:
    """A multipart/alternative message (or plain text alone when there is no HTML).

    `automatic` marks mail a program sent on its own (RFC 3834 `Auto-Submitted`), so that
    vacation responders do not answer it.
    """
    recipients = [format_address(address) for address in to]
    if not recipients:
        raise InvalidAddress("a message needs at least one recipient")
    sender = sender_address(sender)
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = header_text(subject)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    if now is not None:
        message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2])
    if automatic:
        message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message
