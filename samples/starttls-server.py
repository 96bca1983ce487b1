#!/usr/bin/env python3
"""starttls-server.py PROTO HOST PORT CERT KEY [idle=MS] [quit=MS] [tls12]

A small server that speaks just enough of a cleartext protocol to turn the
connection to TLS the way that protocol does, for the STARTTLS samples
(capture.sh starttls, starttls-crossed):

  ftp   220 banner; AUTH TLS -> 234, then TLS (RFC 4217); USER PASS PBSZ
        PROT PWD SYST FEAT NOOP; QUIT -> 221 and close
  smtp  220 banner; EHLO (offers STARTTLS) ; STARTTLS -> 220, then TLS
        (RFC 3207); NOOP MAIL RCPT RSET; QUIT -> 221 and close
  imap  * OK; CAPABILITY; STARTTLS -> OK, then TLS (RFC 9051); LOGIN NOOP;
        LOGOUT -> * BYE, OK and close
  pop3  +OK; CAPA; STLS -> +OK, then TLS (RFC 2595); USER PASS STAT NOOP;
        QUIT -> +OK and close
  xmpp  stream header and features with <starttls/>; <starttls/> ->
        <proceed/>, then TLS (RFC 6120); </stream:stream> -> the same, close

After TLS the same commands are answered inside it.  quit=MS: wait MS
milliseconds between the reply to QUIT (LOGOUT, </stream:stream>) and the
close, so that a client's close_notify sent on that reply crosses the
close in flight.  idle=MS: close a connection on which no command came for
MS milliseconds, after TLS began (an idle timeout).  A close never sends a
TLS close_notify (the socket is closed under the TLS session, as many
servers' idle timeouts do).  tls12 caps TLS at 1.2.  Prints "listening",
then one line per connection.
"""
import socket
import ssl
import sys
import threading
import time

PROTO, HOST, PORT, CERT, KEY = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
OPTS = dict(a.split("=", 1) if "=" in a else (a, "1") for a in sys.argv[6:])
IDLE = int(OPTS.get("idle", "0")) / 1000
QUIT_WAIT = int(OPTS.get("quit", "0")) / 1000

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
if "tls12" in OPTS:
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2


class Conn:
    def __init__(self, sock, peer):
        self.s, self.peer, self.buf, self.tls = sock, peer, b"", False

    def send(self, text):
        self.s.sendall(text.encode())

    def line(self):
        """One line (without CRLF), or None at EOF or idle timeout."""
        while b"\n" not in self.buf:
            self.s.settimeout(IDLE if self.tls and IDLE else None)
            try:
                d = self.s.recv(4096)
            except (socket.timeout, TimeoutError):
                log(self, "idle timeout: closing")
                return None
            except (OSError, ssl.SSLError) as e:
                log(self, f"read: {e}")
                return None
            if not d:
                return None
            self.buf += d
        ln, _, self.buf = self.buf.partition(b"\n")
        return ln.rstrip(b"\r").decode("latin1")

    def starttls(self):
        self.s.settimeout(None)
        self.s = ctx.wrap_socket(self.s, server_side=True)
        self.tls = True
        log(self, f"TLS {self.s.version()} started")

    def bye(self, text):
        self.send(text)
        time.sleep(QUIT_WAIT)


def log(c, msg):
    print(f"{c.peer[0]}:{c.peer[1]} {PROTO} {msg}", flush=True)


def ftp(c):
    c.send("220 hangup test FTP server\r\n")
    while (ln := c.line()) is not None:
        cmd, _, arg = ln.partition(" ")
        cmd = cmd.upper()
        if cmd == "AUTH" and arg.upper() in ("TLS", "SSL") and not c.tls:
            c.send("234 AUTH TLS successful\r\n")
            c.starttls()
        elif cmd == "QUIT":
            return c.bye("221 Goodbye.\r\n")
        else:
            c.send({"USER": "331 Password required\r\n", "PASS": "230 Logged in\r\n",
                    "PBSZ": "200 PBSZ=0\r\n", "PROT": "200 Protection level set\r\n",
                    "PWD": '257 "/" is the current directory\r\n', "SYST": "215 UNIX Type: L8\r\n",
                    "FEAT": "211-Features:\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n211 End\r\n",
                    "NOOP": "200 NOOP ok\r\n"}.get(cmd, "502 Command not implemented\r\n"))


def smtp(c):
    c.send("220 mail.example.test ESMTP hangup test\r\n")
    while (ln := c.line()) is not None:
        cmd = ln[:4].upper()
        if cmd == "EHLO":
            c.send("250-mail.example.test\r\n" + ("" if c.tls else "250-STARTTLS\r\n") +
                   "250 8BITMIME\r\n")
        elif cmd == "STAR" and not c.tls:
            c.send("220 2.0.0 Ready to start TLS\r\n")
            c.starttls()
        elif cmd == "QUIT":
            return c.bye("221 2.0.0 Bye\r\n")
        else:
            c.send("250 2.0.0 OK\r\n" if cmd in ("HELO", "NOOP", "MAIL", "RCPT", "RSET")
                   else "502 5.5.2 Command not implemented\r\n")


def imap(c):
    caps = "IMAP4rev1 STARTTLS LOGINDISABLED"
    c.send(f"* OK [CAPABILITY {caps}] hangup test IMAP ready\r\n")
    while (ln := c.line()) is not None:
        tag, _, rest = ln.partition(" ")
        cmd = rest.split(" ")[0].upper()
        if cmd == "CAPABILITY":
            c.send(f"* CAPABILITY {'IMAP4rev1 AUTH=PLAIN' if c.tls else caps}\r\n{tag} OK done\r\n")
        elif cmd == "STARTTLS" and not c.tls:
            c.send(f"{tag} OK Begin TLS negotiation now\r\n")
            c.starttls()
        elif cmd == "LOGOUT":
            return c.bye(f"* BYE logging out\r\n{tag} OK LOGOUT completed\r\n")
        elif cmd in ("LOGIN", "NOOP", "AUTHENTICATE"):
            c.send(f"{tag} OK {cmd} completed\r\n")
        else:
            c.send(f"{tag} BAD unknown command\r\n")


def pop3(c):
    c.send("+OK hangup test POP3 ready\r\n")
    while (ln := c.line()) is not None:
        cmd = ln.split(" ")[0].upper()
        if cmd == "CAPA":
            c.send("+OK capabilities\r\nUSER\r\n" + ("" if c.tls else "STLS\r\n") + ".\r\n")
        elif cmd == "STLS" and not c.tls:
            c.send("+OK Begin TLS negotiation\r\n")
            c.starttls()
        elif cmd == "QUIT":
            return c.bye("+OK bye\r\n")
        elif cmd == "STAT":
            c.send("+OK 0 0\r\n")
        else:
            c.send("+OK\r\n" if cmd in ("USER", "PASS", "NOOP") else "-ERR unknown command\r\n")


def xmpp_read(c, want):
    """Read until one of the strings in `want` has arrived; which, or None."""
    while True:
        for w in want:
            if w in c.buf:
                c.buf = c.buf[c.buf.index(w) + len(w):]
                return w
        c.s.settimeout(IDLE if c.tls and IDLE else None)
        try:
            d = c.s.recv(4096)
        except (OSError, ssl.SSLError):
            return None
        if not d:
            return None
        c.buf += d


def xmpp(c):
    head = ("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams' id='hu1' from='chat.example.test' "
            "version='1.0'>")
    if xmpp_read(c, [b"<stream:stream"]) is None:
        return
    xmpp_read(c, [b">"])
    c.send(head + "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
           "<required/></starttls></stream:features>")
    if xmpp_read(c, [b"<starttls"]) is None:
        return
    xmpp_read(c, [b">"])
    c.send("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
    c.buf = b""
    c.starttls()
    while (w := xmpp_read(c, [b"<stream:stream", b"</stream:stream>", b"\n"])) is not None:
        if w == b"<stream:stream":
            xmpp_read(c, [b">"])
            c.send(head + "<stream:features/>")
        elif w == b"</stream:stream>":
            return c.bye("</stream:stream>")


def serve(sock, peer):
    c = Conn(sock, peer)
    log(c, "connected")
    try:
        {"ftp": ftp, "smtp": smtp, "imap": imap, "pop3": pop3, "xmpp": xmpp}[PROTO](c)
    except (OSError, ssl.SSLError) as e:
        log(c, f"error: {e}")
    log(c, "closing")
    try:
        c.s.close()   # an SSLSocket's close sends no close_notify
    except OSError:
        pass


def main():
    ls = socket.create_server((HOST, PORT), reuse_port=False)
    print(f"{PROTO} listening on {HOST}:{PORT}", flush=True)
    while True:
        s, peer = ls.accept()
        threading.Thread(target=serve, args=(s, peer), daemon=True).start()


main()
