"""Check the sandbox's user-namespace backend as an unprivileged user (run as root: it drops to
`nobody` with setpriv for the launcher). Not a CI test: it needs an interpreter that user can
run (the project's may lie under a closed /root), e.g. the system's.

    PYTHONPATH=. python perf/sandbox_unprivileged.py --python /usr/bin/python3.11

Prints each case's launcher report and the processes `nobody` still has afterwards (none expected).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time

from capability_tests.sandbox.run import _sources

ADD_TEST = "def check(candidate):\n    assert candidate(2, 3) == 5\n"
CASES = {
    "right": "def add(a, b):\n    return a + b",
    "wrong": "def add(a, b):\n    return a - b",
    "fork bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n"
                 "        pass\n",
    "write /var/tmp": "def add(a, b):\n    try:\n        open('/var/tmp/x-nobody', 'w').write('x')\n"
                      "        return 5\n    except OSError:\n        return 0\n",
    "connect 127.0.0.1:22": "import socket\ndef add(a, b):\n    try:\n"
                            "        socket.create_connection(('127.0.0.1', 22), timeout=1)\n"
                            "        return 5\n    except OSError:\n        return 0\n",
    "unshare (filter)": "import ctypes\ndef add(a, b):\n"
                        "    return 5 if ctypes.CDLL(None).unshare(0x10000000) == 0 else 0\n",
    "path socket": "import socket\ndef add(a, b):\n    try:\n"
                   "        socket.socket(socket.AF_UNIX).connect('/run/dbus/system_bus_socket')\n"
                   "        return 5\n    except OSError:\n        return 0\n",
    "minimal /dev": "import os\ndef add(a, b):\n"
                    "    return 5 if os.path.exists('/dev/fuse') else 0\n",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--python", default="/usr/bin/python3")
    parser.add_argument("--user", default="65534")
    args = parser.parse_args()
    launcher, tester, candidate = _sources()
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(args.python)))
    for name, program in CASES.items():
        job = {"parent_pid": os.getpid(), "python": os.path.realpath(args.python),
               "prefix": prefix, "backend": "auto", "wall": 3.0, "cpu": 4, "memory": 2 << 30,
               "fsize": 16 << 20, "nproc": 32, "tmpfs_bytes": 64 << 20,
               "tester_source": tester, "candidate_source": candidate,
               "tester_job": {"mode": "function", "prompt": "", "test": ADD_TEST,
                              "entry_point": "add"},
               "candidate_job": {"program": program, "mode": "function", "entry_point": "add"}}
        start = time.monotonic()
        done = subprocess.run(["setpriv", "--reuid", args.user, "--regid", args.user,
                               "--clear-groups", args.python, "-I", "-S", "-B", "-c", launcher],
                              input=(json.dumps(job) + "\n").encode(), capture_output=True, env={})
        report = json.loads(done.stdout.decode().strip().splitlines()[-1])
        print(f"{name:22} {time.monotonic() - start:5.2f} s  backend={report['backend']} "
              f"verdict={report['verdict']} timed_out={report['timed_out']}")
    time.sleep(1)
    left = subprocess.run(["ps", "-u", args.user, "-o", "pid=,comm="], capture_output=True, text=True)
    print("processes left:", left.stdout.split() or "none")
    print("/var/tmp/x-nobody exists:", os.path.exists("/var/tmp/x-nobody"))


if __name__ == "__main__":
    main()
