#!/usr/bin/env python3
"""Delay line between two network namespaces (this kernel has no netem).

Usage: tun_relay.py NETNS_A IFNAME_A NETNS_B IFNAME_B

Opens one TUN device in each namespace (setns before each open: a TUN device
is created in the namespace of the process at TUNSETIFF time) and copies every
packet to the other side after that direction's delay. The process finishes in
namespace B so `ip netns pids` finds it when the lab is torn down.

Control on stdin, one command a line, each answered on stdout:
  delay <a_to_b_ms> <b_to_a_ms>   -> "ok delay ..."
  stats                           -> "stats a_to_b=N b_to_a=N queued=N"
EOF on stdin (the lab process died) ends the relay, so it never outlives
its owner by more than a moment.

Packets wait in a heap keyed by due time; the loop sleeps in select() until the
next packet is due or input arrives, so no packet ever sleeps in the read path
and delay changes apply to packets read after the change.
"""

import ctypes
import fcntl
import heapq
import os
import select
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
MAX_PACKET = 65535
# Bounded so a flood under a long delay cannot eat memory; beyond it packets drop
# as they would on a full real link.
MAX_QUEUED = 20000

libc = ctypes.CDLL(None, use_errno=True)


def enter_netns(name):
    fd = os.open('/var/run/netns/' + name, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, 'setns(%s): %s' % (name, os.strerror(err)))
    finally:
        os.close(fd)


def open_tun(netns, ifname):
    enter_netns(netns)
    fd = os.open('/dev/net/tun', os.O_RDWR | os.O_NONBLOCK)
    ifr = struct.pack('16sH22x', ifname.encode(), IFF_TUN | IFF_NO_PI)
    fcntl.ioctl(fd, TUNSETIFF, ifr)
    return fd


def main():
    if len(sys.argv) != 5:
        sys.stderr.write('usage: tun_relay.py NETNS_A IFNAME_A NETNS_B IFNAME_B\n')
        return 2
    ns_a, if_a, ns_b, if_b = sys.argv[1:5]
    fd_a = open_tun(ns_a, if_a)
    fd_b = open_tun(ns_b, if_b)
    # delay in seconds for packets read from A (sent to B) and the reverse
    delay = {fd_a: 0.0, fd_b: 0.0}
    other = {fd_a: fd_b, fd_b: fd_a}
    forwarded = {fd_a: 0, fd_b: 0}
    heap = []
    seq = 0
    stdin_fd = sys.stdin.fileno()
    os.set_blocking(stdin_fd, False)
    pending_input = b''
    out = sys.stdout
    out.write('ready\n')
    out.flush()

    while True:
        timeout = None
        if heap:
            timeout = max(0.0, heap[0][0] - time.monotonic())
        readable, _, _ = select.select([fd_a, fd_b, stdin_fd], [], [], timeout)
        now = time.monotonic()
        for fd in readable:
            if fd == stdin_fd:
                chunk = os.read(stdin_fd, 4096)
                if not chunk:
                    return 0
                pending_input += chunk
                while b'\n' in pending_input:
                    line, pending_input = pending_input.split(b'\n', 1)
                    out.write(handle_command(line.decode().split(), delay, fd_a, fd_b, forwarded, heap) + '\n')
                out.flush()
                continue
            # drain everything queued on this device; packets of a burst share `now`
            while True:
                try:
                    packet = os.read(fd, MAX_PACKET)
                except BlockingIOError:
                    break
                if len(heap) >= MAX_QUEUED:
                    continue
                seq += 1
                heapq.heappush(heap, (now + delay[fd], seq, other[fd], packet))
        now = time.monotonic()
        while heap and heap[0][0] <= now:
            _, _, dst, packet = heapq.heappop(heap)
            try:
                os.write(dst, packet)
                forwarded[other[dst]] += 1
            except OSError:
                # the peer device is down or its queue is full: a real link drops too
                pass


def handle_command(words, delay, fd_a, fd_b, forwarded, heap):
    if len(words) == 3 and words[0] == 'delay':
        try:
            a_to_b = float(words[1])
            b_to_a = float(words[2])
        except ValueError:
            return 'error delay needs two numbers of milliseconds'
        if a_to_b < 0 or b_to_a < 0:
            return 'error delay must not be negative'
        delay[fd_a] = a_to_b / 1000.0
        delay[fd_b] = b_to_a / 1000.0
        return 'ok delay %s %s' % (words[1], words[2])
    if words == ['stats']:
        return 'stats a_to_b=%d b_to_a=%d queued=%d' % (forwarded[fd_a], forwarded[fd_b], len(heap))
    return 'error unknown command: %s' % ' '.join(words)


if __name__ == '__main__':
    sys.exit(main())
