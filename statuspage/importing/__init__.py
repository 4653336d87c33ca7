"""Moving in from another status page: Atlassian Statuspage's public v2 API, read without a key.

Flask-free, like the other domain packages: `fetch` reads the source over HTTP with the
safety an untrusted URL needs, `statuspage_v2` turns its JSON into plain records (and says
what it cannot use), `history` writes past incidents and maintenance as they happened, and
`run` puts it together, remembering every source id in `ImportedRecord` so a second run
creates nothing twice.
"""
