"""An FTP proxy that cuts the first large download short, to test resuming.
usage: ftpcut.py LISTEN_PORT SERVER_PORT CUT_BYTES
Control traffic is relayed line by line; EPSV/PASV replies are rewritten so the data
connection also goes through the proxy. The first data connection that carries more than
CUT_BYTES is cut there (the data connection is reset mid-stream, as a broken link or a
dying server session does); everything after that passes untouched."""
import re
import socket
import sys
import threading

listen_port, server_port, cut = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
state = {"cut_done": False}
lock = threading.Lock()


def pipe(src, dst, limit=None, on_cut=None):
    sent = 0
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if limit is not None:
                with lock:
                    armed = not state["cut_done"]
                if armed and sent + len(data) > limit:
                    dst.sendall(data[: limit - sent])
                    with lock:
                        state["cut_done"] = True
                    if on_cut:
                        on_cut()
                    break
            dst.sendall(data)
            sent += len(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def data_proxy(server_data_port):
    """Listens on a fresh port, relays one data connection to the server's port."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    port = ls.getsockname()[1]

    def run():
        try:
            ls.settimeout(30)
            c, _ = ls.accept()
            s = socket.create_connection(("127.0.0.1", server_data_port))
        except OSError:
            return
        finally:
            ls.close()
        threading.Thread(target=pipe, args=(c, s), daemon=True).start()
        pipe(s, c, cut)

    threading.Thread(target=run, daemon=True).start()
    return port


def handle(client):
    server = socket.create_connection(("127.0.0.1", server_port))
    ctl = [client, server]
    threading.Thread(target=pipe, args=(client, server), daemon=True).start()
    buf = b""
    try:
        while True:
            data = server.recv(65536)
            if not data:
                break
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                text = line.decode("latin-1")
                m = re.match(r"229 (.*)\(\|\|\|(\d+)\|\)", text)
                p = re.match(r"227 .*?(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", text)
                if m:
                    port = data_proxy(int(m.group(2)))
                    text = "229 Entering Extended Passive Mode (|||%d|)\r" % port
                elif p:
                    port = data_proxy(int(p.group(5)) * 256 + int(p.group(6)))
                    text = "227 Entering Passive Mode (127,0,0,1,%d,%d).\r" % (port // 256, port % 256)
                client.sendall(text.encode("latin-1") + b"\n")
    except OSError:
        pass
    for s in ctl:
        try:
            s.close()
        except OSError:
            pass


ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", listen_port))
ls.listen(16)
while True:
    c, _ = ls.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
