"""Use cases: the only callers of ``store`` and ``vision``. The CLI, the web app and workers
call these and nothing below them."""
