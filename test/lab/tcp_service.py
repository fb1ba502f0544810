#!/usr/bin/env python3
"""A minimal TCP service for a resource namespace: accepts and closes, or with
the `http` mode answers each request with `200 OK` (for the agent's HTTP probe).

Usage: tcp_service.py ADDRESS PORT [http]
Prints "listening" once bound, so the lab knows a TCP probe will find it.
Ends when stdin closes (its owner died) or on SIGTERM.
"""

import os
import select
import socket
import sys


def main():
    address, port = sys.argv[1], int(sys.argv[2])
    http = len(sys.argv) > 3 and sys.argv[3] == 'http'
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
            if http:
                answer_http(conn)
            conn.close()


def answer_http(conn):
    # One short request per connection; the probe sends HEAD and waits for headers.
    conn.settimeout(2)
    try:
        data = b''
        while b'\r\n\r\n' not in data and len(data) < 65536:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
    except OSError:
        pass


if __name__ == '__main__':
    sys.exit(main())
