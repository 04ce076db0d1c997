#!/usr/bin/env python3
"""Writes the seed corpora, dictionaries and options of the fuzz targets.

    python3 fuzz/make_seeds.py            # rewrites corpus/<target>/ and
                                          # corpus/<target>.{dict,options}

The byte format is the one properties/fuzz_decode.h documents: byte 0 picks
the transport of the family, then one instruction per byte (high 3 bits the
kind, low 5 bits the argument). The seeds reach deep states: a full pipe, a
full queue, EMSGSIZE both ways, end of stream, ring wrap-around, a counter
summed and read, signals queued, coalesced, ignored and interleaved.
"""
import os
import shutil
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")

SIZES = [0, 1, 2, 3, 7, 8, 9, 16, 63, 64, 100, 255, 256, 511, 512, 1000,
         1023, 1024, 2047, 2048, 4095, 4096, 4097, 8191, 8192, 8193, 16383,
         16384, 32768, 65535, 65536, 65537]
CAPS = [0, 1, 2, 3, 4, 7, 8, 9, 16, 32, 64, 100, 128, 256, 512, 1000, 1024,
        2048, 4095, 4096, 4097, 8191, 8192, 8193, 16384, 32768, 65535, 65536,
        65537, 131072, 7, 0]


def send(size):
    if size in SIZES:
        return bytes([SIZES.index(size)])
    return bytes([(1 << 5) | (size >> 16), size & 0xFF, (size >> 8) & 0xFF])


def recv(cap=0):
    if cap in CAPS:
        return bytes([(2 << 5) | CAPS.index(cap)])
    return bytes([3 << 5, (cap - 1) & 0xFF, ((cap - 1) >> 8) & 0xFF])


def wait(ms=1):
    return bytes([(4 << 5) | (ms - 1)])


CLOSE = bytes([5 << 5])


def sends(n, size):
    out = b""
    while n > 0:
        k = min(n, 32)
        out += bytes([(6 << 5) | (k - 1), SIZES.index(size)])
        n -= k
    return out


def recvs(n):
    out = b""
    while n > 0:
        k = min(n, 32)
        out += bytes([(7 << 5) | (k - 1)])
        n -= k
    return out


def channel_seeds(nt):
    """Seeds useful to every channel family; nt = transports in the family."""
    seeds = {}
    for t in range(nt):
        seeds[f"t{t}_basic"] = bytes([t]) + send(100) + recv() + send(0) + recv() + CLOSE + recv() + wait()
        seeds[f"t{t}_chunks"] = bytes([t]) + send(4097) + recv(7) + recv(1000) + recv(4096) + recv() + CLOSE + recv()
        seeds[f"t{t}_full"] = bytes([t]) + sends(20, 4096) + recvs(21) + CLOSE + recv()
        seeds[f"t{t}_big"] = bytes([t]) + send(65537) + send(1) + recv(7) + send(70000) + recvs(4) + CLOSE + recvs(3)
        seeds[f"t{t}_small_buffer"] = bytes([t]) + send(1000) + recv(16) + recv(1000) + send(8193) + recv(8192) + recv() + wait(2)
        seeds[f"t{t}_wrap"] = bytes([t]) + (send(1000) + send(1023) + recv() + recv()) * 40 + CLOSE + recv()
        seeds[f"t{t}_eof_early"] = bytes([t]) + send(9) + CLOSE + recv(3) + recv() + recv() + wait(3)
    return seeds


def counter_seeds():
    return {
        "sum": bytes([0]) + send(8) * 3 + recv() + recv() + wait(),
        "errors": bytes([0]) + send(4) + send(9) + send(8) + recv(4) + recv(7) + recv(8) + recv(),
        "many": bytes([0]) + sends(64, 8) + recv() + sends(5, 8) + CLOSE + recv() + recv(),
    }


SIGNALS = ["SIGHUP", "SIGPIPE", "SIGCHLD", "SIGURG", "SIGWINCH", "SIGVTALRM",
           "SIGPWR", "SIGSTKFLT", "RT0", "RT1", "RT2", "RT3", "RT5", "RT8",
           "RTMAX-1", "RTMAX"]


def sig(kind, name):
    return bytes([(kind << 5) | SIGNALS.index(name)])


QUEUE, WAIT, WAIT_ANY, BLOCK, UNBLOCK, IGNORE, HANDLE, DEFAULT = range(8)


def signal_seeds():
    rt = ["RT0", "RT1", "RT3", "RTMAX"]
    return {
        "rt_queue": b"".join(sig(QUEUE, s) for s in rt * 3) + sig(WAIT_ANY, "RT0") * 13,
        "coalesce": sig(QUEUE, "SIGHUP") * 3 + sig(QUEUE, "SIGWINCH") * 2 + sig(WAIT_ANY, "RT0") * 3,
        "handled": sig(HANDLE, "RT2") + sig(QUEUE, "RT2") * 3 + sig(UNBLOCK, "RT2") + sig(QUEUE, "RT2")
                   + sig(BLOCK, "RT2") + sig(QUEUE, "RT2") + sig(WAIT, "RT2"),
        "ignored": sig(QUEUE, "RT1") * 2 + sig(IGNORE, "RT1") + sig(WAIT, "RT1") + sig(QUEUE, "RT1")
                   + sig(WAIT, "RT1") + sig(UNBLOCK, "RT1") + sig(QUEUE, "RT1") + sig(DEFAULT, "RT1"),
        "default_ignore": sig(QUEUE, "SIGCHLD") + sig(DEFAULT, "SIGCHLD") + sig(WAIT, "SIGCHLD")
                          + sig(UNBLOCK, "SIGURG") + sig(QUEUE, "SIGURG") + sig(WAIT_ANY, "RT0"),
        "interleaved": b"".join(sig(QUEUE, s) for s in ["RTMAX", "SIGPWR", "RT0", "SIGHUP", "RT8", "RT0", "SIGPWR"])
                       + sig(HANDLE, "RT0") + sig(UNBLOCK, "RT0") + sig(WAIT, "RTMAX") + sig(WAIT_ANY, "RT0") * 5,
    }


def scenario(prop, transport, steps):
    out = b"IPCSPEC1"
    for s in (prop, transport):
        out += struct.pack("<I", len(s)) + s.encode()
    out += struct.pack("<I", len(steps))
    for op, actor, size, arg in steps:
        out += struct.pack("<BIQQ", op, actor, size, arg)
    return out


TRY_SEND, TRY_RECV, CLOSE_OP, WAIT_OP = 3, 4, 5, 8


def scenario_seeds():
    return {
        "gmodel_pipe": scenario("G-MODEL", "pipe", [(TRY_SEND, 1, 4096, 0), (TRY_RECV, 0, 7, 0), (CLOSE_OP, 1, 0, 0)]),
        "gorder_mq": scenario("G-ORDER", "posix_mq", [(1, 1, 4096, 0), (1, 1, 0, 1)]),
        "param": scenario("G-INTEGRITY", "sysv_msg", [(7, 0, 99, 2), (10, 1, 5, 0), (2, 0, 0, 0)]),
        "empty": scenario("", "", []),
    }


DICT_CHANNEL = [send(4096), send(8192), send(8193), send(65536), send(65537), recv(), recv(7), CLOSE,
                sends(16, 4096), sends(10, 8192), recvs(16), wait()]


def write_target(name, seeds, dict_tokens, max_len=4096):
    d = os.path.join(ROOT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for k, v in seeds.items():
        with open(os.path.join(d, k), "wb") as f:
            f.write(v)
    with open(os.path.join(ROOT, name + ".dict"), "w") as f:
        f.write(f"# fuzz_{name}: instruction sequences (see properties/fuzz_decode.h)\n")
        for i, tok in enumerate(dict_tokens):
            f.write('tok%d="%s"\n' % (i, "".join("\\x%02x" % b for b in tok)))
    with open(os.path.join(ROOT, name + ".options"), "w") as f:
        f.write(f"[libfuzzer]\nmax_len = {max_len}\ndict = {name}.dict\n")


def main():
    write_target("pipe", channel_seeds(2), DICT_CHANNEL)
    write_target("socket", channel_seeds(6), DICT_CHANNEL)
    write_target("sysv_msg", channel_seeds(1), DICT_CHANNEL)
    write_target("posix_mq", channel_seeds(1), DICT_CHANNEL)
    write_target("shm_ring", channel_seeds(2), DICT_CHANNEL)
    write_target("eventfd", counter_seeds(), [send(8), recv(), send(4), recv(4), sends(8, 8)])
    write_target("signal", signal_seeds(),
                 [sig(k, s) for k in (QUEUE, BLOCK, UNBLOCK, HANDLE, IGNORE) for s in ("SIGHUP", "RT0", "RTMAX")])
    write_target("scenario", scenario_seeds(), [b"IPCSPEC1", b"G-MODEL", b"posix_mq", b"pipe"])


if __name__ == "__main__":
    main()
