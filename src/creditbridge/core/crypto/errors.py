"""Errors of the crypto provider.

They sit under :class:`~creditbridge.core.errors.PlatformError`: a record that no longer decrypts or
a key file that does not parse means the platform's own data or configuration is broken, not that a
user asked for something wrong. A service that accepts a key from a user (an institution uploading
its public key) catches :class:`InvalidKey` and raises ``ValidationFailed`` naming the field.
"""

from __future__ import annotations

from creditbridge.core.errors import PlatformError


class CryptoError(PlatformError):
    """Base of every failure of a cryptographic operation."""

    code = "CB-CRYPTO"


class InvalidKey(CryptoError):
    """Raised when key material is malformed: wrong length, not on the curve, unparsable PEM."""

    code = "CB-CRYPTO-INVALID-KEY"


class DecryptionFailed(CryptoError):
    """Raised when a token does not decrypt: wrong key, wrong AAD, or altered bytes.

    GCM cannot tell these apart, by design, so neither does the message.
    """

    code = "CB-CRYPTO-DECRYPTION-FAILED"
