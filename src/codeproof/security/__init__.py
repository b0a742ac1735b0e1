"""codeproof.security: principals, access control, encryption at rest, residency, retention.

- :mod:`codeproof.security.base` — :class:`Principal`, the ``Sealer`` protocol;
- :mod:`codeproof.security.access` — roles -> actions, :func:`authorize`;
- :mod:`codeproof.security.keys` — key providers (local file, memory, KMS);
- :mod:`codeproof.security.crypto` — :class:`EnvelopeSealer` (AES-256-GCM envelopes);
- :mod:`codeproof.security.residency` — tenant regions, stores and model endpoints;
- :mod:`codeproof.security.retention` — retention periods and crypto-shredding erasure.

Submodules are imported explicitly (``from codeproof.security.access import
authorize``) so that importing the package stays cheap.
"""
