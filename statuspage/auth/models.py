"""Staff accounts. Account roles decide what a user may do anywhere in the admin area."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from statuspage.core.db import Base, enum_column, utcnow


class Role(enum.StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    RESPONDER = "responder"
    COMMUNICATOR = "communicator"
    VIEWER = "viewer"


class User(Base):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120), default="")
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"), default=Role.VIEWER)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Two-factor (statuspage.auth.second_factor): the TOTP secret, encrypted (auth/totp.py),
    # set at the start of enrolment and live once `totp_enabled_at` is stamped. The last
    # accepted 30-second step makes each code work once.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(255))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]
    # The IANA zone the person enters times in (auth/users.set_time_zone); "" means the
    # page's zone. Times are stored in UTC whatever this says.
    time_zone: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    # Single sign-on (auth/sso.py): the provider's issuer and subject ("<iss> <sub>") of the
    # person this account signs in as, bound at the first sign-in. Later sign-ins find the
    # account by it; an email address alone never moves an account to someone else.
    oidc_identity: Mapped[str | None] = mapped_column(sa.String(600), unique=True)

    @property
    def has_two_factor(self) -> bool:
        return self.totp_enabled_at is not None

    # Flask-Login's protocol, written out so the model needs no Flask import.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.role}>"


class UserSession(Base):
    """A login. The cookie holds the random token; the table holds its hash.

    Logging out revokes the row, so a copied cookie stops working at once; changing the password
    or disabling the account revokes them all.
    """

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class ApiToken(Base):
    """A personal API token. Only the SHA-256 of the secret is kept; it is shown once.

    A token acts as its user, limited by the user's role, and stops working when revoked or when
    the user is disabled.
    """

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    prefix: Mapped[str] = mapped_column(sa.String(16))  # shown in lists to tell tokens apart
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
