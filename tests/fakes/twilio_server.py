"""A loopback stand-in for Twilio's Messages resource
(`POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, HTTP Basic auth).

It checks what Twilio documents and answers in Twilio's shapes: 401 (code 20003) for wrong
credentials, 404 (20404) for another account, 400 with Twilio's codes for a missing `To`
(21604), a missing `Body` (21602), no `From` or `MessagingServiceSid` (21603), a `To` that is
not E.164 (21211), a body over 1,600 characters (21617), and a number that replied STOP
(21610, "Attempt to send to unsubscribed recipient"); 201 with the Message resource JSON
otherwise (`sid` SM…, `status` queued, `num_segments` counted independently here: GSM-7
160/153, else UCS-2 70/67).

`opt_out(number)` marks a number as having replied STOP. `inbound_request(url, body, from_)`
gives the form and X-Twilio-Signature Twilio would send to our inbound-message webhook.
"""

from __future__ import annotations

import base64
import re
import secrets
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from twilio.request_validator import RequestValidator

from tests.fakes.loopback import Answer, LoopbackFake, Received

BODY_MAX = 1600
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_GSM = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = set("^{}\\[~]|€\f")


def count_segments(body: str) -> tuple[str, int]:
    """(encoding, segments) as a phone network counts them."""
    if all(c in _GSM or c in _GSM_EXT for c in body):
        septets = sum(2 if c in _GSM_EXT else 1 for c in body)
        return "GSM-7", 1 if septets <= 160 else -(-septets // 153)
    units = sum(2 if ord(c) > 0xFFFF else 1 for c in body)
    return "UCS-2", 1 if units <= 70 else -(-units // 67)


def _error(status: int, code: int, message: str) -> Answer:
    return Answer(
        status,
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
    )


class FakeTwilio(LoopbackFake):
    name = "twilio"

    def __init__(self) -> None:
        super().__init__()
        self.account_sid = "AC" + secrets.token_hex(16)
        self.auth_token = secrets.token_hex(16)
        self.from_number = "+15005550006"
        self.messaging_service_sid = "MG" + secrets.token_hex(16)
        self.opted_out: set[str] = set()

    @property
    def messages(self) -> list[dict[str, str]]:
        """The form of every message Twilio took."""
        return [request.form for request in self.accepted]

    def opt_out(self, number: str) -> None:
        self.opted_out.add(number)

    def inbound_request(
        self, url: str, body: str, from_: str, **extra: str
    ) -> tuple[dict[str, str], str]:
        """(form, X-Twilio-Signature) of an incoming SMS as Twilio posts it to `url`."""
        form = {
            "MessageSid": "SM" + secrets.token_hex(16),
            "SmsSid": "SM" + secrets.token_hex(16),
            "AccountSid": self.account_sid,
            "From": from_,
            "To": self.from_number,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "ApiVersion": "2010-04-01",
            **extra,
        }
        return form, RequestValidator(self.auth_token).compute_signature(url, form)

    def answer(self, request: Received) -> Answer:
        match = re.fullmatch(r"/2010-04-01/Accounts/([^/]+)/Messages\.json", request.path)
        if not match or request.method != "POST":
            return _error(404, 20404, "The requested resource was not found")
        expected = (
            "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        )
        if request.headers.get("Authorization") != expected:
            return _error(401, 20003, "Authenticate")
        if match.group(1) != self.account_sid:
            return _error(404, 20404, "The requested resource was not found")
        form = request.form
        to, body = form.get("To", ""), form.get("Body", "")
        sender, service = form.get("From", ""), form.get("MessagingServiceSid", "")
        problem: Answer | None = None
        if not to:
            problem = _error(400, 21604, "A 'To' phone number is required.")
        elif not body:
            problem = _error(400, 21602, "Message body is required.")
        elif not sender and not service:
            problem = _error(400, 21603, "A 'From' phone number is required.")
        elif sender and sender != self.from_number:
            problem = _error(400, 21606, f"The From phone number {sender} is not valid.")
        elif service and service != self.messaging_service_sid:
            problem = _error(400, 21701, "The Messaging Service Sid is invalid.")
        elif not _E164.match(to):
            problem = _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        elif len(body) > BODY_MAX:
            problem = _error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        elif to in self.opted_out:
            problem = _error(400, 21610, "Attempt to send to unsubscribed recipient")
        if problem is not None:
            request.problem = str(problem.body["code"])
            return problem
        scripted = self.next_scripted()
        if scripted is not None:
            return scripted
        sid = "SM" + secrets.token_hex(16)
        now = format_datetime(datetime.now(UTC), usegmt=True)
        _, segments = count_segments(body)
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"
        resource: dict[str, Any] = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender or None,
            "messaging_service_sid": service or None,
            "num_media": "0",
            "num_segments": str(segments),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": to,
            "uri": uri,
        }
        return Answer(201, resource)
