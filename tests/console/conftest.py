"""The browser tests' fixtures for every module here: Chromium (installed by the GraphiQL test's fixture
when missing), a real server, the demo data."""

from tests.api.test_graphiql_browser import chromium
from tests.console.browser import console_server, demo

__all__ = ["chromium", "console_server", "demo"]
