"""Why a connection to the broker failed, in words an operator can act on."""

from __future__ import annotations

import ssl

__all__ = ["_hint", "connect_error"]


def connect_error(exc: BaseException, host: str) -> str:
    """Why a connection failed, in words an operator can act on."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        why = getattr(exc, "verify_message", "") or str(exc)
        if "hostname" in why.lower() or "ip address mismatch" in why.lower():
            return (f"TLS: the broker's certificate is not for the name {host!r} ({why}). "
                    "Fix: connect with the name the certificate was issued for")
        return f"TLS: the broker's certificate was refused ({why}). Fix: check --ca"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or exc}"
    return str(exc) or type(exc).__name__


def _hint(paho_error: str, have_cert: bool) -> str:
    low = paho_error.lower()
    if "certificate required" in low or "did not return a certificate" in low or (
            not have_cert and "eof occurred in violation of protocol" in low):
        # TLS 1.3 sends the broker's refusal after the handshake: the client sees the
        # alert, or (timing) just the connection closed.
        return ("; the broker wants a client certificate: give --cert and --key "
                "(KIOSK_HQ_CERT, KIOSK_HQ_KEY)")
    if "unknown ca" in low or "bad certificate" in low or "revoked" in low:
        return "; the broker refused our client certificate (wrong CA or revoked)"
    return ""
