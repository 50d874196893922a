"""What social listening tells about a person: how often they post and in what mood.

Posts come in German and English. English is scored with VADER (``vaderSentiment``);
German with the German Polarity Lexicon (Klenner et al., Apache-2.0) that ships in the
``textblob-de`` package, read as a data file. Nothing is downloaded at run time.
"""

import importlib.util
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from streams.errors import JourneyhubError
from streams.normalize import from_epoch_ms, normalize_keyword, to_epoch_ms

LANGUAGES = ("de", "en")
_WORD = re.compile(r"\w+|[.,;:!?]")
_CLAUSE_END = frozenset(".,;:!?")
_INLINE_HASHTAG = re.compile(r"#(\w+)")
_GERMAN_NEGATIONS = frozenset(
    {"nicht", "kein", "keine", "keinen", "keinem", "keiner", "keines", "nie", "niemals", "nichts"}
)
_GERMAN_ENDINGS = ("es", "er", "en", "em", "e", "s", "n")
_NEGATION_REACH = 3
_STOPWORDS = {
    "de": frozenset(
        "der die das und ist nicht ich du wir ihr sie es ein eine mit für auf zu den dem "
        "sehr auch aber noch schon mein meine wie war sind bei von im".split()
    ),
    "en": frozenset(
        "the and is not i you we they it a an with for on to of my this that very also "
        "but was are at from in so just".split()
    ),
}
_ROUNDING = 3


class SocialError(JourneyhubError):
    """The German sentiment lexicon is not installed."""


def detect_language(text: str) -> str:
    """Guess whether a post is German or English from its most common short words.

    Args:
        text: The post.

    Returns:
        ``de`` or ``en``; German when the words give no hint.
    """
    words = [word.lower() for word in _WORD.findall(text)]
    hits = {language: sum(word in stop for word in words) for language, stop in _STOPWORDS.items()}
    return "en" if hits["en"] > hits["de"] else "de"


def post_language(post: Mapping[str, Any]) -> str:
    """Return the language of a post: its ``language`` field (``de-AT`` counts as ``de``).

    Args:
        post: A ``social.posts`` value.

    Returns:
        A two-letter language code; detected from the text when the field is empty.
    """
    declared = (post.get("language") or "").strip().lower()
    return re.split(r"[-_]", declared)[0] if declared else detect_language(post["text"])


@cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


@cache
def _german_lexicon() -> dict[str, float]:
    spec = importlib.util.find_spec("textblob_de")
    if spec is None or not spec.submodule_search_locations:
        msg = "German sentiment needs the package textblob-de; install it with pip"
        raise SocialError(msg)
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "de-sentiment.xml"
    # A data file of an installed package, not untrusted input.
    root = ElementTree.parse(path).getroot()  # noqa: S314
    polarities: dict[str, list[float]] = {}
    for word in root.iter("word"):
        polarities.setdefault(word.attrib["form"].lower(), []).append(
            float(word.attrib["polarity"])
        )
    return {form: sum(values) / len(values) for form, values in polarities.items()}


def _german_polarity(token: str, lexicon: Mapping[str, float]) -> float | None:
    """Look a word up, then its stem without a usual inflection ending (``tolle`` → ``toll``)."""
    if token in lexicon:
        return lexicon[token]
    for ending in _GERMAN_ENDINGS:
        stem = token.removesuffix(ending)
        if stem != token and len(stem) > 2:
            for form in (stem, stem + "en"):
                if form in lexicon:
                    return lexicon[form]
    return None


def _german_sentiment(text: str) -> float:
    """Mean polarity of the German words found; a negation flips the word it refers to.

    A negation (``nicht``, ``kein``, ...) flips the next opinion word of its clause within
    three words, or else the nearest one before it (``gefällt mir nicht``).
    """
    lexicon = _german_lexicon()
    clauses: list[list[str]] = [[]]
    for token in _WORD.findall(text.lower()):
        if token in _CLAUSE_END:
            clauses.append([])
        else:
            clauses[-1].append(token)
    scores: list[float] = []
    for clause in clauses:
        # Opinion words only: unknown words (None) and neutral ones (0.0) are left out.
        polarity = {
            i: value
            for i, token in enumerate(clause)
            if (value := _german_polarity(token, lexicon))
        }
        for i, token in enumerate(clause):
            if token not in _GERMAN_NEGATIONS:
                continue
            after = [j for j in polarity if i < j <= i + _NEGATION_REACH]
            before = [j for j in polarity if j < i]
            target = after[0] if after else (before[-1] if before else None)
            if target is not None:
                polarity[target] = -polarity[target]
        scores.extend(polarity.values())
    return sum(scores) / len(scores) if scores else 0.0


def sentiment(text: str, language: str) -> float | None:
    """Return the sentiment of a text from -1 (negative) to 1 (positive).

    Args:
        text: The text.
        language: ``de`` or ``en``.

    Returns:
        The score, 0.0 for a text without opinion words; None for a language that is not
        scored (the post still counts as a mention).

    Raises:
        SocialError: A German text is scored but ``textblob-de`` is not installed.
    """
    if language == "en":
        compound: float = _vader().polarity_scores(text)["compound"]
        return compound
    if language == "de":
        return max(-1.0, min(1.0, _german_sentiment(text)))
    return None


def post_keywords(post: Mapping[str, Any]) -> list[str]:
    """Return the interest keywords of a post: its hashtags and the ``#tags`` in its text.

    Args:
        post: A ``social.posts`` value.

    Returns:
        Normalised keywords (see :func:`normalize_keyword`) without duplicates, in order.
    """
    tags = [*(post.get("hashtags") or ()), *_INLINE_HASHTAG.findall(post.get("text") or "")]
    keywords = (normalize_keyword(tag) for tag in tags)
    return list(dict.fromkeys(keyword for keyword in keywords if keyword))


@dataclass(frozen=True)
class SocialStats:
    """A person's posts so far: count, sentiment sum for the average, the newest sentiment."""

    mentions: int = 0
    scored: int = 0
    sentiment_sum: float = 0.0
    last_sentiment: float | None = None
    last_posted_at: datetime | None = None

    @property
    def sentiment_avg(self) -> float | None:
        """Average sentiment of the scored posts, or None before the first one."""
        return self.sentiment_sum / self.scored if self.scored else None

    def to_api(self) -> dict[str, Any]:
        """Return the profile's ``social`` object (CONTRACT section 4)."""
        average, last = self.sentiment_avg, self.last_sentiment
        return {
            "mentions": self.mentions,
            "sentiment_avg": None if average is None else round(average, _ROUNDING),
            "last_sentiment": None if last is None else round(last, _ROUNDING),
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the stats as a JSON-able dict."""
        posted = self.last_posted_at
        return {
            "mentions": self.mentions,
            "scored": self.scored,
            "sentiment_sum": self.sentiment_sum,
            "last_sentiment": self.last_sentiment,
            "last_posted_at": None if posted is None else to_epoch_ms(posted),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SocialStats":
        """Rebuild stats from :meth:`to_dict`."""
        posted = data["last_posted_at"]
        return cls(
            mentions=data["mentions"],
            scored=data["scored"],
            sentiment_sum=data["sentiment_sum"],
            last_sentiment=data["last_sentiment"],
            last_posted_at=None if posted is None else from_epoch_ms(posted),
        )


def combine(first: SocialStats, second: SocialStats) -> SocialStats:
    """Add up the stats of two sets of posts of the same person (order does not matter).

    Args:
        first: One person's stats, e.g. of a surviving profile.
        second: More stats of the same person, e.g. of a profile merged into it.

    Returns:
        Counts and sums added; the newest scored post (the higher score at the same
        instant) gives ``last_sentiment``.
    """
    dated = [stats for stats in (first, second) if stats.last_posted_at is not None]
    newest = max(
        dated, key=lambda stats: (stats.last_posted_at, stats.last_sentiment), default=None
    )
    return SocialStats(
        mentions=first.mentions + second.mentions,
        scored=first.scored + second.scored,
        sentiment_sum=first.sentiment_sum + second.sentiment_sum,
        last_sentiment=newest.last_sentiment if newest else None,
        last_posted_at=newest.last_posted_at if newest else None,
    )


def apply_post(stats: SocialStats, post: Mapping[str, Any]) -> SocialStats:
    """Count a post and its sentiment; the newest post by ``posted_at`` sets the last one.

    Args:
        stats: The person's stats so far.
        post: A ``social.posts`` value.

    Returns:
        The stats including the post (a post in a language that is not scored only adds a
        mention).
    """
    score = sentiment(post["text"], post_language(post))
    if score is None:
        return combine(stats, SocialStats(mentions=1))
    one = SocialStats(1, 1, score, score, post["posted_at"])
    return combine(stats, one)
