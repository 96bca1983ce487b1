"""The ssl.SSLContext options shared by tls-server.py and tls-client.py
(imported from the script's directory): key log, protocol version, TLS 1.2
cipher list, encrypt-then-MAC."""
import ssl


def configure(ctx, opt):
    """Apply opt's keylog=FILE, tls=1.2|1.3, ciphers=LIST and no_etm=1 to ctx.
    no_etm sets SSL_OP_NO_ENCRYPT_THEN_MAC (1 << 19 in OpenSSL 3, not named
    by Python's ssl): a client does not offer RFC 7366, a server does not
    accept it, and CBC suites are MAC-then-encrypt."""
    if "keylog" in opt:
        ctx.keylog_filename = opt["keylog"]
    if opt.get("tls") in ("1.2", "1.3"):
        v = ssl.TLSVersion.TLSv1_2 if opt["tls"] == "1.2" else ssl.TLSVersion.TLSv1_3
        ctx.minimum_version = ctx.maximum_version = v
    if "ciphers" in opt:
        ctx.set_ciphers(opt["ciphers"])
    if opt.get("no_etm") == "1":
        ctx.options |= 1 << 19
