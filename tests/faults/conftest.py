from shared.tests.conftest import testsvc_settings

__all__ = ["testsvc_settings"]
