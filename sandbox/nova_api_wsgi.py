# Copyright 2026 XLoud. All rights reserved.
#
# Licensed under the Apache License, Version 2.0 (the "License"); you may
# not use this file except in compliance with the License. You may obtain
# a copy of the License at
#
#      http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
# WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
# License for the specific language governing permissions and limitations
# under the License.

"""nova-api's WSGI application for gunicorn, on every series.

Nova's application parses ``sys.argv`` as its command line, which under
gunicorn holds gunicorn's options: it gets none, and finds its files in
OS_NOVA_CONFIG_DIR / OS_NOVA_CONFIG_FILES (``api-paste.ini;nova.conf``,
the paste file first), which Nova 29 and 33 both read. Where the
application lives differs by release: sandbox/upstream.py.

gunicorn's ``--pythonpath`` put the repository root on ``sys.path`` to
import this module; it comes off before Nova is imported: our overlay's
``nova/`` folder there (no ``__init__``) would be taken as a ``nova``
namespace package ahead of the installed tree, an editable install whose
finder comes after the path. ``sandbox`` itself is imported by then.
"""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

sys.argv = sys.argv[:1]
sys.path[:] = [p for p in sys.path if os.path.abspath(p or '.') != REPO]

from sandbox import upstream  # noqa: E402

application = upstream.nova_api_application()
