"""The official StateSet Python client (PyPI `stateset-python`), loaded under the name `stateset_sdk`.

Its import name is `stateset`, the same as this project's settings package, which wins on sys.path when
running from the project root. So the tests load the client's files from its installed distribution under
another name; the client uses relative imports only, so it works unmodified.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys


def load_sdk():
    if "stateset_sdk" in sys.modules:
        return sys.modules["stateset_sdk"]
    dist = importlib.metadata.distribution("stateset-python")
    init = dist.locate_file("stateset/__init__.py")
    spec = importlib.util.spec_from_file_location("stateset_sdk", init, submodule_search_locations=[str(init.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["stateset_sdk"] = module
    spec.loader.exec_module(module)
    return module
