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

"""A tiny guest that tells, on its serial console, what it really runs.

The proof that a live adjust reached a guest must come from the guest
itself, not from libvirt. This builds a Debian kernel and an initramfs of
busybox-static plus the virtio modules (virtio_balloon among them), whose
``/init`` needs no root disk: it mounts proc, sys and dev, loads the
modules, and then loops forever:

- it brings every offline CPU online (writes 1 to
  ``/sys/devices/system/cpu/cpuN/online``): the kernel does not online a
  hot-plugged vCPU by itself, a udev rule does that in real images;
- it prints ``XLOUD-GUEST cpus_online=N memtotal_kb=M up=S`` to the console
  whenever N or M changes, and again every few seconds as a heartbeat.

Its kernel command line chooses how it treats its memory balloon
(``xloud_mode=``): ``cooperative`` (the default: it loads virtio_balloon),
``noballoon`` (it never loads it: the balloon is then only a request
nothing answers) or ``unload`` (it loads it, waits until the balloon holds
memory, then ``rmmod``s it, which gives the guest all its memory back);
``xloud_fill=1`` makes it fill its memory once its balloon (if any) has
inflated (8 MiB files in its RAM-backed root, until 80 MiB would be left
free: ramfs pages cannot be reclaimed, so a fuller guest panics), printing
``XLOUD-GUEST fill filled_mb=N`` as it goes: the guest that takes what it
can; ``xloud_fill=cpuN`` fills once N CPUs are online instead (a trigger
the host pulls with a vCPU hotplug).

Nova boots it from glance images with kernel_id/ramdisk_id and an empty
root disk; its command line (``root=/dev/vda console=tty0 console=ttyS0``)
makes ttyS0 the console, so the lines land in the serial log.

Both packages come from the machine's apt sources with ``apt-get
download`` (nothing is installed on the host); the result is cached under
``$XDG_CACHE_HOME/xloud`` (or ``~/.cache/xloud``), keyed by the package
versions and this init. Standard library only (Python 3.10).

API: ``build(cache_dir=None) -> (kernel_path, initrd_path)``.
CLI: ``python tools/xloud_guest_image.py build``.
"""

import argparse
import glob
import gzip
import hashlib
import io
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
import time

KERNEL_META = 'linux-image-amd64'
BUSYBOX = 'busybox-static'
# Debian ships no modules.dep in the package: load in dependency order.
MODULES = ('virtio_ring', 'virtio', 'virtio_pci_modern_dev',
           'virtio_pci_legacy_dev', 'virtio_pci', 'virtio_balloon')
HEARTBEAT_SECONDS = 5
MARKER = 'XLOUD-GUEST'

INIT = r'''#!/bin/busybox sh
# /init of the xloud test guest (tools/xloud_guest_image.py).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# xloud_mode= on the kernel command line: cooperative (default: loads its
# balloon driver), noballoon (never loads it), unload (loads it, lets the
# balloon inflate, then removes the driver); xloud_fill=1 fills the memory.
mode=cooperative
fill=0
for arg in $(cat /proc/cmdline); do
    case $arg in
        xloud_mode=*) mode=${arg#xloud_mode=} ;;
        xloud_fill=*) fill=${arg#xloud_fill=} ;;
    esac
done
# xloud_fill=cpuN: fill only once N CPUs are online (the host's trigger: a
# vCPU hotplug, e.g. after a live migration)
fill_cpus=0
case $fill in
    cpu*) fill_cpus=${fill#cpu}; fill=1 ;;
esac
for m in @MODULES@; do
    if [ $m = virtio_balloon ] && [ $mode = noballoon ]; then continue; fi
    insmod /lib/modules/$m.ko || echo "@MARKER@ insmod $m failed"
done
# Keep kernel messages (a CPU coming up, ...) off the console: our lines
# stay whole.
echo 1 > /proc/sys/kernel/printk
echo "@MARKER@ init done modules=@MODULES_COMMA@ mode=$mode fill=$fill"
memkb() {
    while read key value unit; do
        if [ "$key" = "$1:" ]; then echo $value; return; fi
    done < /proc/meminfo
}
if [ $mode = unload ] || { [ "$fill" = 1 ] && [ $mode != noballoon ]; }; then
    # wait until the balloon holds memory (MemTotal below 3/4 of boot's,
    # or 60 s): filling while it inflates starves the guest's own kernel
    start=$(memkb MemTotal)
    i=0
    while [ $(memkb MemTotal) -gt $((start * 3 / 4)) ] && [ $i -lt 300 ]; do
        sleep 0.2
        i=$((i + 1))
    done
    echo "@MARKER@ balloon inflated memtotal_kb=$(memkb MemTotal)"
fi
if [ $mode = unload ]; then
    rmmod virtio_balloon && echo "@MARKER@ balloon driver unloaded"
fi
online_cpus() {
    n=0
    for c in /sys/devices/system/cpu/cpu[0-9]*; do
        state=1
        [ -f $c/online ] && read state < $c/online
        [ "$state" = 1 ] && n=$((n + 1))
    done
    echo $n
}
if [ "$fill" = 1 ]; then
    (
        if [ $fill_cpus -gt 0 ]; then
            echo "@MARKER@ fill waits for $fill_cpus CPUs online"
            while [ $(online_cpus) -lt $fill_cpus ]; do sleep 0.2; done
        fi
        n=0
        echo "@MARKER@ fill start"
        while [ $(memkb MemFree) -gt 81920 ]; do
            dd if=/dev/zero of=/tmp/fill.$n bs=1M count=8 2>/dev/null
            n=$((n + 1))
            echo "@MARKER@ fill filled_mb=$((n * 8))"
        done
        echo "@MARKER@ fill done filled_mb=$((n * 8))"
    ) &
fi
last=""
beat=0
while true; do
    n=0
    for c in /sys/devices/system/cpu/cpu[0-9]*; do
        state=1
        if [ -f $c/online ]; then
            read state < $c/online
            if [ "$state" = 0 ]; then
                echo 1 > $c/online 2>/dev/null && state=1
            fi
        fi
        [ "$state" = 1 ] && n=$((n + 1))
    done
    mem=0
    while read key value unit; do
        if [ "$key" = "MemTotal:" ]; then mem=$value; break; fi
    done < /proc/meminfo
    read up idle < /proc/uptime
    now=${up%%.*}
    values="cpus_online=$n memtotal_kb=$mem"
    if [ "$values" != "$last" ] || [ $((now - beat)) -ge @HEARTBEAT@ ]; then
        echo "@MARKER@ $values up=$up"
        last=$values
        beat=$now
    fi
    sleep 0.2
done
'''


def log(msg):
    print('xloud-guest-image: %s' % msg, file=sys.stderr, flush=True)


def init_script():
    return (INIT.replace('@MODULES@', ' '.join(MODULES))
            .replace('@MODULES_COMMA@', ','.join(MODULES))
            .replace('@MARKER@', MARKER)
            .replace('@HEARTBEAT@', str(HEARTBEAT_SECONDS)))


def default_cache_dir():
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(
        os.path.expanduser('~'), '.cache')
    return os.path.join(base, 'xloud')


def _apt_show(package):
    proc = subprocess.run(['apt-cache', 'show', '--no-all-versions',
                           package], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
    fields = {}
    for line in proc.stdout.splitlines():
        if ':' in line and not line.startswith(' '):
            key, value = line.split(':', 1)
            fields.setdefault(key, value.strip())
    return fields


def _apt_update():
    if os.geteuid() != 0:
        raise RuntimeError('the apt lists lack a package and updating them '
                           'needs root')
    subprocess.run(['apt-get', '-o', 'DPkg::Lock::Timeout=600', 'update',
                    '-qq'], check=True)


def resolve():
    """[(package, version)] of the kernel and busybox to use.

    The kernel is the one Debian's ``linux-image-amd64`` points at now (a
    ``linux-image-6.1.0-N-amd64``), so the guest follows the stable point
    releases the way the machine's own kernel would.
    """
    meta = _apt_show(KERNEL_META)
    if not meta:
        _apt_update()
        meta = _apt_show(KERNEL_META)
    kernel = None
    for dep in meta.get('Depends', '').split(','):
        name = dep.split('(')[0].strip()
        if name.startswith('linux-image-') and name.endswith('-amd64'):
            kernel = name
            break
    if not kernel:
        raise RuntimeError('cannot tell the kernel package from %s: %r' % (
            KERNEL_META, meta.get('Depends')))
    found = []
    for package in (kernel, BUSYBOX):
        fields = _apt_show(package)
        if not fields.get('Version'):
            raise RuntimeError('apt knows no %s' % package)
        found.append((package, fields['Version']))
    return found


def _cache_key(packages):
    digest = hashlib.sha256()
    for package, version in packages:
        digest.update(('%s=%s\n' % (package, version)).encode())
    digest.update(init_script().encode())
    digest.update(' '.join(MODULES).encode())
    return digest.hexdigest()[:16]


def _download(packages, workdir):
    """apt-get download the packages and unpack them under workdir/root."""
    root = os.path.join(workdir, 'root')
    os.makedirs(root)
    # root downloads into our own folder: no '_apt' sandbox user warning
    subprocess.run(['apt-get', '-o', 'APT::Sandbox::User=root', 'download',
                    '-q'] + ['%s=%s' % p for p in packages], cwd=workdir,
                   check=True, stdout=subprocess.DEVNULL)
    for deb in sorted(glob.glob(os.path.join(workdir, '*.deb'))):
        subprocess.run(['dpkg-deb', '-x', deb, root], check=True)
    return root


def _find_module(root, name):
    pattern = os.path.join(root, 'lib', 'modules', '*', 'kernel', '**',
                           name + '.ko*')
    hits = glob.glob(pattern, recursive=True)
    if not hits:
        raise RuntimeError('module %s is not in the kernel package (it may '
                           'be built in now: check MODULES)' % name)
    path = hits[0]
    with open(path, 'rb') as f:
        data = f.read()
    if path.endswith('.xz'):
        data = lzma.decompress(data)
    elif path.endswith('.gz'):
        data = gzip.decompress(data)
    elif path.endswith('.zst'):
        raise RuntimeError('%s is zstd-compressed: not supported' % path)
    return data


class _Cpio(object):
    """A 'newc' cpio archive, what the kernel unpacks as an initramfs.

    Written here so that device nodes (/dev/console, which the kernel opens
    for init before anything is mounted) need neither root nor cpio(1).
    """

    def __init__(self):
        self.out = io.BytesIO()
        self.ino = 1

    def _entry(self, name, mode, data=b'', rdev=(0, 0), nlink=1):
        name_bytes = name.encode() + b'\0'
        header = '070701' + ''.join('%08X' % v for v in (
            self.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0],
            rdev[1], len(name_bytes), 0))
        self.ino += 1
        self.out.write(header.encode() + name_bytes)
        self._pad()
        self.out.write(data)
        self._pad()

    def _pad(self):
        self.out.write(b'\0' * (-self.out.tell() % 4))

    def dir(self, name):
        self._entry(name, 0o040755, nlink=2)

    def file(self, name, data, mode=0o644):
        self._entry(name, 0o100000 | mode, data)

    def symlink(self, name, target):
        self._entry(name, 0o120777, target.encode())

    def chardev(self, name, major, minor, mode=0o600):
        self._entry(name, 0o020000 | mode, rdev=(major, minor))

    def close(self):
        self._entry('TRAILER!!!', 0)
        return self.out.getvalue()


def _initramfs(root):
    cpio = _Cpio()
    for name in ('bin', 'dev', 'proc', 'sys', 'lib', 'lib/modules', 'tmp'):
        cpio.dir(name)
    cpio.chardev('dev/console', 5, 1)
    cpio.chardev('dev/null', 1, 3, 0o666)
    with open(os.path.join(root, 'bin', 'busybox'), 'rb') as f:
        cpio.file('bin/busybox', f.read(), 0o755)
    cpio.symlink('bin/sh', 'busybox')
    for name in MODULES:
        cpio.file('lib/modules/%s.ko' % name, _find_module(root, name))
    cpio.file('init', init_script().encode(), 0o755)
    return gzip.compress(cpio.close(), mtime=0)


def build(cache_dir=None):
    """Build (or find in the cache) the guest; return its two files.

    :returns: (kernel_path, initrd_path)
    """
    cache_dir = cache_dir or default_cache_dir()
    packages = resolve()
    target = os.path.join(cache_dir, 'guest-%s' % _cache_key(packages))
    kernel = os.path.join(target, 'vmlinuz')
    initrd = os.path.join(target, 'initrd.img')
    if os.path.exists(kernel) and os.path.exists(initrd):
        log('cached: %s (%s)' % (target, ', '.join(
            '%s %s' % p for p in packages)))
        return kernel, initrd
    started = time.monotonic()
    os.makedirs(cache_dir, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix='guest-build-', dir=cache_dir)
    try:
        root = _download(packages, workdir)
        vmlinuz = glob.glob(os.path.join(root, 'boot', 'vmlinuz-*'))
        if len(vmlinuz) != 1:
            raise RuntimeError('expected one kernel in %s, found %r' % (
                packages[0][0], vmlinuz))
        staging = os.path.join(workdir, 'out')
        os.makedirs(staging)
        shutil.copy(vmlinuz[0], os.path.join(staging, 'vmlinuz'))
        with open(os.path.join(staging, 'initrd.img'), 'wb') as f:
            f.write(_initramfs(root))
        with open(os.path.join(staging, 'PACKAGES'), 'w') as f:
            f.write(''.join('%s %s\n' % p for p in packages))
        if os.path.exists(target):
            shutil.rmtree(target)
        # a rename: a reader never sees a half-written guest
        os.rename(staging, target)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    log('built %s in %.1f s (%s)' % (target, time.monotonic() - started,
                                     ', '.join('%s %s' % p
                                               for p in packages)))
    return kernel, initrd


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='cmd', required=True)
    b = sub.add_parser('build', help='build the guest, print its two files')
    b.add_argument('--cache-dir', help='default: %s' % default_cache_dir())
    args = parser.parse_args(argv)
    kernel, initrd = build(args.cache_dir)
    print(kernel)
    print(initrd)
    return 0


if __name__ == '__main__':
    sys.exit(main())
