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

"""Versioned notifications of a live adjust, for billing and audit.

``instance.xloud_adjust.start``, ``.end`` and ``.error``, emitted by the
compute that adjusts the guest (``nova.compute.xloud_manager``). The
payload is an ``InstanceActionPayload`` plus what the guest ran before
(``old_*``) and after (``new_*``: at ``start`` what was asked, at ``end``
and ``error`` what the guest was read back to run), ``persist`` and
``initiator``: ``user`` (the API's adjust) or ``autoscaler`` (the
compute's own loop, ``nova.compute.xloud_autoscaler``; its refusal of a
growth, quota or host full, is an ``error`` with the same old and new).
Samples: ``doc/notification_samples/instance-xloud_adjust-*.json`` of the
XLoud repository.
"""

from oslo_log import log as logging

from nova.notifications.objects import base
from nova.notifications.objects import exception as exception_payload
from nova.notifications.objects import instance as instance_payload
from nova.objects import base as nova_base
from nova.objects import fields
from nova.objects import xloud_fields
from nova import rpc

LOG = logging.getLogger(__name__)

ACTION = xloud_fields.XLOUD_ADJUST
USER = 'user'
AUTOSCALER = 'autoscaler'


@nova_base.NovaObjectRegistry.register_notification
class XloudAdjustPayload(instance_payload.InstanceActionPayload):
    # No SCHEMA: the additional fields are given, not read from an object.
    # Version 1.0: Initial version
    # Version 1.1: initiator
    VERSION = '1.1'
    fields = {
        'old_vcpus': fields.IntegerField(),
        'new_vcpus': fields.IntegerField(),
        'old_memory_mb': fields.IntegerField(),
        'new_memory_mb': fields.IntegerField(),
        'persist': fields.BooleanField(),
        'initiator': fields.StringField(),
    }

    def __init__(self, context, instance, fault, old, new, persist,
                 initiator=USER):
        super(XloudAdjustPayload, self).__init__(
            context=context, instance=instance, fault=fault)
        self.old_vcpus, self.old_memory_mb = (int(x) for x in old)
        self.new_vcpus, self.new_memory_mb = (int(x) for x in new)
        self.persist = bool(persist)
        self.initiator = initiator


@base.notification_sample('instance-xloud_adjust-start.json')
@base.notification_sample('instance-xloud_adjust-end.json')
@base.notification_sample('instance-xloud_adjust-error.json')
@nova_base.NovaObjectRegistry.register_notification
class XloudAdjustNotification(base.NotificationBase):
    # Version 1.0: Initial version
    VERSION = '1.0'

    fields = {
        'payload': fields.ObjectField('XloudAdjustPayload')
    }


@rpc.if_notifications_enabled
def notify(context, instance, host, phase, old, new, persist,
           initiator=USER, exception=None):
    """Emit instance.xloud_adjust.<phase>; never raises (logs instead).

    :param old, new: (vcpus, memory_mb) before and after
    """
    try:
        fault = None
        priority = fields.NotificationPriority.INFO
        if exception is not None:
            fault = exception_payload.ExceptionPayload.from_exception(
                exception)
            priority = fields.NotificationPriority.ERROR
        payload = XloudAdjustPayload(context, instance, fault, old, new,
                                     persist, initiator)
        XloudAdjustNotification(
            context=context,
            priority=priority,
            publisher=base.NotificationPublisher(
                host=host, source=fields.NotificationSource.COMPUTE),
            event_type=base.EventType(object='instance', action=ACTION,
                                      phase=phase),
            payload=payload).emit(context)
    except Exception:
        LOG.exception('Could not send the instance.xloud_adjust.%s '
                      'notification', phase, instance=instance)
