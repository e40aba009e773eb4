#!/usr/bin/python3
"""An engine API socket that fails chosen requests, for the end-to-end tests.

    faultproxy.py LISTEN_SOCKET UPSTREAM_SOCKET FAULT_FILE

Listens on the Unix socket LISTEN_SOCKET and passes every HTTP request on to
the engine's socket UPSTREAM_SOCKET, unchanged but for `Connection: close`
(so each connection carries one request and the proxy never parses a
response).  While FAULT_FILE exists, each line of it is a regular
expression, optionally followed by " => STATUS MESSAGE": a request whose
"METHOD PATH?QUERY" matches one gets that status (500) with MESSAGE as the
engine's JSON message, as an overloaded or racing engine answers, and is
not passed on.
Prints "ready" once listening.  Long answers (the event stream) are relayed
as they come.
"""
import json
import os
import re
import socket
import sys
import threading

MAX_HEAD = 64 * 1024


def faults(path):
    """[(regex, status, message)] of the fault file."""
    out = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                pattern, _, answer = line.strip().partition(" => ")
                if not pattern:
                    continue
                status, _, message = answer.partition(" ")
                out.append((re.compile(pattern), int(status or 500),
                            message or "injected fault (tests/e2e/faultproxy.py)"))
    except FileNotFoundError:
        pass
    return out


def read_head(conn):
    """The request head (through the blank line) and what came after it."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        buf += chunk
        if len(buf) > MAX_HEAD:
            return None, b""
    head, rest = buf.split(b"\r\n\r\n", 1)
    return head, rest


def rewrite(head):
    lines = head.split(b"\r\n")
    kept = [lines[0]] + [l for l in lines[1:]
                         if l.split(b":", 1)[0].strip().lower()
                         not in (b"connection", b"keep-alive")]
    return b"\r\n".join(kept + [b"Connection: close", b"", b""])


def pump(src, dst):
    try:
        while True:
            chunk = src.recv(65536)
            if not chunk:
                break
            dst.sendall(chunk)
    except OSError:
        pass
    for s in (dst, src):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(conn, upstream, fault_file):
    up = None
    try:
        head, rest = read_head(conn)
        if head is None:
            return
        request = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, target = (request.split(" ") + ["", ""])[:2]
        line = f"{method} {target}"
        for regex, status, message in faults(fault_file):
            if not regex.search(line):
                continue
            body = json.dumps({"cause": message, "message": message,
                               "response": status}).encode()
            conn.sendall(f"HTTP/1.1 {status} Injected\r\n".encode() +
                         b"Content-Type: application/json\r\n"
                         b"Content-Length: " + str(len(body)).encode() +
                         b"\r\nConnection: close\r\n\r\n" + body)
            print(f"fault: {line}", flush=True)
            return
        up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        up.connect(upstream)
        up.sendall(rewrite(head) + rest)
        t = threading.Thread(target=pump, args=(conn, up), daemon=True)
        t.start()
        pump(up, conn)
        t.join(timeout=5)
    except OSError:
        pass
    finally:
        conn.close()
        if up:
            up.close()


def main():
    listen, upstream, fault_file = sys.argv[1:4]
    try:
        os.unlink(listen)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(listen)
    srv.listen(128)
    print("ready", flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, upstream, fault_file),
                         daemon=True).start()


if __name__ == "__main__":
    main()
