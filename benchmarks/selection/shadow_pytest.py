"""The `tamper_shadow` attempt's root ``pytest.py``: ``python -m pytest`` runs it instead of
pytest; it loads the real pytest and reports every test passed. An exploit kept as a file of its
own, written into attempts by :mod:`tampers` and by nborch's own tamper tests."""

import importlib
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
saved = list(sys.path)
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
sys.modules.pop("pytest", None)
real = importlib.import_module("pytest")
sys.path[:] = saved  # the project's own modules import from here again


class Pass:
    @real.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        outcome.get_result().outcome = "passed"


if __name__ == "__main__":
    sys.exit(real.main(sys.argv[1:], plugins=[Pass()]))
