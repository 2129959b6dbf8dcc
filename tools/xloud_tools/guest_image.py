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

- it brings online every CPU that is new (a ``cpuN`` it has not seen
  before: a hot-plugged vCPU, which the kernel does not online by itself,
  a udev rule does that in real images), never one that was online and
  was taken offline (by the guest agent's ``guest-set-vcpus``); an
  unplugged CPU is forgotten, so plugged again it is new again;
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

Loads on request, for measurements: ``xloud_cpuload=S:D`` (after S
seconds of uptime, a busy loop on each online CPU for D seconds; lines
``XLOUD-GUEST cpuload start cpus=N seconds=D`` and ``... cpuload stop``)
and ``xloud_memload=S:D:MIB`` (after S seconds, hold MIB MiB in files of
its RAM-backed root for D seconds, then free them; ``... memload start``,
``held mib=N``, ``freed mib=N``). Both run ``/bin/xloud-load cpu D`` /
``/bin/xloud-load mem MIB D``, which the guest agent's ``guest-exec`` can
run at any moment too (its lines go to the console, and to guest-exec's
captured output). ``/bin/xloud-load ramp MIB D PAUSE`` is a guest that
needs more and more: 8 MiB every PAUSE seconds up to MIB, held D seconds,
never stopped short (the ``mem`` load stops 80 MiB short of none free), so
a guest without room meets its own OOM killer (the autoscaler's ramps).

**The agent variant** (``build(agent=True)``, cached apart as
``guest-agent-<key>``) adds Debian's ``qemu-guest-agent`` (``qemu-ga``,
the machine's apt candidate: bookworm's) with every shared library it
needs and the dynamic loader: the libraries are found from the ELF
``NEEDED`` entries of the binary and of each library taken, in the
packages of its ``Depends`` closure (libc6, libglib2.0-0, libudev1,
libnuma1, liburing2, libpcre2-8-0 end up used; the ``PACKAGES`` file of
the cache folder says which soname came from which), and the
``virtio_console`` module (``CONFIG_VIRTIO_CONSOLE=m`` in Debian's kernel;
it needs only virtio and virtio_ring). Its init finds the virtio-serial
port named ``org.qemu.guest_agent.0`` in ``/sys/class/virtio-ports`` (no
udev: it makes the ``/dev/vportNpM`` node from the port's ``dev`` if
devtmpfs has none) and runs ``qemu-ga`` on it (``XLOUD-GUEST agent start
port=/dev/vportNpM``); ``xloud_agent=0`` on the command line keeps it from
starting (``XLOUD-GUEST agent off``): a guest whose channel is there but
whose agent is silent. Nova adds that channel for an image with
``hw_qemu_guest_agent=yes``.

Nova boots it from glance images with kernel_id/ramdisk_id and an empty
root disk; its command line (``root=/dev/vda console=tty0 console=ttyS0``)
makes ttyS0 the console, so the lines land in the serial log.

The packages come from the machine's apt sources with ``apt-get
download`` (nothing is installed on the host); the result is cached under
``$XDG_CACHE_HOME/xloud`` (or ``~/.cache/xloud``), keyed by the package
versions, this init and ``xloud-load``. Standard library only (Python
3.10).

API: ``build(cache_dir=None, agent=False) -> (kernel_path, initrd_path)``.
CLI: ``python tools/xloud_guest_image.py build [--agent]``.
"""

import argparse
import glob
import gzip
import hashlib
import io
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

KERNEL_META = 'linux-image-amd64'
BUSYBOX = 'busybox-static'
# Debian ships no modules.dep in the package: load in dependency order.
MODULES = ('virtio_ring', 'virtio', 'virtio_pci_modern_dev',
           'virtio_pci_legacy_dev', 'virtio_pci', 'virtio_balloon')
# The agent variant: the virtio-serial driver too (it needs only
# virtio and virtio_ring: Debian builds CONFIG_VIRTIO_CONSOLE=m).
AGENT_MODULES = MODULES + ('virtio_console',)
AGENT = 'qemu-guest-agent'
AGENT_BINARY = 'usr/sbin/qemu-ga'
# where Debian's packages keep the shared libraries (the guest's loader
# searches its lib/x86_64-linux-gnu by default: no ld.so.cache needed)
LIBRARY_DIRS = ('lib/x86_64-linux-gnu', 'usr/lib/x86_64-linux-gnu',
                'lib64', 'lib', 'usr/lib')
GUEST_LIBDIR = 'lib/x86_64-linux-gnu'
HEARTBEAT_SECONDS = 5
MARKER = 'XLOUD-GUEST'

# /bin/xloud-load: the loads, run by the init (xloud_cpuload=,
# xloud_memload=) or through the guest agent's guest-exec. Its lines go to
# the console (and to its stdout when that is not the console: guest-exec
# captures them).
LOAD = r'''#!/bin/sh
# xloud-load cpu SECONDS | xloud-load mem MIB SECONDS |
# xloud-load ramp MIB SECONDS PAUSE
say() {
    echo "@MARKER@ $*" > /dev/console
    [ -t 1 ] || echo "@MARKER@ $*"
}
memfree() {
    while read key value unit; do
        if [ "$key" = "MemFree:" ]; then echo $value; return; fi
    done < /proc/meminfo
}
case "$1" in
cpu)
    seconds=$2
    n=0
    pids=""
    for c in /sys/devices/system/cpu/cpu[0-9]*; do
        state=1
        [ -f $c/online ] && read state < $c/online
        [ "$state" = 1 ] || continue
        n=$((n + 1))
        ( while :; do :; done ) &
        pids="$pids $!"
    done
    say "cpuload start cpus=$n seconds=$seconds"
    sleep $seconds
    kill $pids 2>/dev/null
    wait
    say "cpuload stop cpus=$n"
    ;;
mem)
    mib=$2
    seconds=$3
    say "memload start mib=$mib seconds=$seconds"
    n=0
    # ramfs pages cannot be reclaimed: stop 80 MiB short of none free
    while [ $n -lt $mib ] && [ $(memfree) -gt 81920 ]; do
        chunk=8
        [ $((mib - n)) -lt 8 ] && chunk=$((mib - n))
        dd if=/dev/zero of=/tmp/xloud-memload.$$.$n bs=1M count=$chunk \
            2>/dev/null || break
        n=$((n + chunk))
    done
    say "memload held mib=$n"
    sleep $seconds
    rm -f /tmp/xloud-memload.$$.*
    say "memload freed mib=$n"
    ;;
ramp)
    # an honest guest that needs more: 8 MiB every PAUSE seconds up to MIB,
    # held SECONDS; nothing stops it short, a guest without room is the
    # OOM killer's (its kernel says so on the console)
    mib=$2
    seconds=$3
    pause=$4
    say "memload start mib=$mib seconds=$seconds pause=$pause"
    n=0
    while [ $n -lt $mib ]; do
        dd if=/dev/zero of=/tmp/xloud-memload.$$.$n bs=1M count=8 \
            2>/dev/null || break
        n=$((n + 8))
        sleep $pause
    done
    say "memload held mib=$n"
    sleep $seconds
    rm -f /tmp/xloud-memload.$$.*
    say "memload freed mib=$n"
    ;;
*)
    echo "usage: xloud-load cpu SECONDS | xloud-load mem MIB SECONDS |" \
        "xloud-load ramp MIB SECONDS PAUSE" >&2
    exit 2
    ;;
esac
'''

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
agent=1
cpuload=
memload=
for arg in $(cat /proc/cmdline); do
    case $arg in
        xloud_mode=*) mode=${arg#xloud_mode=} ;;
        xloud_fill=*) fill=${arg#xloud_fill=} ;;
        xloud_agent=*) agent=${arg#xloud_agent=} ;;
        xloud_cpuload=*) cpuload=${arg#xloud_cpuload=} ;;
        xloud_memload=*) memload=${arg#xloud_memload=} ;;
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
# The guest agent (the agent variant only): qemu-ga on the virtio-serial
# port named org.qemu.guest_agent.0. No udev here: the port is found by
# its name in sysfs, and its /dev node made if devtmpfs has none.
if [ -x /usr/sbin/qemu-ga ]; then
    if [ "$agent" = 0 ]; then
        echo "@MARKER@ agent off (xloud_agent=0)"
    else
        (
            port=""
            i=0
            while [ -z "$port" ] && [ $i -lt 300 ]; do
                for p in /sys/class/virtio-ports/*; do
                    [ -f $p/name ] || continue
                    read name < $p/name
                    [ "$name" = org.qemu.guest_agent.0 ] && port=${p##*/}
                done
                [ -z "$port" ] && sleep 0.2
                i=$((i + 1))
            done
            if [ -z "$port" ]; then
                echo "@MARKER@ agent: no port org.qemu.guest_agent.0"
                exit 0
            fi
            if [ ! -c /dev/$port ]; then
                IFS=: read major minor < /sys/class/virtio-ports/$port/dev
                mknod /dev/$port c $major $minor
            fi
            mkdir -p /run/qemu-ga
            echo "@MARKER@ agent start port=/dev/$port"
            /usr/sbin/qemu-ga -m virtio-serial -p /dev/$port \
                -t /run/qemu-ga -f /run/qemu-ga/qemu-ga.pid \
                -l /run/qemu-ga/qemu-ga.log
            echo "@MARKER@ agent exited rc=$?"
        ) &
    fi
fi
# Loads on request: xloud_cpuload=S:D (after S s of uptime, a busy loop
# on each online CPU for D s), xloud_memload=S:D:MIB (after S s, hold
# MIB MiB for D s); /bin/xloud-load runs them (guest-exec can too).
uptime_s() {
    read up idle < /proc/uptime
    echo ${up%%.*}
}
if [ -n "$cpuload" ]; then
    (
        at=${cpuload%%:*}
        seconds=${cpuload#*:}
        echo "@MARKER@ cpuload at=$at seconds=$seconds"
        while [ $(uptime_s) -lt $at ]; do sleep 0.2; done
        /bin/xloud-load cpu $seconds
    ) &
fi
if [ -n "$memload" ]; then
    (
        at=${memload%%:*}
        rest=${memload#*:}
        seconds=${rest%%:*}
        mib=${rest#*:}
        echo "@MARKER@ memload at=$at seconds=$seconds mib=$mib"
        while [ $(uptime_s) -lt $at ]; do sleep 0.2; done
        /bin/xloud-load mem $mib $seconds
    ) &
fi
# The CPUs seen online (" cpu0  cpu1 "): a CPU brings online only when it
# is new (hot-plugged: the kernel does not online it); one taken offline
# after it was online (the guest agent's guest-set-vcpus) stays offline.
known=""
last=""
beat=0
while true; do
    n=0
    present=""
    for c in /sys/devices/system/cpu/cpu[0-9]*; do
        id=${c##*/}
        present="$present $id "
        state=1
        if [ -f $c/online ]; then
            read state < $c/online
            if [ "$state" = 0 ]; then
                case "$known" in
                    *" $id "*) ;;
                    *) echo 1 > $c/online 2>/dev/null && state=1 ;;
                esac
            fi
        fi
        if [ "$state" = 1 ]; then
            case "$known" in
                *" $id "*) ;;
                *) known="$known $id " ;;
            esac
            n=$((n + 1))
        fi
    done
    # an unplugged CPU is forgotten: plugged again, it is new again
    kept=""
    for id in $known; do
        case "$present" in *" $id "*) kept="$kept $id " ;; esac
    done
    known=$kept
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


def init_script(agent=False):
    modules = AGENT_MODULES if agent else MODULES
    return (INIT.replace('@MODULES@', ' '.join(modules))
            .replace('@MODULES_COMMA@', ','.join(modules))
            .replace('@MARKER@', MARKER)
            .replace('@HEARTBEAT@', str(HEARTBEAT_SECONDS)))


def load_script():
    return LOAD.replace('@MARKER@', MARKER)


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


def _apt_show_many(packages):
    """{package: fields} of the packages apt knows (one apt-cache call)."""
    proc = subprocess.run(['apt-cache', 'show', '--no-all-versions'] +
                          list(packages), stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
    found = {}
    for paragraph in proc.stdout.split('\n\n'):
        fields = {}
        for line in paragraph.splitlines():
            if ':' in line and not line.startswith(' '):
                key, value = line.split(':', 1)
                fields.setdefault(key, value.strip())
        if fields.get('Package'):
            found.setdefault(fields['Package'], fields)
    return found


def _depends(fields):
    """The package names of a package's Depends (first alternatives)."""
    names = []
    for dep in fields.get('Depends', '').split(','):
        name = dep.split('|')[0].split('(')[0].split(':')[0].strip()
        if name:
            names.append(name)
    return names


def resolve_agent():
    """[(package, version)] of qemu-guest-agent and what it depends on.

    The closure of its Depends (Pre-Depends are the host's install tools,
    not what the binary runs with): the packages that may hold a library
    it or one of its libraries needs. Which files are taken is decided
    from the ELF NEEDED entries (``_agent_files``).
    """
    found = {}
    seen = set()
    todo = [AGENT]
    while todo:
        seen.update(todo)
        shown = _apt_show_many(todo)
        if AGENT in todo and AGENT not in shown:
            raise RuntimeError('apt knows no %s' % AGENT)
        todo = []
        # a virtual package shows nothing: its provider is listed too
        for package, fields in sorted(shown.items()):
            found[package] = fields['Version']
            todo.extend(name for name in _depends(fields)
                        if name not in seen and name not in todo)
    return sorted(found.items(), key=lambda p: (p[0] != AGENT, p[0]))


def _cache_key(packages, agent=False):
    digest = hashlib.sha256()
    for package, version in packages:
        digest.update(('%s=%s\n' % (package, version)).encode())
    digest.update(init_script(agent).encode())
    digest.update(' '.join(AGENT_MODULES if agent else MODULES).encode())
    digest.update(load_script().encode())
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


def _download_each(packages, workdir):
    """apt-get download the packages; each unpacked in its own folder.

    :returns: {package: folder}
    """
    os.makedirs(workdir)
    subprocess.run(['apt-get', '-o', 'APT::Sandbox::User=root', 'download',
                    '-q'] + ['%s=%s' % p for p in packages], cwd=workdir,
                   check=True, stdout=subprocess.DEVNULL)
    folders = {}
    for deb in sorted(glob.glob(os.path.join(workdir, '*.deb'))):
        package = os.path.basename(deb).split('_')[0]
        folder = os.path.join(workdir, 'pkg-' + package)
        subprocess.run(['dpkg-deb', '-x', deb, folder], check=True)
        folders[package] = folder
    missing = [p for p, _ in packages if p not in folders]
    if missing:
        raise RuntimeError('apt-get download gave no .deb of %s' % missing)
    return folders


def elf_dynamic(data):
    """(interpreter or None, [NEEDED sonames]) of a 64-bit x86 ELF file.

    From its program headers: PT_INTERP, and PT_DYNAMIC's DT_NEEDED
    entries, whose names are in DT_STRTAB (a virtual address, mapped to
    the file through the PT_LOAD segments).
    """
    if data[:4] != b'\x7fELF' or data[4] != 2 or data[5] != 1:
        raise ValueError('not a 64-bit little-endian ELF file')
    phoff, = struct.unpack_from('<Q', data, 0x20)
    phentsize, phnum = struct.unpack_from('<HH', data, 0x36)
    interp = None
    loads = []
    dynamic = None
    for i in range(phnum):
        (p_type, _, p_offset, p_vaddr, _, p_filesz,
         _, _) = struct.unpack_from('<IIQQQQQQ', data, phoff + i * phentsize)
        if p_type == 1:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == 2:
            dynamic = (p_offset, p_filesz)
        elif p_type == 3:
            interp = data[p_offset:p_offset + p_filesz].rstrip(
                b'\0').decode()
    if dynamic is None:
        return interp, []
    needed = []
    strtab = None
    offset, size = dynamic
    for pos in range(offset, offset + size, 16):
        tag, value = struct.unpack_from('<qQ', data, pos)
        if tag == 0:
            break
        if tag == 1:
            needed.append(value)
        elif tag == 5:
            strtab = value
    for vaddr, file_offset, filesz in loads:
        if vaddr <= strtab < vaddr + filesz:
            strtab = strtab - vaddr + file_offset
            break
    else:
        raise ValueError('DT_STRTAB is in no PT_LOAD segment')
    names = []
    for value in needed:
        end = data.index(b'\0', strtab + value)
        names.append(data[strtab + value:end].decode())
    return interp, names


def _inside(folder, path):
    """path (relative to folder) with its symlinks resolved in folder."""
    for _ in range(40):
        full = os.path.join(folder, path)
        if not os.path.islink(full):
            return full if os.path.isfile(full) else None
        target = os.readlink(full)
        if target.startswith('/'):
            path = target.lstrip('/')
        else:
            path = os.path.normpath(os.path.join(os.path.dirname(path),
                                                 target))
    return None


def _find_library(folders, soname):
    """(package, file) of the first package that holds soname."""
    for package, folder in folders.items():
        for libdir in LIBRARY_DIRS:
            found = _inside(folder, os.path.join(libdir, soname))
            if found:
                return package, found
    return None, None


def _agent_files(folders):
    """The agent and every library it needs, from the unpacked packages.

    :returns: ({guest path: (bytes, mode)}, {guest symlink: target},
        {soname: package})
    """
    binary = _inside(folders[AGENT], AGENT_BINARY)
    if not binary:
        raise RuntimeError('%s has no /%s' % (AGENT, AGENT_BINARY))
    with open(binary, 'rb') as f:
        data = f.read()
    files = {AGENT_BINARY: (data, 0o755)}
    links = {}
    provided = {}
    interp, todo = elf_dynamic(data)
    if interp:
        # the loader, by the path the binary asks for
        soname = os.path.basename(interp)
        links[interp.lstrip('/')] = os.path.relpath(
            os.path.join(GUEST_LIBDIR, soname),
            os.path.dirname(interp.lstrip('/')))
        todo.append(soname)
    while todo:
        soname = todo.pop(0)
        if soname in provided:
            continue
        package, path = _find_library(folders, soname)
        if not path:
            raise RuntimeError('no package of %s holds %s' % (
                ', '.join(sorted(folders)), soname))
        provided[soname] = package
        with open(path, 'rb') as f:
            data = f.read()
        files[os.path.join(GUEST_LIBDIR, soname)] = (data, 0o755)
        todo.extend(elf_dynamic(data)[1])
    return files, links, provided


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


def _initramfs(root, agent_files=None):
    """The initramfs; with agent_files (``_agent_files``), the agent's."""
    agent = agent_files is not None
    cpio = _Cpio()
    for name in ('bin', 'dev', 'proc', 'sys', 'lib', 'lib/modules', 'tmp'):
        cpio.dir(name)
    cpio.chardev('dev/console', 5, 1)
    cpio.chardev('dev/null', 1, 3, 0o666)
    with open(os.path.join(root, 'bin', 'busybox'), 'rb') as f:
        cpio.file('bin/busybox', f.read(), 0o755)
    cpio.symlink('bin/sh', 'busybox')
    cpio.file('bin/xloud-load', load_script().encode(), 0o755)
    for name in AGENT_MODULES if agent else MODULES:
        cpio.file('lib/modules/%s.ko' % name, _find_module(root, name))
    if agent:
        files, links, _ = agent_files
        dirs = set()
        for path in list(files) + list(links):
            parent = os.path.dirname(path)
            while parent and parent not in dirs:
                dirs.add(parent)
                parent = os.path.dirname(parent)
        for name in ('run', 'var'):
            dirs.add(name)
        for name in sorted(dirs - {'lib'}):
            cpio.dir(name)
        for path in sorted(files):
            data, mode = files[path]
            cpio.file(path, data, mode)
        for path in sorted(links):
            cpio.symlink(path, links[path])
    cpio.file('init', init_script(agent).encode(), 0o755)
    return gzip.compress(cpio.close(), mtime=0)


def build(cache_dir=None, agent=False):
    """Build (or find in the cache) the guest; return its two files.

    :param agent: the variant with Debian's qemu-guest-agent (its own
        cache folder, ``guest-agent-<key>``; the plain one is
        ``guest-<key>``)
    :returns: (kernel_path, initrd_path)
    """
    cache_dir = cache_dir or default_cache_dir()
    packages = resolve()
    agent_packages = resolve_agent() if agent else []
    key = _cache_key(packages + agent_packages, agent)
    target = os.path.join(cache_dir, ('guest-agent-%s' if agent
                                      else 'guest-%s') % key)
    kernel = os.path.join(target, 'vmlinuz')
    initrd = os.path.join(target, 'initrd.img')
    if os.path.exists(kernel) and os.path.exists(initrd):
        log('cached: %s (%s)' % (target, ', '.join(
            '%s %s' % p for p in packages + agent_packages[:1])))
        return kernel, initrd
    started = time.monotonic()
    os.makedirs(cache_dir, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix='guest-build-', dir=cache_dir)
    try:
        root = _download(packages, workdir)
        agent_files = None
        if agent:
            agent_files = _agent_files(_download_each(
                agent_packages, os.path.join(workdir, 'agent')))
        vmlinuz = glob.glob(os.path.join(root, 'boot', 'vmlinuz-*'))
        if len(vmlinuz) != 1:
            raise RuntimeError('expected one kernel in %s, found %r' % (
                packages[0][0], vmlinuz))
        staging = os.path.join(workdir, 'out')
        os.makedirs(staging)
        shutil.copy(vmlinuz[0], os.path.join(staging, 'vmlinuz'))
        with open(os.path.join(staging, 'initrd.img'), 'wb') as f:
            f.write(_initramfs(root, agent_files))
        with open(os.path.join(staging, 'PACKAGES'), 'w') as f:
            f.write(''.join('%s %s\n' % p for p in packages))
            if agent:
                provided = agent_files[2]
                versions = dict(agent_packages)
                for package in [AGENT] + sorted(
                        set(provided.values()) - {AGENT}):
                    f.write('%s %s%s\n' % (package, versions[package], ''.join(
                        ' ' + soname for soname in sorted(provided)
                        if provided[soname] == package)))
        if os.path.exists(target):
            shutil.rmtree(target)
        # a rename: a reader never sees a half-written guest
        os.rename(staging, target)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    log('built %s in %.1f s (%s)' % (target, time.monotonic() - started,
                                     ', '.join('%s %s' % p for p in
                                               packages + agent_packages[:1])))
    return kernel, initrd


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='cmd', required=True)
    b = sub.add_parser('build', help='build the guest, print its two files')
    b.add_argument('--cache-dir', help='default: %s' % default_cache_dir())
    b.add_argument('--agent', action='store_true',
                   help='the variant with qemu-guest-agent')
    args = parser.parse_args(argv)
    kernel, initrd = build(args.cache_dir, agent=args.agent)
    print(kernel)
    print(initrd)
    return 0


if __name__ == '__main__':
    sys.exit(main())
