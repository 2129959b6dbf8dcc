# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""XLoud Nova's own tools: the build tool and the test infrastructure.

Standard library only, Python 3.10: they run before any venv exists (the
thin scripts beside this package, tools/xloud_*.py) and inside the tox
venvs, where this package is installed in editable mode (tools/
pyproject.toml) so that tests and the sandbox import it without editing
sys.path.
"""
