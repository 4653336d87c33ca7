"""Impact x urgency -> priority, from the stored matrix, and the default tables."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.incidents.models import Level, Priority, PriorityRule

H, M, L = Level.HIGH, Level.MEDIUM, Level.LOW

DEFAULT_MATRIX: dict[tuple[Level, Level], Priority] = {
    (H, H): Priority.P1,
    (H, M): Priority.P2,
    (H, L): Priority.P3,
    (M, H): Priority.P2,
    (M, M): Priority.P3,
    (M, L): Priority.P4,
    (L, H): Priority.P3,
    (L, M): Priority.P4,
    (L, L): Priority.P4,
}

# name, acknowledge, mitigate, resolve, public-update cadence (minutes), business hours only
DEFAULT_SLA: dict[Priority, tuple[str, int, int, int, int, bool]] = {
    Priority.P1: ("Critical", 60, 240, 480, 30, False),
    Priority.P2: ("Major", 240, 480, 1440, 60, False),
    Priority.P3: ("Moderate", 1440, 2880, 4320, 240, False),
    Priority.P4: ("Low", 1440, 7200, 14400, 1440, True),  # next business day
}


def priority_for(session: Session, impact: Level, urgency: Level) -> Priority:
    stored = session.scalar(
        sa.select(PriorityRule.priority).where(
            PriorityRule.impact == Level(impact), PriorityRule.urgency == Level(urgency)
        )
    )
    return stored if stored is not None else DEFAULT_MATRIX[(Level(impact), Level(urgency))]
