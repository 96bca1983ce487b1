#!/usr/bin/env python3
"""starttls-client.py PROTO HOST PORT MODE [MS]

Python's own clients of the cleartext protocols that turn to TLS mid-
connection (ftplib.FTP_TLS, smtplib.SMTP.starttls, imaplib.IMAP4.starttls,
poplib.POP3.stls), for the STARTTLS samples.  Each connects, turns the
connection to TLS (sending SNI mail.example.test: the server name of the
test certificate; the clients would send none for an IP address), makes
one exchange inside TLS, then:

  late MS    sleeps MS milliseconds (past the server's idle timeout) and
             sends NOOP on the connection the server has closed: the
             server's kernel answers the TLS record with RST (a lost
             request) -> prints ERROR
  notify     (ftp) sends QUIT and, on the 221 reply, closes its TLS session
             with a close_notify, as many FTP clients do, then closes ->
             prints OK

One line per step: "OK ..." or "ERROR ...".
"""
import ftplib
import imaplib
import poplib
import smtplib
import ssl
import sys
import time

PROTO, HOST, PORT, MODE = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
MS = int(sys.argv[5]) if len(sys.argv) > 5 else 0
SNI = "mail.example.test"


class Context(ssl.SSLContext):
    """The test certificate is self-signed; SNI names it."""
    def wrap_socket(self, sock, server_hostname=None, **kw):
        return super().wrap_socket(sock, server_hostname=SNI, **kw)


ctx = Context(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def step(name, fn):
    try:
        r = fn()
        print(f"OK {PROTO} {name} {str(r)[:60]!r}", flush=True)
        return True
    except (OSError, EOFError, ftplib.Error, smtplib.SMTPException, imaplib.IMAP4.error,
            poplib.error_proto) as e:
        print(f"ERROR {PROTO} {name}: {type(e).__name__}: {e}", flush=True)
        return False


def run(noop, quit_):
    if MODE == "late":
        time.sleep(MS / 1000)
        step(f"NOOP after {MS} ms idle", noop)
    else:
        quit_()


if PROTO == "ftp":
    c = ftplib.FTP_TLS(context=ctx, timeout=5)
    step("connect", lambda: c.connect(HOST, PORT))
    step("AUTH TLS", c.auth)
    step("login", lambda: c.login("anonymous", "hangup@example.test"))
    step("PWD", c.pwd)

    def quit_():
        def notify():
            r = c.sendcmd("QUIT")
            try:
                # close_notify on the reply, before the server's FIN arrives;
                # unwrap then waits for the server's, which never comes
                c.sock.unwrap()
            except ssl.SSLError as e:
                r += f" (close_notify sent; the server closed without one: {e.reason})"
            c.sock.close()
            return r
        step("QUIT and close_notify", notify)
    run(lambda: c.voidcmd("NOOP"), quit_)
elif PROTO == "smtp":
    c = smtplib.SMTP(HOST, PORT, timeout=5)
    step("EHLO", lambda: c.ehlo("client.example.test"))
    step("STARTTLS", lambda: c.starttls(context=ctx))
    step("EHLO in TLS", lambda: c.ehlo("client.example.test"))
    run(c.noop, c.quit)
elif PROTO == "imap":
    c = imaplib.IMAP4(HOST, PORT, timeout=5)
    step("STARTTLS", lambda: c.starttls(ssl_context=ctx))
    step("CAPABILITY in TLS", c.capability)
    run(c.noop, c.logout)
elif PROTO == "pop3":
    c = poplib.POP3(HOST, PORT, timeout=5)
    step("STLS", lambda: c.stls(context=ctx))
    step("STAT in TLS", c.stat)
    run(c.noop, c.quit)
else:
    sys.exit(f"unknown protocol {PROTO}")
