# Copyright 2026 XLoud. Licensed under the Apache License, Version 2.0.
"""What deploy_to_containers.sh runs inside a Nova container.

It is piped to the container's own ``python3 -B -`` (nothing is copied into
the container to run it), with the deployment manifest (see
``upgrade/xloud_artifact.py manifest``) put in front of it by the deploy
script as ``MANIFEST_B64``. Standard library only; it runs on the
Python the container has (3.8 and newer).

Commands (one per argument list; results as JSON on stdout, errors as one
``xloud-incontainer: error: ...`` line on stderr and exit status 1):

``info``           Python version, nova's site-packages, installed version
``record``         does the deployed tree match the artifact's RECORD?
``backup``         tar.gz of nova/ and nova-*.dist-info, written to stdout
``install WHEEL``  replace nova/ and its dist-info with the wheel's
``restore TAR``    replace them with a backup's
``compare-tar TAR`` does the deployed tree match a backup?
``clear-bytecode`` remove nova's __pycache__ folders
``verify``         the manifest's checks: our modules import, our entry
                   points are registered, the '# xloud' markers are there
                   (and routes, when the patch set has any)
"""

import base64
import gzip
import hashlib
import importlib
import json
import os
import shutil
import sys
import tarfile
import zipfile
import zlib

MANIFEST_B64 = globals().get('MANIFEST_B64')  # set by the deploy script
MARKER = '# xloud'
# The python:3.X images' site-packages, X the oldest Python of the
# wheel's series (from the manifest; 3.10 without one, e.g. a rollback).
DEFAULT_SITE_PACKAGES = '/usr/local/lib/python%s/site-packages' % (
    json.loads(zlib.decompress(base64.b64decode(MANIFEST_B64))).get(
        'min_python', '3.10') if MANIFEST_B64 else '3.10')


class Failure(Exception):
    pass


def manifest():
    if not MANIFEST_B64:
        raise Failure('no manifest was appended to this helper')
    return json.loads(zlib.decompress(base64.b64decode(MANIFEST_B64)))


def fail_injected(step):
    """Test hook: XLOUD_INJECT_FAILURE=<step> makes <step> fail here."""
    if os.environ.get('XLOUD_INJECT_FAILURE') == step:
        raise Failure('injected failure at %s' % step)


# ---------------------------------------------------------------- locating

def site_packages(explicit):
    """nova's site-packages: the given one, the default, or detected."""
    if explicit:
        if not os.path.isdir(os.path.join(explicit, 'nova')):
            raise Failure('NOVA_SITE_PACKAGES=%s has no nova/ package'
                          % explicit)
        return explicit, 'given'
    if os.path.isdir(os.path.join(DEFAULT_SITE_PACKAGES, 'nova')):
        return DEFAULT_SITE_PACKAGES, 'default'
    import importlib.util
    spec = importlib.util.find_spec('nova')
    if spec is None or not spec.origin:
        raise Failure('nova is not importable by %s and %s has no nova/'
                      % (sys.executable, DEFAULT_SITE_PACKAGES))
    return os.path.dirname(os.path.dirname(spec.origin)), 'detected'


def dist_infos(sp):
    return sorted(n for n in os.listdir(sp)
                  if n.endswith('.dist-info') and
                  n.split('-', 1)[0].lower() == 'nova')


def installed_version(sp):
    versions = []
    for d in dist_infos(sp):
        meta = os.path.join(sp, d, 'METADATA')
        if not os.path.exists(meta):
            continue
        with open(meta, encoding='utf-8') as f:
            for line in f:
                if line.startswith('Version:'):
                    versions.append(line.split(':', 1)[1].strip())
                    break
                if not line.strip():
                    break
    return versions


def owned_paths(sp):
    """Top-level names the deployment owns: nova/ and nova's dist-info."""
    names = dist_infos(sp)
    if os.path.isdir(os.path.join(sp, 'nova')):
        names.insert(0, 'nova')
    return names


def walk_files(sp, names):
    for name in names:
        top = os.path.join(sp, name)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for fn in sorted(filenames):
                yield os.path.relpath(os.path.join(dirpath, fn), sp)


def is_data(path):
    """The wheel's .data/ (etc/nova samples, the wsgi scripts).

    They install outside site-packages, no patch changes them, and the
    container's own copies (or its /etc/nova) are the ones in use: they
    are neither installed nor compared.
    """
    return path.split('/', 1)[0].endswith('.data')


def sha256_b64(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return base64.urlsafe_b64encode(h.digest()).rstrip(b'=').decode()


# ---------------------------------------------------------------- commands

def cmd_info(sp, how, args):
    return {
        'python': '%d.%d.%d' % sys.version_info[:3],
        'executable': sys.executable,
        'site_packages': sp,
        'site_packages_source': how,
        'dist_infos': dist_infos(sp),
        'versions': installed_version(sp),
    }


def record_diff(sp):
    """Compare the deployed tree with the artifact's RECORD."""
    man = manifest()
    want = {}
    for path, digest, _size in man['record']:
        if digest and not is_data(path):
            want[path] = digest.split('=', 1)[1]
    missing, changed = [], []
    for path, digest in sorted(want.items()):
        full = os.path.join(sp, path)
        if not os.path.isfile(full):
            missing.append(path)
        elif sha256_b64(full) != digest:
            changed.append(path)
    record_paths = set(p for p, _, _ in man['record'] if not is_data(p))
    extra = []
    for path in walk_files(sp, owned_paths(sp)):
        if '__pycache__' in path.split(os.sep) or path in record_paths:
            continue
        top = path.split(os.sep, 1)[0]
        if top == man['dist_info'] and os.path.basename(path) in (
                'INSTALLER', 'REQUESTED', 'direct_url.json'):
            continue
        extra.append(path)
    return {
        'version': man['version'],
        'installed': installed_version(sp),
        'in_sync': not (missing or changed or extra),
        'files': len(want),
        'missing': missing,
        'changed': changed,
        'extra': extra,
    }


def cmd_record(sp, how, args):
    return record_diff(sp)


def cmd_backup(sp, how, args):
    fail_injected('backup-stream')
    names = owned_paths(sp)
    if 'nova' not in names:
        raise Failure('%s has no nova/ to back up' % sp)
    out = sys.stdout.buffer
    with gzip.GzipFile(fileobj=out, mode='wb', compresslevel=1) as gz:
        with tarfile.open(fileobj=gz, mode='w|') as tar:
            for name in names:
                tar.add(os.path.join(sp, name), arcname=name)
    out.flush()
    return None


def _swap_in(sp, stage, new_names, hook=None):
    """Replace nova/ and nova's dist-info in sp by stage's entries.

    The old entries are deleted, not moved aside: on overlayfs (Docker's
    overlay2, Podman) a folder of the image's layer cannot be renamed
    (EXDEV), and copying it would double the time. The caller holds a
    backup taken just before; a failure here is repaired from it.
    """
    for name in owned_paths(sp):
        shutil.rmtree(os.path.join(sp, name))
    for name in new_names:
        os.rename(os.path.join(stage, name), os.path.join(sp, name))
        if hook:
            fail_injected(hook)


def _stage_dir(sp):
    stage = os.path.join(sp, '.xloud-stage-%d' % os.getpid())
    shutil.rmtree(stage, ignore_errors=True)
    os.mkdir(stage)
    return stage


def cmd_install(sp, how, args):
    wheel = args[0]
    man = manifest()
    stage = _stage_dir(sp)
    try:
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
            tops = sorted(set(n.split('/', 1)[0] for n in names
                              if not is_data(n)))
            if tops != sorted(['nova', man['dist_info']]):
                raise Failure('unexpected top-level entries in %s: %s'
                              % (wheel, tops))
            for info in zf.infolist():
                if is_data(info.filename):
                    continue  # see is_data()
                target = os.path.realpath(os.path.join(stage, info.filename))
                if not target.startswith(os.path.realpath(stage) + os.sep):
                    raise Failure('unsafe path in wheel: %s' % info.filename)
                zf.extract(info, stage)
                mode = (info.external_attr >> 16) & 0o777
                if mode and not info.is_dir():
                    os.chmod(target, mode | 0o644)
        _swap_in(sp, stage, ['nova', man['dist_info']], 'install-swap')
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return {'installed': installed_version(sp)}


def _open_tar(path):
    tar = tarfile.open(path, mode='r:gz')
    members = tar.getmembers()
    for m in members:
        top = m.name.split('/', 1)[0]
        if m.name.startswith('/') or '..' in m.name.split('/') or not (
                top == 'nova' or (top.endswith('.dist-info') and
                                  top.lower().startswith('nova-'))):
            raise Failure('unexpected member %r in backup %s' % (m.name, path))
    return tar, members


def cmd_restore(sp, how, args):
    tar, members = _open_tar(args[0])
    stage = _stage_dir(sp)
    try:
        with tar:
            if hasattr(tarfile, 'tar_filter'):
                tar.extractall(stage, members, filter='tar')
            else:
                tar.extractall(stage, members)
        names = sorted(os.listdir(stage))
        _swap_in(sp, stage, names)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return {'restored': installed_version(sp)}


def cmd_compare_tar(sp, how, args):
    tar, members = _open_tar(args[0])
    differ, want = [], set()
    with tar:
        for m in members:
            if not m.isfile():
                continue
            want.add(m.name)
            full = os.path.join(sp, m.name)
            if not os.path.isfile(full):
                differ.append(m.name)
                continue
            h = hashlib.sha256(tar.extractfile(m).read()).hexdigest()
            with open(full, 'rb') as f:
                if hashlib.sha256(f.read()).hexdigest() != h:
                    differ.append(m.name)
    extra = [p for p in walk_files(sp, owned_paths(sp))
             if p not in want and '__pycache__' not in p.split(os.sep)]
    return {'same': not (differ or extra), 'differ': differ, 'extra': extra,
            'installed': installed_version(sp)}


def cmd_clear_bytecode(sp, how, args):
    removed = 0
    for dirpath, dirnames, _ in os.walk(os.path.join(sp, 'nova')):
        if '__pycache__' in dirnames:
            shutil.rmtree(os.path.join(dirpath, '__pycache__'))
            dirnames.remove('__pycache__')
            removed += 1
    fail_injected('clear-bytecode')
    return {'removed_pycache_dirs': removed}


def _entry_points(group):
    import importlib.metadata as md
    eps = md.entry_points()
    if hasattr(eps, 'select'):
        return list(eps.select(group=group))
    return list(eps.get(group, []))


def cmd_verify(sp, how, args):
    man = manifest()
    checks = man['checks']
    if sp not in sys.path:
        sys.path.insert(0, sp)
    problems, done = [], []
    versions = installed_version(sp)
    if versions != [man['version']]:
        problems.append('installed version %s, expected %s' % (
            versions, man['version']))
    for mod in checks['modules']:
        try:
            importlib.import_module(mod)
        except Exception as e:  # any import error is the finding
            problems.append('import %s: %s: %s' % (mod, type(e).__name__, e))
    done.append('%d modules import' % len(checks['modules']))
    for ep in checks['entry_points']:
        found = [e for e in _entry_points(ep['group'])
                 if e.name == ep['name']]
        if not any(e.value == ep['value'] for e in found):
            problems.append('entry point %s = %s missing from group %s' % (
                ep['name'], ep['value'], ep['group']))
    done.append('%d entry points' % len(checks['entry_points']))
    markers = checks['markers']
    overlay = set(markers['overlay_files'])
    counted = {}
    for path in walk_files(sp, ['nova']):
        if path in overlay or '__pycache__' in path.split(os.sep):
            continue
        with open(os.path.join(sp, path), encoding='utf-8',
                  errors='replace') as f:
            n = sum(1 for line in f if MARKER in line)
        if n:
            counted[path] = n
    if counted != markers['in_tree']:
        problems.append("'%s' markers in upstream files: %s, expected %s"
                        % (MARKER, counted, markers['in_tree']))
    done.append('%d %r markers in upstream files (+%d outside the package,'
                ' checked as entry points)' % (
                    sum(counted.values()), MARKER,
                    sum(markers['outside_tree'].values())))
    routes = checks.get('routes') or []
    if routes:
        r = importlib.import_module('nova.api.openstack.compute.routes')
        paths = set(entry[0] for entry in r.ROUTE_LIST)
        for route in routes:
            if route not in paths:
                problems.append('route %s is not in ROUTE_LIST' % route)
        done.append('%d routes' % len(routes))
    else:
        done.append('routes: none in the patch set, not checked')
    fail_injected('verify')
    if problems:
        raise Failure('verify failed: ' + '; '.join(problems))
    return {'verified': done}


COMMANDS = {
    'info': cmd_info,
    'record': cmd_record,
    'backup': cmd_backup,
    'install': cmd_install,
    'restore': cmd_restore,
    'compare-tar': cmd_compare_tar,
    'clear-bytecode': cmd_clear_bytecode,
    'verify': cmd_verify,
}


def main(argv):
    if not argv or argv[0] not in COMMANDS:
        print('usage: xloud_incontainer.py {%s} [args]' % ','.join(COMMANDS),
              file=sys.stderr)
        return 2
    try:
        sp, how = site_packages(os.environ.get('NOVA_SITE_PACKAGES', ''))
        result = COMMANDS[argv[0]](sp, how, argv[1:])
    except (Failure, OSError, tarfile.TarError, zipfile.BadZipFile) as e:
        print('xloud-incontainer: error: %s' % e, file=sys.stderr)
        return 1
    if result is not None:
        print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
