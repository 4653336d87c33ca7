"""The shared kernel: what every package may import, and which imports none of them.

The declarative base and UTC timestamps (`db`), domain errors (`errors`), the timeline, audit
and public-version records (`records`, `models`), the outbox row every channel's delivery starts
from (`outbox`), page arithmetic (`paging`), the one Markdown renderer (`rendering`),
spreadsheet-cell safety (`csv_safety`), where the checkout is (`paths`) and times in words
(`timetext`). Flask-free.
"""
