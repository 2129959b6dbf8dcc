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

"""A private libvirtd (QEMU driver, TCG guests) that leaves the host alone.

Tests and the all-in-one demo need a real libvirtd, but a CI machine must
not get a system libvirtd, its networks, users or state. So libvirtd runs as
root in its own mount namespace (``unshare -m``, private propagation), where
``/etc/libvirt``, ``/run``, ``/var/lib``, ``/var/log`` and ``/var/cache``
are bind mounts of folders under ``base_dir``, and ``/etc/passwd`` and
``/etc/group`` are copies that have the ``libvirt-qemu`` user libvirtd looks
up before it reads qemu.conf. Every other path (``/work``, ``/tmp``, ...) is
the host's, so QEMU sees Nova's instances directory and the guest images.

qemu.conf makes QEMU run as root without a security driver, owner changes
or per-guest namespaces (none of which a throw-away test host needs), and
libvirtd.conf lets root connect on the UNIX socket without auth. The URI is
``qemu:///system?socket=<base_dir>/run/libvirt/libvirt-sock``.

Standard library only (Python 3.10): it runs before any venv exists.

API: ``available()``, ``ensure_packages()``, ``PrivateLibvirtd(base_dir,
host_uuid=None)`` (``start()`` -> URI, ``uri``, ``stop()``, context
manager). CLI::

    python tools/xloud_libvirtd.py start --dir D   # prints the URI
    python tools/xloud_libvirtd.py stop --dir D
    python tools/xloud_libvirtd.py ensure-packages
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

from xloud_tools import setup_log

# libxml2-utils: xmllint, which virt-xml-validate runs; gcc and libvirt-dev:
# libvirt-python is built from its sdist against the host's libvirt.
PACKAGES = (
    'qemu-system-x86', 'libvirt-daemon', 'libvirt-daemon-driver-qemu',
    'libvirt-clients', 'libvirt-dev', 'pkg-config', 'qemu-utils',
    'libxml2-utils', 'gcc',
)
LIBVIRTD = '/usr/sbin/libvirtd'
BINARIES = (LIBVIRTD, '/usr/bin/qemu-system-x86_64', '/usr/bin/virsh')
# The folders the namespace gets its own copy of (see the module docstring).
PRIVATE_DIRS = ('/etc/libvirt', '/run', '/var/lib', '/var/log',
                '/var/cache')
PID_FILE = 'xloud-libvirtd.pid'
# The cgroups that existed before start: stop removes only newer, empty ones.
CGROUPS_FILE = 'xloud-cgroups-before'
START_TIMEOUT = 120.0

QEMU_CONF = '''\
# Written by tools/xloud_libvirtd.py: a private, throw-away libvirtd.
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
stdio_handler = "file"
'''
LIBVIRTD_CONF = '''\
# Written by tools/xloud_libvirtd.py: a private, throw-away libvirtd.
auth_unix_ro = "none"
auth_unix_rw = "none"
unix_sock_group = "root"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
'''


def log(msg):
    print('xloud-libvirtd: %s' % msg, file=sys.stderr, flush=True)


def _installed(package):
    out = subprocess.run(
        ['dpkg-query', '-W', '-f=${Status}', package],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    return out.strip() == 'install ok installed'


def missing_packages(packages=PACKAGES):
    return [p for p in packages if not _installed(p)]


def ensure_packages(packages=PACKAGES):
    """apt-get install what is missing of ``packages``; idempotent.

    :raises: RuntimeError when something is missing and we are not root,
        or apt-get fails (its log's last lines in the message)
    """
    missing = missing_packages(packages)
    if not missing:
        log('packages: all of %s already installed' % ' '.join(packages))
        return []
    if os.geteuid() != 0:
        raise RuntimeError('missing Debian packages %s; installing them '
                           'needs root' % ' '.join(missing))
    # apt's output (debconf's notes among it) goes to a log
    log_file = setup_log.start('apt-libvirtd')
    log('installing %s ... (log: %s)' % (' '.join(missing),
                                         setup_log.shown(log_file)))
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    started = time.monotonic()
    # wait for another apt-get (another job on the machine) to finish
    apt = ['apt-get', '-o', 'DPkg::Lock::Timeout=600']
    for cmd in (apt + ['update', '-qq'],
                apt + ['install', '-y', '-qq', '--no-install-recommends']
                + missing):
        setup_log.check_run(cmd, log_file, env=env)
    log('installed %d packages in %.1f s' % (
        len(missing), time.monotonic() - started))
    return missing


def available():
    """(True, '') when this machine can run a private libvirtd.

    Needs root (libvirtd's system instance, bind mounts), a working
    ``unshare -m`` (a container without CAP_SYS_ADMIN has none) and the
    packages installed.
    """
    if os.geteuid() != 0:
        return False, 'not root: a private libvirtd needs root'
    if not shutil.which('unshare'):
        return False, 'no unshare(1) (util-linux)'
    try:
        proc = subprocess.run(['unshare', '-m', 'true'],
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    except OSError as e:
        return False, 'unshare -m cannot run: %s' % e
    if proc.returncode != 0:
        return False, 'unshare -m fails here: %s' % proc.stdout.strip()
    missing = missing_packages()
    if missing:
        return False, 'Debian packages missing: %s' % ' '.join(missing)
    for path in BINARIES:
        if not os.access(path, os.X_OK):
            return False, '%s is missing' % path
    return True, ''


def _mnt_ns(pid):
    try:
        return os.readlink('/proc/%d/ns/mnt' % pid)
    except OSError:
        return None


def _pids_in_ns(ns):
    """Every process whose mount namespace is ``ns``."""
    pids = []
    for entry in os.listdir('/proc'):
        if entry.isdigit() and _mnt_ns(int(entry)) == ns:
            pids.append(int(entry))
    return pids


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours is dead for our purposes
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def _cgroup_dirs():
    """The libvirt 'machine' cgroups that exist now (v1 and v2)."""
    found = set()
    root = '/sys/fs/cgroup'
    if not os.path.isdir(root):
        return found
    for top in [root] + [os.path.join(root, d) for d in os.listdir(root)]:
        path = os.path.join(top, 'machine')
        if os.path.isdir(path):
            for dirpath, dirnames, _ in os.walk(path):
                found.add(dirpath)
    return found


class PrivateLibvirtd(object):
    """libvirtd in its own mount namespace, its state under ``base_dir``.

    ``base_dir`` keeps ``var/cache`` (QEMU's capabilities, so a second start
    is quicker) and ``var/log`` across runs; ``run`` is emptied at every
    start, so a killed earlier run leaves no stale pid files or sockets.
    """

    def __init__(self, base_dir, host_uuid=None):
        self.base_dir = os.path.abspath(base_dir)
        # libvirtd.conf's host_uuid: two daemons on one machine need
        # distinct ones, or libvirt refuses a migration between them
        # ("Attempt to migrate guest to the same host")
        self.host_uuid = host_uuid
        self.pid_file = os.path.join(self.base_dir, PID_FILE)
        self.cgroups_file = os.path.join(self.base_dir, CGROUPS_FILE)
        self.socket = os.path.join(self.base_dir, 'run', 'libvirt',
                                   'libvirt-sock')
        self.uri = 'qemu:///system?socket=%s' % self.socket
        self.log_file = os.path.join(self.base_dir, 'var', 'log', 'libvirt',
                                     'libvirtd.log')
        self._proc = None
        self._cgroups_before = None

    def _private(self, path):
        return os.path.join(self.base_dir, path.lstrip('/'))

    def _prepare(self):
        run_dir = self._private('/run')
        if os.path.isdir(run_dir):
            shutil.rmtree(run_dir)
        for path in PRIVATE_DIRS:
            os.makedirs(self._private(path), exist_ok=True)
        for path in ('/var/log/libvirt', '/var/lib/libvirt',
                     '/var/cache/libvirt', '/run/libvirt'):
            os.makedirs(self._private(path), exist_ok=True)
        with open(self._private('/etc/libvirt/qemu.conf'), 'w') as f:
            f.write(QEMU_CONF)
        with open(self._private('/etc/libvirt/libvirtd.conf'), 'w') as f:
            f.write(LIBVIRTD_CONF)
            if self.host_uuid:
                f.write('host_uuid = "%s"\n' % self.host_uuid)
        etc = self._private('/etc')
        for name, line in (
                ('passwd', 'libvirt-qemu:x:64055:64055:Libvirt Qemu:'
                           '/var/lib/libvirt:/usr/sbin/nologin'),
                ('group', 'libvirt-qemu:x:64055:libvirt-qemu')):
            with open(os.path.join('/etc', name)) as f:
                content = f.read()
            if not any(entry.split(':', 1)[0] == 'libvirt-qemu'
                       for entry in content.splitlines()):
                if content and not content.endswith('\n'):
                    content += '\n'
                content += line + '\n'
            with open(os.path.join(etc, name), 'w') as f:
                f.write(content)

    def _script(self):
        """The shell run inside the new namespace: mounts, then libvirtd."""
        lines = ['set -e']
        for path in PRIVATE_DIRS:
            lines.append('mount --bind %s %s' % (self._private(path), path))
        for name in ('passwd', 'group'):
            lines.append('mount --bind %s /etc/%s' % (
                self._private('/etc/' + name), name))
        lines.append('exec %s --pid-file /run/libvirtd.pid' % LIBVIRTD)
        return '\n'.join(lines)

    def running_pid(self):
        """The pid of our libvirtd when it runs, else None."""
        try:
            with open(self.pid_file) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        if not _alive(pid) or _mnt_ns(pid) == _mnt_ns(os.getpid()):
            return None
        return pid

    def start(self, timeout=START_TIMEOUT):
        """Start libvirtd; return the URI once a connection answers."""
        if self.running_pid():
            raise RuntimeError('a libvirtd from %s already runs (pid %d)' % (
                self.base_dir, self.running_pid()))
        ok, why = available()
        if not ok:
            raise RuntimeError('cannot run a private libvirtd: %s' % why)
        self._prepare()
        self._cgroups_before = _cgroup_dirs()
        with open(self.cgroups_file, 'w') as f:
            f.write(''.join(d + '\n' for d in sorted(self._cgroups_before)))
        out = open(self._private('/var/log/libvirtd.stdout'), 'ab')
        started = time.monotonic()
        # unshare execs sh, which execs libvirtd: the pid is libvirtd's.
        # Its own session, so it outlives the CLI that starts it.
        self._proc = subprocess.Popen(
            ['unshare', '--mount', '--propagation', 'private', '--',
             '/bin/sh', '-c', self._script()],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            start_new_session=True)
        out.close()
        with open(self.pid_file, 'w') as f:
            f.write('%d\n' % self._proc.pid)
        try:
            self._wait(started + timeout)
        except Exception:
            self.stop()
            raise
        log('libvirtd pid %d answers at %s after %.1f s' % (
            self._proc.pid, self.uri, time.monotonic() - started))
        return self.uri

    def _wait(self, deadline):
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError('libvirtd exited with %s; see %s and %s'
                                   % (self._proc.returncode,
                                      self._private(
                                          '/var/log/libvirtd.stdout'),
                                      self.log_file))
            if os.path.exists(self.socket):
                # 'version' makes the QEMU driver answer (capabilities
                # probed), not just the socket accept.
                proc = subprocess.run(
                    ['virsh', '-c', self.uri, 'version'],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                    text=True)
                if proc.returncode == 0:
                    return
            if time.monotonic() >= deadline:
                raise RuntimeError('libvirtd did not answer at %s in time; '
                                   'see %s' % (self.uri, self.log_file))
            time.sleep(0.2)

    def stop(self, timeout=30.0):
        """Stop every guest, libvirtd and whatever else runs in its namespace.

        Guests are destroyed through libvirt first, so it removes their
        cgroups and state itself; then every process left in the namespace
        gets SIGTERM, and SIGKILL after ``timeout``. The bind mounts exist
        only in that namespace: they go with its last process.
        """
        pid = self._proc.pid if self._proc else self.running_pid()
        if pid is None or not _alive(pid):
            self._reap()
            self._remove_cgroups()
            self._forget()
            return
        ns = _mnt_ns(pid)
        if ns is None or ns == _mnt_ns(os.getpid()):
            # never kill processes of the host's own namespace
            raise RuntimeError('pid %d is not in a private namespace' % pid)
        self._destroy_guests()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = [p for p in _pids_in_ns(ns) if _alive(p)]
            for p in pids:
                try:
                    os.kill(p, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                self._reap()
                if not [p for p in _pids_in_ns(ns) if _alive(p)]:
                    break
                time.sleep(0.1)
            else:
                continue
            break
        self._reap()
        self._remove_cgroups()
        self._forget()

    def _destroy_guests(self):
        if not os.path.exists(self.socket):
            return
        proc = subprocess.run(
            ['virsh', '-c', self.uri, 'list', '--name'],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            timeout=30)
        for name in proc.stdout.split():
            subprocess.run(['virsh', '-c', self.uri, 'destroy', name],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)

    def _remove_cgroups(self):
        """rmdir the empty libvirt cgroups that appeared during our run.

        libvirt (no systemd-machined here) makes a 'machine' cgroup per
        controller for its guests and leaves it behind; rmdir removes a
        cgroup only when it has no processes and no children, so a cgroup
        another libvirtd uses now stays.
        """
        before = self._cgroups_before
        if before is None:
            # stop from another process (the CLI): what start wrote down
            try:
                with open(self.cgroups_file) as f:
                    before = set(f.read().split())
            except OSError:
                return
        for path in sorted(_cgroup_dirs() - before, key=len, reverse=True):
            try:
                os.rmdir(path)
            except OSError:
                pass

    def _reap(self):
        if self._proc is not None:
            self._proc.poll()

    def _forget(self):
        self._proc = None
        self._cgroups_before = None
        for path in (self.pid_file, self.cgroups_file):
            if os.path.exists(path):
                os.unlink(path)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='cmd', required=True)
    for name, text in (('start', 'start libvirtd, print its URI'),
                       ('stop', 'stop libvirtd and its guests')):
        p = sub.add_parser(name, help=text)
        p.add_argument('--dir', required=True,
                       help='the private state folder')
    sub.add_parser('ensure-packages', help='apt-get install what is missing')
    sub.add_parser('available', help='say whether this machine can run it')
    args = parser.parse_args(argv)
    if args.cmd == 'ensure-packages':
        ensure_packages()
        return 0
    if args.cmd == 'available':
        ok, why = available()
        print('yes' if ok else 'no: %s' % why)
        return 0 if ok else 1
    daemon = PrivateLibvirtd(args.dir)
    if args.cmd == 'start':
        print(daemon.start())
        return 0
    daemon.stop()
    log('stopped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
