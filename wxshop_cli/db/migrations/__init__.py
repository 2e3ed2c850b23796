"""Alembic migrations shipped inside the package.

`REVISIONS` lists every revision this code knows, oldest first; `HEAD` is the newest. They are
plain constants so that the start-up check does not import Alembic. A test checks that they
match the scripts in `versions/` and that the models match the migrations.
"""

REVISIONS = ("0001", "0002", "0003")
HEAD = REVISIONS[-1]
