"""The page's own look and words: name, logo, favicon, brand colour, links, about text, the
time zone of "today" and the sender name of emails. Staff edit them in the app; they are
stored in the database (one row), audited, and part of the public version. Flask-free."""
