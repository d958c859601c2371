from services.indicators.tests.conftest import indicators
from shared.tests.conftest import testsvc_settings

__all__ = ["indicators", "testsvc_settings"]
