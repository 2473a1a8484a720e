"""What the loopback test proxies share (connectproxy.py, tlsproxy.py):
a listening socket whose port goes to a file, and the byte relay between
two sockets.  Stdlib only; the proxies import it from their own folder.
"""
import os
import socket
import threading


def listen_loopback(port_file):
    """A socket listening on a free 127.0.0.1 port, written to port_file
    (atomically: the tests poll for the file)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(s.getsockname()[1]))
    os.rename(tmp, port_file)
    return s


def pipe(a, b):
    """Copies a to b until a ends, then half-closes b."""
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def relay(a, b):
    """Relays both ways between a and b in two daemon threads."""
    threading.Thread(target=pipe, args=(a, b), daemon=True).start()
    threading.Thread(target=pipe, args=(b, a), daemon=True).start()
