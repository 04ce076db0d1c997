#!/usr/bin/env python3
"""Writes the seed corpora, dictionaries and options of the fuzz targets.

    python3 fuzz/make_seeds.py            # rewrites corpus/<target>/ and
                                          # corpus/<target>.{dict,options}

The byte format is the one fuzz/fuzz_decode.h documents: byte 0 picks
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


def repeated(kind, n, size):
    """n sends of size bytes, as instructions of kind (a + 1) repeats each."""
    out = b""
    while n > 0:
        k = min(n, 32)
        out += bytes([(kind << 5) | (k - 1), SIZES.index(size)])
        n -= k
    return out


def sends(n, size):
    return repeated(6, n, size)


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
        seeds[f"t{t}_basic"] = (bytes([t]) + send(100) + send(4096) + recv() + recv() + send(0) + recv()
                                + CLOSE + recv() + wait())
        seeds[f"t{t}_chunks"] = bytes([t]) + send(4097) + recv(7) + recv(1000) + recv(4096) + recv() + CLOSE + recv()
        # Full: 96 KiB in 12 messages (over a pipe's, a ring's and a queue's room).
        seeds[f"t{t}_full"] = bytes([t]) + sends(12, 8192) + recvs(13) + CLOSE + recv()
        seeds[f"t{t}_big"] = bytes([t]) + send(65537) + send(1) + recv(7) + send(70000) + recvs(4) + CLOSE + recvs(3)
        seeds[f"t{t}_small_buffer"] = bytes([t]) + send(1000) + recv(16) + recv(1000) + send(8193) + recv(8192) + recv() + wait(2)
        # Wrap-around: 72 KiB through a 64 KiB ring, in few steps (every step
        # of a seed is paid by each input made from it).
        seeds[f"t{t}_wrap"] = bytes([t]) + (send(8191) + recv()) * 9 + CLOSE + recv()
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


# Multi-process targets (<family>_mp): the reader and the current writer.
def mp_send(size, blocking=True):
    return bytes([((0 if blocking else 1) << 5) | SIZES.index(size)])


def mp_recv(cap=0, blocking=True):
    return bytes([((2 if blocking else 3) << 5) | CAPS.index(cap)])


def mp_writer(w):
    return bytes([(4 << 5) | (w - 1)])


MP_CLOSE = bytes([5 << 5])
MP_KILL = bytes([6 << 5])


def mp_sends(n, size):
    return repeated(7, n, size)


def mp_seeds(nt, two_writers, atomic=4096):
    """Seeds for a multi-process family: blocking both ways, a full channel,
    writers killed mid-stream, two writers racing (where allowed)."""
    seeds = {}
    for t in range(nt):
        b = bytes([t])
        seeds[f"t{t}_basic"] = b + mp_send(100) + mp_recv() + mp_send(0) + mp_recv() + MP_CLOSE + mp_recv()
        seeds[f"t{t}_chunks"] = b + mp_send(4097) + mp_recv(7) * 3 + mp_recv(1000) + mp_recv(4096) + MP_CLOSE
        seeds[f"t{t}_full"] = b + mp_sends(40, 4096) + mp_recv() * 4
        seeds[f"t{t}_nonblocking"] = b + (mp_send(1000, False) + mp_recv(0, False)) * 12 + mp_sends(3, 8192)
        seeds[f"t{t}_small_buffer"] = b + mp_send(1000) + mp_recv(16) + mp_recv(1000) + mp_send(8193) + mp_recv(8192) + mp_recv()
        seeds[f"t{t}_killed"] = b + mp_sends(5, 100) + MP_KILL + mp_recv() * 3
        seeds[f"t{t}_killed_full"] = b + mp_sends(20, 8192) + MP_KILL + mp_recv(1000) + mp_recv()
        if two_writers:
            size = min(atomic, 4096)
            seeds[f"t{t}_two_writers"] = (b + mp_writer(1) + mp_sends(16, size) + mp_writer(2) + mp_sends(16, size)
                                          + mp_recv() * 8 + mp_writer(1) + MP_CLOSE + mp_writer(2) + mp_sends(4, 100))
            seeds[f"t{t}_two_writers_kill"] = (b + mp_writer(2) + mp_sends(8, 1000) + MP_KILL + mp_writer(1)
                                               + mp_sends(8, 2048) + mp_recv(0, False) * 4 + mp_recv())
    return seeds


def mp_counter_seeds():
    b = bytes([0])
    return {
        "sum": b + mp_send(8) * 3 + mp_recv() + mp_recv(0, False),
        "errors": b + mp_send(3) + mp_send(9) + mp_send(8) + mp_recv(4) + mp_recv(7) + mp_recv(8),
        "killed": b + mp_sends(6, 8) + MP_KILL + mp_recv(),
        "two_writers": b + mp_writer(1) + mp_sends(10, 8) + mp_writer(2) + mp_sends(10, 8) + mp_recv() * 5,
    }


DICT_MP = [mp_send(4096), mp_send(8192), mp_send(65536), mp_send(100, False), mp_recv(), mp_recv(7),
           mp_recv(0, False), MP_CLOSE, MP_KILL, mp_writer(1), mp_writer(2), mp_sends(16, 4096)]


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
        f.write(f"# fuzz_{name}: instruction sequences (see fuzz/fuzz_decode.h)\n")
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
    plugin = channel_seeds(1)
    plugin.update({f"counter_{k}": v for k, v in counter_seeds().items()})
    write_target("plugin", plugin, DICT_CHANNEL + [send(8), recv(4)])
    write_target("pipe_mp", mp_seeds(2, True), DICT_MP, max_len=1024)
    write_target("socket_mp", mp_seeds(6, True), DICT_MP, max_len=1024)
    write_target("sysv_msg_mp", mp_seeds(1, True, 8192), DICT_MP, max_len=1024)
    write_target("posix_mq_mp", mp_seeds(1, True, 8192), DICT_MP, max_len=1024)
    write_target("shm_ring_mp", mp_seeds(2, True, 65536), DICT_MP, max_len=1024)
    write_target("eventfd_mp", mp_counter_seeds(), DICT_MP + [mp_send(8)], max_len=1024)


if __name__ == "__main__":
    main()
