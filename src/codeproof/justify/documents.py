"""Turn payer policy documents (text, HTML, PDF) into citable passages.

HTML is reduced to text with the standard library parser (scripts and styles
dropped, block elements become line breaks); PDF text is extracted with
:mod:`pypdf` (extra ``pdf``). Passages are cut on paragraph boundaries to about
``target_chars`` characters so that each can be cited on its own.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from codeproof.errors import BackendUnavailable, MalformedInput, UnsupportedFormat

__all__ = ["extract_text", "split_passages"]

_BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section",
          "article", "table", "ul", "ol", "dt", "dd", "pre", "blockquote"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"script", "style", "head", "noscript"}:
            self._skip += 1
        elif tag in _BLOCK:
            self.parts.append("\n\n" if tag in {"p", "h1", "h2", "h3", "h4", "section"} else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "head", "noscript"} and self._skip:
            self._skip -= 1
        elif tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def _html_to_text(html: str) -> str:
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    text = "".join(parser.parts)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    return re.sub(r"\n\s*\n\s*(\n\s*)+", "\n\n", text).strip()


def extract_text(path: Path) -> str:
    """Return the plain text of a ``.txt``/``.md``, ``.html``/``.htm`` or ``.pdf`` file."""
    suffix = path.suffix.lower()
    try:
        if suffix in {".txt", ".md", ".text"}:
            return path.read_text(encoding="utf-8").strip()
        if suffix in {".html", ".htm"}:
            return _html_to_text(path.read_text(encoding="utf-8"))
        if suffix == ".pdf":
            try:
                from pypdf import PdfReader
                from pypdf.errors import PdfReadError
            except ImportError as exc:
                raise BackendUnavailable("reading PDF policies needs pypdf; "
                                         "pip install 'codeproof[pdf]'") from exc
            try:
                reader = PdfReader(str(path))
                pages = [page.extract_text() or "" for page in reader.pages]
            except PdfReadError as exc:
                raise MalformedInput(f"cannot read PDF {path.name}: {exc}",
                                     file=path.name) from exc
            return "\n\n".join(p.strip() for p in pages if p.strip())
    except (OSError, UnicodeDecodeError) as exc:
        raise MalformedInput(f"cannot read {path.name}: {type(exc).__name__}",
                             file=path.name) from exc
    raise UnsupportedFormat(f"policy file {path.name} is not .txt, .md, .html or .pdf",
                            file=path.name)


def split_passages(text: str, *, target_chars: int = 900) -> list[str]:
    """Cut ``text`` into passages of about ``target_chars`` on paragraph boundaries."""
    paragraphs = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    passages: list[str] = []
    current = ""
    for para in paragraphs:
        if not para:
            continue
        if current and len(current) + len(para) + 1 > target_chars:
            passages.append(current)
            current = ""
        while len(para) > target_chars * 2:  # a huge paragraph: cut on sentence ends
            cut = para.rfind(". ", 0, target_chars * 2)
            cut = cut + 1 if cut > target_chars // 2 else target_chars * 2
            passages.append(para[:cut].strip())
            para = para[cut:].strip()
        current = f"{current} {para}".strip()
    if current:
        passages.append(current)
    return passages
