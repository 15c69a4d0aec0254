"""Password hashes the account tools store: crypt(3) strings in shadow(5) and Samba's NT hash.

The NT hash is MD4 of the UTF-16LE password. hashlib's md4 comes from OpenSSL, and OpenSSL 3
(Debian 12) leaves it out of the default provider, so MD4 is written out here (RFC 1320): a few
lines, no new dependency, and only ever used to compare with what `pdbedit -L -w` prints."""

from __future__ import annotations

import hmac
import struct
import warnings


def _rotl(x: int, n: int) -> int:
    x &= 0xFFFFFFFF
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF


def md4(data: bytes) -> bytes:
    """RFC 1320 MD4."""
    msg = data + b"\x80" + b"\x00" * ((55 - len(data)) % 64) + struct.pack("<Q", len(data) * 8)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for off in range(0, len(msg), 64):
        x = struct.unpack("<16I", msg[off:off + 64])
        aa, bb, cc, dd = a, b, c, d
        for i in range(16):  # round 1: F(b,c,d) = (b & c) | (~b & d)
            k, s = i, (3, 7, 11, 19)[i % 4]
            f = (b & c) | (~b & d)
            a, b, c, d = d, _rotl(a + f + x[k], s), b, c
        for i in range(16):  # round 2: G = majority, constant 0x5A827999
            k, s = (i % 4) * 4 + i // 4, (3, 5, 9, 13)[i % 4]
            g = (b & c) | (b & d) | (c & d)
            a, b, c, d = d, _rotl(a + g + x[k] + 0x5A827999, s), b, c
        for i in range(16):  # round 3: H = parity, constant 0x6ED9EBA1
            k, s = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)[i], (3, 9, 11, 15)[i % 4]
            h = b ^ c ^ d
            a, b, c, d = d, _rotl(a + h + x[k] + 0x6ED9EBA1, s), b, c
        a, b, c, d = (a + aa) & 0xFFFFFFFF, (b + bb) & 0xFFFFFFFF, (c + cc) & 0xFFFFFFFF, (d + dd) & 0xFFFFFFFF
    return struct.pack("<4I", a, b, c, d)


def nt_hash(password: str) -> str:
    """Samba's NT hash as `pdbedit -L -w` prints it: upper-case hex."""
    return md4(password.encode("utf-16-le")).hex().upper()


def _crypt():  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():  # deprecated (PEP 594) but present in 3.11/3.12: libxcrypt, as shadow uses
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt
    return crypt


def crypt_hash(password: str) -> str:
    """A new SHA-512 crypt hash (what `chpasswd -c SHA512` stores)."""
    c = _crypt()
    return str(c.crypt(password, c.mksalt(c.METHOD_SHA512)))


def crypt_matches(password: str, stored: str) -> bool:
    """Does the password match a shadow hash (a lock `!` in front is ignored)?"""
    stored = stored.lstrip("!")
    if not stored.startswith("$") and len(stored) != 13:
        return False  # `*`, empty, or no hash at all
    result = _crypt().crypt(password, stored)
    return bool(result) and hmac.compare_digest(result, stored)
