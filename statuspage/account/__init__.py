"""The staff member's own account on the web: the login form, the login's two-factor step,
logout, and the two-factor settings page. Thin views over the Flask-free domain in
`statuspage.auth` (users, sessions, second_factor, permissions).

The blueprint keeps its name, "auth" (so `url_for("auth.login")` and the templates in
`templates/auth/` are unchanged); it is in `blueprint.py` and `routes.py` lists the modules
that add routes to it.
"""
