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

"""The sandbox's processes: started, waited for, killed; and its error.

The lowest layer of the sandbox: it imports no other sandbox module, so
that every other one (keystone.py, the MariaDB/RabbitMQ starters, the
hypervisors, xloud_sandbox.py) imports it at the top and the imports go
one way. ``Supervisor`` owns the processes of one run dir: each runs in
its own session with ``XLOUD_SANDBOX=<run dir>`` in its environment, logs
to ``<run dir>/logs/<name>.log``, and is killed with its whole group; a
crashed earlier run's leftovers are found by that variable, never by name.
"""

import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER_ENV = 'XLOUD_SANDBOX'


class SandboxError(Exception):
    """A step did not do what it should; says which, with a log tail."""


def log(msg):
    print('sandbox: %s' % msg, flush=True)


# Listening ports are drawn below the kernel's ephemeral range: a port the
# kernel hands out (bind to 0) may be the source port of any outgoing
# connection before the service binds it ("Address already in use" seen
# for the neutron stand-in while nova-compute was connecting).
PORT_RANGE = (20000, 32000)


def _ephemeral_range():
    try:
        with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
            low, high = (int(x) for x in f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port(taken=()):
    """A port nothing listens on now, outside the ephemeral range."""
    low, high = PORT_RANGE
    eph_low, eph_high = _ephemeral_range()
    candidates = [p for p in range(low, high)
                  if not eph_low <= p <= eph_high and p not in taken]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(('127.0.0.1', port))
            except OSError:
                continue
            return port
    raise SandboxError('no free port in %d-%d' % PORT_RANGE)


def tail(path, lines=30):
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError as e:
        return '(no log: %s)' % e


def error_tail(path, errors=12, lines=5):
    """The last ERROR/WARNING/Traceback lines of a service log, then its
    last lines: the debug logs are too long to read whole.
    """
    try:
        with open(path, errors='replace') as f:
            text = f.readlines()
    except OSError as e:
        return '(no log: %s)' % e
    bad = [line for line in text if 'log_opt_values' not in line and (
        ' ERROR ' in line or 'Traceback' in line or 'Error:' in line)]
    return ''.join(bad[-errors:]) + '   ...\n' + ''.join(text[-lines:])


def venv_bin(name):
    """A console script of the Python running us (the tox venv)."""
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.path.exists(path):
        raise SandboxError('%s is not installed in %s (run it through '
                           'tox -e demo)' % (name, sys.prefix))
    return path


class Process(object):
    def __init__(self, name, popen, log_path, cmd=None, env=None, cwd=None):
        self.name = name
        self.popen = popen
        self.log_path = log_path
        # what kill_and_restart() starts it again with
        self.cmd, self.env, self.cwd = cmd, env, cwd


class Supervisor(object):
    """The processes started over one run dir, and how they are started,
    waited for and killed (``Sandbox`` is one, with its services).
    """

    def __init__(self, run_dir):
        self.run_dir = os.path.abspath(run_dir)
        self.procs = []

    def path(self, *parts):
        return os.path.join(self.run_dir, *parts)

    def stop_processes(self, grace=10.0, since=None, first=(), last=()):
        """Kill every process we started, in up to three waves: those
        named in ``first``, then the others, then those named in ``last``.
        Each wave: SIGTERM to every group of it at once, up to ``grace``
        seconds to exit, then SIGKILL to every group (a group may hold
        children that outlived their leader). The waves follow who calls
        whom: a service stopped while it still waits on another (a
        compute finishing an RPC handler waits for the conductor's reply,
        its RPC servers for the broker; the API servers' keep-alive
        connections for their clients) only ends at the SIGKILL. ``since``:
        when the stop began, for the time it logs.
        """
        t0 = time.monotonic() if since is None else since
        count = len(self.procs)
        self._stop_group([p for p in self.procs if p.name in first], grace)
        self._stop_group([p for p in self.procs if p.name not in last],
                         grace)
        self._stop_group(list(self.procs), grace)
        # What a killed group's member re-parented elsewhere would
        # leave: found by our marker.
        self.kill_leftovers()
        if count:
            log('stopped %d processes in %.1f s' % (
                count, time.monotonic() - t0))
        self.procs = []

    def _stop_group(self, procs, grace):
        """SIGTERM to each of ``procs``, ``grace`` seconds, SIGKILL; they
        leave ``self.procs``.
        """
        for proc in reversed(procs):
            self._signal(proc, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.popen.wait(timeout=max(0.1, deadline -
                                            time.monotonic()))
            except subprocess.TimeoutExpired:
                log('%s (pid %d) did not stop in %.0f s: killed' % (
                    proc.name, proc.popen.pid, grace))
        for proc in procs:
            self._signal(proc, signal.SIGKILL)
            proc.popen.wait()
            self.procs.remove(proc)

    @staticmethod
    def _signal(proc, sig):
        try:
            os.killpg(proc.popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def kill_leftovers(self):
        """Kill processes of an earlier run over this run dir: those
        whose environment has XLOUD_SANDBOX=<run dir>.
        """
        marker = ('%s=%s' % (MARKER_ENV, self.run_dir)).encode()
        me = os.getpid()
        found = []
        for pid in os.listdir('/proc'):
            if not pid.isdigit() or int(pid) == me:
                continue
            try:
                with open('/proc/%s/environ' % pid, 'rb') as f:
                    env = f.read().split(b'\0')
            except OSError:
                continue
            if marker in env:
                found.append(int(pid))
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if found:
            log('killed %d leftover processes: %s' % (len(found), found))
        return found

    def spawn(self, name, cmd, env=None, cwd=None):
        env = dict(env or os.environ)
        env[MARKER_ENV] = self.run_dir
        log_path = self.path('logs', '%s.log' % name)
        with open(log_path, 'ab') as out:
            popen = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=env, cwd=cwd or self.run_dir,
                start_new_session=True)
        proc = Process(name, popen, log_path, cmd, env, cwd)
        self.procs.append(proc)
        return proc

    def kill_and_restart(self, name):
        """SIGKILL service ``name`` with its whole process group (as a
        node failure or the OOM killer would: no clean-up runs), then
        start it again with the same command and environment.

        :returns: the new Process; waiting for what the restarted service
            must do is the caller's
        """
        old = [p for p in self.procs if p.name == name][0]
        self._signal(old, signal.SIGKILL)
        old.popen.wait()
        self.procs.remove(old)
        with open(old.log_path, 'ab') as out:
            out.write(b'\n---- killed (SIGKILL) and restarted by the '
                      b'sandbox ----\n')
        return self.spawn(name, old.cmd, env=old.env, cwd=old.cwd)

    def spawn_wsgi(self, name, app, port, env=None, threads=1):
        """An API service: its WSGI application ``app`` (gunicorn's
        ``module:name`` or ``module:factory()``) under gunicorn on
        127.0.0.1:``port``, one worker. Every API service runs this way on
        every series: the releases differ only in where the application
        lives (upstream.py). ``threads`` > 1 is gunicorn's threaded
        worker; 1 its sync worker, the one that suits an application that
        applies eventlet's monkey patching (nova-api 29). The worker
        timeout is generous: a loaded machine must slow a request, never
        kill it.
        """
        cmd = [venv_bin('gunicorn'), '--bind', '127.0.0.1:%d' % port,
               '--workers', '1', '--timeout', '600',
               '--access-logfile', '-', '--error-logfile', '-',
               '--pythonpath', REPO]
        if threads > 1:
            cmd += ['--threads', str(threads)]
        return self.spawn(name, cmd + [app], env=env)

    def run(self, name, cmd, env=None, timeout=300):
        """Run a set-up command to its end; its output goes to its log."""
        env = dict(env or os.environ)
        env[MARKER_ENV] = self.run_dir
        log_path = self.path('logs', '%s.log' % name)
        with open(log_path, 'ab') as out:
            rc = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=env,
                                 cwd=self.run_dir, timeout=timeout)
        if rc != 0:
            raise SandboxError('%s failed (exit %d): %s\n--- %s:\n%s' % (
                name, rc, ' '.join(cmd), log_path, tail(log_path)))

    def wait_for(self, proc, ready, what, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.popen.poll() is not None:
                raise SandboxError('%s exited (%s) before %s\n--- %s:\n%s' % (
                    proc.name, proc.popen.returncode, what, proc.log_path,
                    tail(proc.log_path)))
            if ready():
                return
            time.sleep(0.2)
        raise SandboxError('%s: no %s after %d s\n--- %s:\n%s' % (
            proc.name, what, timeout, proc.log_path, tail(proc.log_path)))

    @staticmethod
    def port_open(port):
        def ready():
            with socket.socket() as s:
                s.settimeout(0.5)
                return s.connect_ex(('127.0.0.1', port)) == 0
        return ready

    @staticmethod
    def http_ok(url):
        def ready():
            try:
                urllib.request.urlopen(url, timeout=2).close()
                return True
            except urllib.error.HTTPError:
                return True         # it answers
            except OSError:
                return False
        return ready
