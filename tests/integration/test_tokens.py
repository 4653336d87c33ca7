import pytest
import sqlalchemy as sa

from statuspage.auth.models import ApiToken
from statuspage.auth.tokens import create_token, revoke_token, user_for_token
from statuspage.core.errors import DomainError, NotFound


def test_token_is_shown_once_stored_hashed_and_revocable(session, make_user, now):
    user = make_user("responder")
    token, secret = create_token(session, user, "Grafana", actor_id=user.id, now=now)
    session.commit()
    assert secret.startswith("sp_") and len(secret) > 40
    stored = session.scalar(sa.select(ApiToken))
    assert secret not in (stored.token_hash, stored.prefix) and len(stored.token_hash) == 64
    assert user_for_token(session, secret, now=now).id == user.id
    assert user_for_token(session, secret + "x", now=now) is None
    assert user_for_token(session, "", now=now) is None
    revoke_token(session, token.id, actor_id=user.id, now=now)
    assert user_for_token(session, secret, now=now) is None


def test_token_of_a_disabled_user_stops_working(session, make_user, now):
    user = make_user("responder")
    _, secret = create_token(session, user, "CI", actor_id=None, now=now)
    user.active = False
    session.flush()
    assert user_for_token(session, secret, now=now) is None
    with pytest.raises(DomainError):
        create_token(session, user, "again", actor_id=None, now=now)


def test_only_the_owner_revokes_their_own_token(session, make_user, now):
    owner = make_user("responder")
    other = make_user("responder")
    token, _ = create_token(session, owner, "Mine", actor_id=None, now=now)
    with pytest.raises(NotFound):
        revoke_token(session, token.id, actor_id=other.id, now=now, owner_id=other.id)
    with pytest.raises(DomainError):
        create_token(session, owner, "  ", actor_id=None, now=now)
