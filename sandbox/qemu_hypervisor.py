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

"""The sandbox's REAL hypervisor mode: libvirtd + QEMU (TCG).

nova-compute is the stock ``nova-compute`` console script with Nova's
libvirt driver, ``virt_type=qemu`` (these machines have no usable KVM, so
QEMU translates: TCG), ``cpu_mode=none``, talking to a private libvirtd
(``tools/xloud_libvirtd.py``: its own mount namespace, the host's libvirt
state untouched). Privileged helpers run through privsep-helper directly
(the sandbox runs as root; there is no sudo/rootwrap set-up to lean on).

The guest is ``tools/xloud_guest_image.py``'s Debian kernel and busybox
initramfs; its init onlines hot-plugged CPUs and prints
``XLOUD-GUEST cpus_online=N memtotal_kb=M`` on the serial console, which
Nova's libvirt driver logs to ``<instance dir>/console.log`` and serves
through ``os-getConsoleOutput``. That line, not libvirt, is the proof that
an adjust reached the guest.

With several computes (``Sandbox(computes=N)``) each compute has its own
private libvirtd (``ComputeLibvirtd``), set up so that Nova's live
migration between them works as between two hosts:

- **host names**: libvirt's ``getHostname()`` is Nova's node name (the
  hypervisor's and its resource provider's name, unique in placement), so
  each libvirtd runs in its own UTS namespace named after its compute;
  libvirtd.conf's ``host_uuid`` differs too (libvirt refuses a migration
  between daemons of one host UUID: "Attempt to migrate guest to the same
  host");
- **local disks**: Nova expects one ``instances_path`` on every host,
  local to each. Each compute's own ``state/compute<i>/instances`` is
  bind-mounted on the common ``state/instances`` in the mount namespace
  of its nova-compute (``unshare -m``) and of its libvirtd; the same
  paths in the domain XML are then another host's files, as on two real
  hosts, and Nova's shared-storage check finds them unshared: a live
  migration is a block migration (``NON_SHARED_INC``, libvirt copies the
  disk over NBD). One file system with a common instances folder would be
  "shared storage" that libvirt refuses to migrate on (a local file
  system: ``VIR_MIGRATE_UNSAFE``, which Nova never sets);
- **the migration URIs**: compute ``i``'s ``live_migration_inbound_addr``
  is ``127.0.0.<i>`` (all of 127/8 is loopback): QEMU's migration stream
  goes to ``tcp://127.0.0.<i>``, and ``live_migration_uri``
  ``qemu+unix:///system?socket=<run dir>/libvirt-sockets/%s`` (Nova puts
  the destination's inbound address in ``%s``) reaches the destination's
  libvirtd through a symbolic link of that name to its socket (Nova's
  default is ``qemu+tcp://<dest>/system``; these daemons listen on no
  TCP port);
- **the guest's kernel on the destination**: Nova fetches the kernel
  and ramdisk of a block live migration's destination with its deep
  image inspection (``_fetch_instance_kernel_ramdisk`` ->
  ``fetch_to_raw``), where the boot fetched them without
  (``fetch_raw_image``); the Debian kernel's legacy boot sector reads as
  an MBR whose partition table fails the check ("Safety checks failed:
  mbr", the migration fails in ``pre_live_migration``). An upstream
  inconsistency, seen here first; the computes of this mode set
  ``[workarounds] disable_deep_image_inspection`` (the sandbox's own
  images only);
- **domain ids**: the daemons share this machine's cgroup tree and
  libvirt names a guest's cgroup ``machine/qemu-<id>-<name>``; a guest
  migrated to a daemon whose next id is its id on the source would join
  the source's cgroup and its memory limit
  (``realvirt/test_live_migration.py``). Compute ``i``'s daemon uses up
  ``(i - 1) * 1000`` ids at its start (domains that fail to start, about
  3 ms each), so the ids of two daemons never meet in a sandbox's life.

This module does not import the other sandbox modules, so that
xloud_sandbox.py can list this mode next to its fake one.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
from xloud_tools import guest_image as xloud_guest_image  # noqa: E402
from xloud_tools import libvirtd as xloud_libvirtd  # noqa: E402

GUEST_LINE = re.compile(
    r'XLOUD-GUEST cpus_online=(\d+) memtotal_kb=(\d+) up=([\d.]+)')
# Nova's own command line for a kernel image on x86 ends with console=hvc0,
# which makes /dev/console (where the guest's init prints) a virtio console
# this domain does not have: the image's os_command_line (a standard Nova
# image property) keeps the serial port the console.
GUEST_CMDLINE = 'root=/dev/vda console=tty0 console=ttyS0'
ROOT_DISK_BYTES = 1024 * 1024
# A TCG host runs few guests: the sandbox's default over-commit of 1.0
# would leave a 2-core machine no room to adjust a guest to 3 vCPUs.
CPU_ALLOCATION_RATIO = 4.0
# several computes: host UUIDs (distinct, see the module docstring), the
# domain ids each daemon skips, the domain that takes an id and fails
HOST_UUID = '7a3c5e10-0000-4000-8000-%012d'
DOMAIN_ID_STRIDE = 1000
ID_TAKER_XML = (
    "<domain type='qemu'><name>xloud-id-taker</name>"
    "<memory unit='MiB'>16</memory><os><type arch='x86_64'>hvm</type></os>"
    "<devices><disk type='file' device='disk'><source file='%s'/>"
    "<target dev='vda' bus='virtio'/></disk></devices></domain>")


def _venv_script(name):
    return os.path.join(os.path.dirname(sys.executable), name)


def probe():
    """(True, '') when the qemu mode can run here, else (False, why).

    Cheap checks only (no download): root and a working ``unshare -m``,
    the Debian packages, libvirt-python in this venv. ``prepare.py``
    (tox's commands_pre) installs what is missing where it may.
    """
    ok, why = xloud_libvirtd.available()
    if not ok:
        return False, why
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return False, ('libvirt-python is not installed in %s (tox -e '
                       'demo installs it)' % sys.prefix)
    return True, ''


def qemu_version():
    """QEMU's version line's number, for the figures."""
    try:
        out = subprocess.run(['qemu-system-x86_64', '--version'],
                             stdout=subprocess.PIPE, universal_newlines=True,
                             timeout=30).stdout
    except OSError:
        return '?'
    m = re.search(r'version (\S+)', out)
    return m.group(1) if m else '?'


def guest_lines(text):
    """[(cpus_online, memtotal_kb, uptime_s)] of the guest's lines."""
    return [(int(m.group(1)), int(m.group(2)), float(m.group(3)))
            for m in GUEST_LINE.finditer(text)]


def instances_mount(sandbox):
    """The common instances_path of several computes (see above)."""
    return sandbox.path('state', 'instances')


def inbound_addr(compute):
    return '127.0.0.%d' % compute.index


class ComputeLibvirtd(xloud_libvirtd.PrivateLibvirtd):
    """tools' private libvirtd, for one compute of several: the same
    daemon (its own mount namespace and state), and in that namespace the
    compute's own instances folder on the common one, and its own UTS
    namespace with the compute's host name (module docstring).
    """

    def __init__(self, base_dir, host_uuid, hostname, binds):
        super(ComputeLibvirtd, self).__init__(base_dir, host_uuid=host_uuid)
        self.hostname = hostname
        self.binds = binds

    def _script(self):
        lines = super(ComputeLibvirtd, self)._script().split('\n')
        run = lines.pop()
        if not run.startswith('exec '):
            raise RuntimeError('tools/xloud_libvirtd.py\'s script no longer '
                               'ends with exec: %r' % run)
        for source, target in self.binds:
            lines.append('mount --bind %s %s' % (
                shlex.quote(source), shlex.quote(target)))
        # unshare without --fork execs: libvirtd keeps the pid
        lines.append('exec unshare --uts -- /bin/sh -c %s' % shlex.quote(
            'hostname %s && %s' % (shlex.quote(self.hostname), run)))
        return '\n'.join(lines)


class QemuHypervisor(object):
    """Nova's libvirt driver on a private libvirtd running QEMU with TCG.

    REAL: libvirtd, QEMU, the guest kernel; the libvirt driver does
    everything it does on a production compute (image cache, qcow2 disk,
    kernel/initrd from glance, domain define and start, console log).
    """

    name = 'qemu'
    stand_in = False
    cpu_allocation_ratio = CPU_ALLOCATION_RATIO

    def __init__(self):
        self.daemon = None
        self.kernel = self.initrd = None
        # the agent variant (upload_images(agent=True)), built on demand
        self.agent_kernel = self.agent_initrd = None
        self.versions = ''
        # the sandbox's Compute this hypervisor is under (it sets it)
        self.compute = None
        self.id_skip = None

    def for_compute(self, index):
        """Another compute's: its own libvirtd, the same guest image."""
        other = QemuHypervisor()
        other.kernel, other.initrd = self.kernel, self.initrd
        other.agent_kernel = self.agent_kernel
        other.agent_initrd = self.agent_initrd
        other.versions = self.versions
        return other

    def _daemon(self, sandbox):
        """The private libvirtd of this sandbox: its folder sits next to
        the run dir (which every start empties), so that libvirtd keeps
        QEMU's probed capabilities (var/cache) and restarts in a second;
        two sandboxes (demo, bench) never share one.
        """
        if self.daemon is None and sandbox.multi:
            c = self.compute
            self.daemon = ComputeLibvirtd(
                '%s-libvirtd-%s' % (sandbox.run_dir, c.host),
                host_uuid=HOST_UUID % c.index, hostname=c.host,
                binds=[(c.instances_path, instances_mount(sandbox))])
        elif self.daemon is None:
            self.daemon = xloud_libvirtd.PrivateLibvirtd(
                sandbox.run_dir + '-libvirtd')
        return self.daemon

    @property
    def description(self):
        return ("REAL hypervisor: Nova's libvirt driver, virt_type=qemu, "
                "QEMU %s with TCG (no KVM) under a private libvirtd (%s); "
                "guest: %s" % (
                    qemu_version(),
                    self.daemon.uri if self.daemon else
                    'tools/xloud_libvirtd.py',
                    self.versions or 'Debian kernel + busybox initramfs'))

    @property
    def short_description(self):
        return ('its private libvirtd %s, host name %s, domain ids from %d, '
                'migrations in at %s' % (
                    self.daemon.uri if self.daemon else '(not started)',
                    self.compute.host, (self.id_skip or 0) + 1,
                    inbound_addr(self.compute)))

    def prepare(self):
        """Build (or find cached) the guest kernel and initramfs."""
        self.kernel, self.initrd = xloud_guest_image.build()
        pkgs = os.path.join(os.path.dirname(self.kernel), 'PACKAGES')
        if os.path.exists(pkgs):
            with open(pkgs) as f:
                self.versions = ', '.join(f.read().split('\n')[:2]).strip(
                    ', ')
        return self.kernel, self.initrd

    def start(self, sandbox):
        if self.kernel is None:
            self.prepare()
        self._daemon(sandbox)
        if self.daemon.running_pid():
            # what a killed earlier run over the same folder left running
            self.daemon.stop()
        # A sandbox starts with an empty database: domains an earlier run
        # defined would make the new nova-compute refuse to start ("has
        # existing instances"). Their definitions and state go; QEMU's
        # probed capabilities (var/cache) stay.
        for state in (('etc', 'libvirt', 'qemu'),
                      ('var', 'lib', 'libvirt')):
            shutil.rmtree(os.path.join(self.daemon.base_dir, *state),
                          ignore_errors=True)
        if sandbox.multi:
            # the mount point, and what is mounted on it
            os.makedirs(instances_mount(sandbox), exist_ok=True)
            os.makedirs(self.compute.instances_path, exist_ok=True)
        self.daemon.start()
        if sandbox.multi:
            self._skip_domain_ids(sandbox, (self.compute.index - 1) *
                                  DOMAIN_ID_STRIDE)
            links = sandbox.path('libvirt-sockets')
            os.makedirs(links, exist_ok=True)
            os.symlink(self.daemon.socket, os.path.join(
                links, inbound_addr(self.compute)))

    def _skip_domain_ids(self, sandbox, count):
        """Use up ``count`` domain ids of the daemon (module docstring):
        a domain whose disk does not exist takes an id, then fails.
        """
        import libvirt
        self.id_skip = count
        if not count:
            return
        started = time.monotonic()
        xml = ID_TAKER_XML % sandbox.path('state', 'no-such-disk.img')
        conn = libvirt.open(self.daemon.uri)
        # each failure would print its error on stderr
        libvirt.registerErrorHandler(lambda ctx, err: None, None)
        try:
            for _ in range(count):
                try:
                    conn.createXML(xml, libvirt.VIR_DOMAIN_START_PAUSED)
                except libvirt.libvirtError:
                    continue
                raise RuntimeError('the id taker domain started on %s'
                                   % self.daemon.uri)
        finally:
            libvirt.registerErrorHandler(None, None)
            conn.close()
        print('sandbox: %s: %d domain ids skipped in %.1f s' % (
            self.compute.host, count, time.monotonic() - started),
            flush=True)

    def stop(self):
        if self.daemon is not None:
            self.daemon.stop()

    def nova_conf(self, sandbox):
        confs = ' '.join('--config-file %s' % path for path in (
            sandbox.path('etc', 'nova.conf'), self.compute.conf))
        conf = {
            'DEFAULT': {'compute_driver': 'libvirt.LibvirtDriver'},
            'libvirt': {'virt_type': 'qemu',
                        'cpu_mode': 'none',
                        'connection_uri': self._daemon(sandbox).uri},
            # root already: privsep's daemon without sudo and rootwrap
            'nova_sys_admin': {'helper_command': '%s %s' % (
                _venv_script('privsep-helper'), confs)},
        }
        if sandbox.multi:
            # see the module docstring
            conf['DEFAULT']['instances_path'] = instances_mount(sandbox)
            conf['libvirt'].update({
                'live_migration_uri': 'qemu+unix:///system?socket=%s/%%s' %
                sandbox.path('libvirt-sockets'),
                'live_migration_inbound_addr': inbound_addr(self.compute)})
            conf['workarounds'] = {'disable_deep_image_inspection': 'True'}
        return conf

    def command(self, sandbox, config_files):
        cmd = [_venv_script('nova-compute')]
        for path in config_files:
            cmd += ['--config-file', path]
        if sandbox.multi:
            # its own instances folder on the common one, for it and its
            # children (privsep) only
            mount = 'mount --bind %s %s && exec "$@"' % (
                shlex.quote(self.compute.instances_path),
                shlex.quote(instances_mount(sandbox)))
            cmd = ['unshare', '--mount', '--propagation', 'private', '--',
                   '/bin/sh', '-c', mount, 'nova-compute'] + cmd
        return cmd

    def upload_images(self, cloud, agent=False):
        """Upload the guest's kernel (aki) and initramfs (ari), and a small
        empty raw root disk whose kernel_id/ramdisk_id point at them: the
        way Nova boots a kernel/initrd image (the init needs no root disk).

        ``agent=True``: the same of the agent variant
        (``guest_image.build(agent=True)``: Debian's qemu-guest-agent in
        the initramfs), the root image with ``hw_qemu_guest_agent=yes``
        (Nova then gives the domain the agent's virtio-serial channel);
        its images are named ``xloud-guest-agent-*``, beside the plain
        ones, which stay as they are.

        :returns: the root image (glance's JSON)
        """
        if agent:
            if self.agent_kernel is None:
                self.agent_kernel, self.agent_initrd = \
                    xloud_guest_image.build(agent=True)
            kernel, initrd = self.agent_kernel, self.agent_initrd
            prefix = 'xloud-guest-agent'
            extra = {'hw_qemu_guest_agent': 'yes'}
        else:
            if self.kernel is None:
                self.prepare()
            kernel, initrd = self.kernel, self.initrd
            prefix, extra = 'xloud-guest', {}
        ids = {}
        for key, path, fmt in (('kernel_id', kernel, 'aki'),
                               ('ramdisk_id', initrd, 'ari')):
            with open(path, 'rb') as f:
                img = cloud.upload_image('%s-%s' % (prefix, fmt), f.read(),
                                         disk_format=fmt,
                                         container_format=fmt)
            print('   image %s: %s, %d bytes' % (img['id'], img['name'],
                                                 img['size']), flush=True)
            ids[key] = img['id']
        ids.update(extra)
        return cloud.upload_image('%s-root' % prefix,
                                  b'\0' * ROOT_DISK_BYTES,
                                  os_command_line=GUEST_CMDLINE, **ids)

    # ---- what the demo and the bench read
    def virsh(self, *args):
        return subprocess.run(
            ['virsh', '-c', self.daemon.uri] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            universal_newlines=True, timeout=60, check=True).stdout

    def domain_xml(self, sandbox, server_id, kind):
        """(where, XML): libvirt's own view of the domain; ``live`` is the
        running domain, ``defined``/``config`` its persistent definition.
        """
        args = ['dumpxml', server_id]
        if kind != 'live':
            args.insert(1, '--inactive')
        return 'virsh %s' % ' '.join(args), self.virsh(*args)

    def console_log(self, sandbox, server_id):
        """The serial log the driver set up in the instance's folder."""
        return os.path.join(self.compute.instances_path, server_id,
                            'console.log')
