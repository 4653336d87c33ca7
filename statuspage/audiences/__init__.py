"""Who may read what beyond the public: audiences, their members' ways in (email link, IP
range, an OpenID Connect group), and what is addressed to them. Flask-free.

- `models`: the tables (audience, feed tokens, sign-in tokens, the link tables).
- `access`: which audiences an email address, an IP address or OIDC groups belong to.
- `visibility`: the one set of rules every channel asks (predicates and SQL conditions).
- `manage`: creating, editing and deleting audiences, feed tokens and sign-in links.
"""
