"""Compiled terminology store (CONTRACT STUB — implemented by the terminology work).

Contract:

- ``normalize_code(code, system=None) -> str``: canonical form; ICD-10-CM dotted
  upper-case ("e119" -> "E11.9"), PCS 7 upper-case characters, no dots.
- ``CodeInfo``: frozen dataclass with ``system``, ``code`` (canonical),
  ``title``, ``billable``, ``parent`` (canonical code or None), ``children``,
  ``depth``, ``chapter``, ``block``, ``inclusion_terms``, ``excludes1``,
  ``excludes2``, ``code_first``, ``use_additional``, ``code_also`` (the note
  texts, inherited notes NOT merged), ``excludes1_codes`` / ``excludes2_codes`` /
  ``code_first_codes`` / ``use_additional_codes`` / ``code_also_codes``
  (code references parsed out of the note texts, e.g. "(O24.4-)" -> "O24.4"),
  ``seventh_characters`` (tuple of (char, meaning)) and ``icd11`` (tuple of
  ICD-11 targets, empty when not built).
- ``Terminology``: ``versions`` (dict component -> version, including source
  package versions and fiscal year), ``get(code, system="ICD-10-CM")`` (raises
  ``UnknownCode``), ``find(code)`` (infers the system; None if absent),
  ``exists``, ``ancestors(code)`` (nearest first), ``notes_inherited(code,
  kind)`` (walks up: Excludes/code-first notes sit on ancestors),
  ``codes(system, billable_only=True)`` iterator of CodeInfo.
- ``build_terminology(reference_dir, *, icd11_dir=None) -> Path`` and
  ``load_terminology(reference_dir, *, build_if_missing=False) -> Terminology``.
"""
