"""Enrolment strings taken apart and made up, for the attack tests:
lm1-base64url(1 | fingerprint 32 | token 32 | n user | n address)."""
import base64


def parse(text):
    body = text[4:]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    n = raw[65]
    return raw[1:33], raw[33:65], raw[66:66 + n].decode(), raw[67 + n:].decode()


def build(fp, token, user, address=""):
    raw = bytes([1]) + fp + token + bytes([len(user)]) + user.encode() + \
        bytes([len(address)]) + address.encode()
    return "lm1-" + base64.urlsafe_b64encode(raw).decode().rstrip("=")
