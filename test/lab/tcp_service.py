#!/usr/bin/env python3
"""A minimal TCP service for a resource namespace: accepts and closes.

Usage: tcp_service.py ADDRESS PORT
Prints "listening" once bound, so the lab knows a TCP probe will find it.
Ends when stdin closes (its owner died) or on SIGTERM.
"""

import os
import select
import socket
import sys


def main():
    address, port = sys.argv[1], int(sys.argv[2])
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((address, port))
    server.listen(512)
    sys.stdout.write('listening\n')
    sys.stdout.flush()
    stdin_fd = sys.stdin.fileno()
    while True:
        readable, _, _ = select.select([server, stdin_fd], [], [])
        if stdin_fd in readable:
            if not os.read(stdin_fd, 4096):
                return 0
        if server in readable:
            conn, _ = server.accept()
            conn.close()


if __name__ == '__main__':
    sys.exit(main())
