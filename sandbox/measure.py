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

"""The arithmetic of the sandbox's figures, one definition for all.

Standard library only: ``autoscale_cost.py`` imports it as a sibling
module from a process that must not have the repository on its path.
"""

import calendar
import math
import time


def pct(values, p):
    """The p-th percentile of ``values``, nearest rank (a value that was
    measured, never one between two); NaN of nothing.
    """
    ordered = sorted(values)
    if not ordered:
        return float('nan')
    return ordered[max(0, int(math.ceil(p / 100.0 * len(ordered))) - 1)]


def iso_epoch(text):
    """Epoch seconds of an API time ('2026-12-07T19:15:56.000000')."""
    return calendar.timegm(time.strptime(text[:19], '%Y-%m-%dT%H:%M:%S')) + (
        float('0' + text[19:26]) if text[19:20] == '.' else 0.0)
