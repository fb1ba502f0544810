#!/usr/bin/env python3
"""Connects once to ADDRESS PORT and prints the connect time in ms.

Usage: tcp_connect.py ADDRESS PORT [TIMEOUT_SECONDS]
Exit 0 when connected, 1 when refused or timed out (the reason on stderr).
"""

import socket
import sys
import time


def main():
    address, port = sys.argv[1], int(sys.argv[2])
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    # a numeric address and a bare connect(): create_connection's getaddrinfo
    # loads NSS on first use and adds milliseconds of noise to the measurement
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        started = time.monotonic()
        sock.connect((address, port))
        elapsed = (time.monotonic() - started) * 1000.0
    except OSError as error:
        sys.stderr.write('%s:%d %s\n' % (address, port, error))
        return 1
    finally:
        sock.close()
    sys.stdout.write('%.3f\n' % elapsed)
    return 0


if __name__ == '__main__':
    sys.exit(main())
