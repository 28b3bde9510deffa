"""The admin area of the workspace, /manage/: channels, teams, agents, shared macros and the
company's details. Administrators change everything here; managers see teams and agents
and set agents' availability; agents are refused. Django's own admin (/admin/) stays for
superusers."""
