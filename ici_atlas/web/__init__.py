"""The local, read-only web dashboard of ``ici-atlas serve`` (see docs/dashboard.md).

``DashboardApp`` is the WSGI application; ``make_dashboard_server`` binds it (loopback
by default); ``start_in_thread`` runs it in the background for tests and benchmarks.
"""

from .app import DashboardApp, WebError
from .server import make_dashboard_server, start_in_thread

__all__ = ["DashboardApp", "WebError", "make_dashboard_server", "start_in_thread"]
