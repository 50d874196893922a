from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streams.social import (
    SocialStats,
    apply_post,
    combine,
    detect_language,
    post_keywords,
    post_language,
    sentiment,
)

POSTED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def post(text: str, language: str | None = "de", minutes: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"p-{minutes}",
        "platform": "instagram",
        "post_id": f"{minutes}",
        "author_handle": "@erika_m",
        "text": text,
        "hashtags": [],
        "language": language,
        "posted_at": POSTED + timedelta(minutes=minutes),
        "url": None,
        **extra,
    }


@pytest.mark.parametrize(
    "text",
    [
        "Die Schuhe sind super, ich bin sehr zufrieden!",
        "Tolle Qualität und pünktliche Lieferung",
        "Ich empfehle die Laufschuhe jedem",
    ],
)
def test_positive_german_post_scores_above_zero(text: str) -> None:
    assert 0 < (sentiment(text, "de") or 0) <= 1


@pytest.mark.parametrize(
    "text",
    [
        "Schrecklicher Service, total enttäuscht.",
        "Die Sohle ist nach einer Woche kaputt, mies verarbeitet",
        "Das ist nicht gut.",
        "Kein guter Kauf",
    ],
)
def test_negative_or_negated_german_post_scores_below_zero(text: str) -> None:
    assert -1 <= (sentiment(text, "de") or 0) < 0


def test_german_text_without_opinion_is_neutral() -> None:
    assert sentiment("Ich habe die Schuhe am Montag gekauft.", "de") == 0.0


def test_english_posts_are_scored_in_both_directions() -> None:
    assert (sentiment("I love these shoes, great quality!", "en") or 0) > 0.5
    assert (sentiment("Worst purchase ever, totally disappointed", "en") or 0) < -0.5


def test_other_languages_are_not_scored() -> None:
    assert sentiment("Chaussures magnifiques", "fr") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Die Schuhe sind mit Abstand die besten, die ich je hatte", "de"),
        ("These are by far the best shoes I have ever had", "en"),
        ("👟👟👟", "de"),
    ],
)
def test_language_is_detected_from_common_words(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_declared_language_wins_and_regional_variants_count_as_the_language() -> None:
    assert post_language(post("These are great", language="de-AT")) == "de"
    assert post_language(post("These are great shoes", language=None)) == "en"


def test_hashtags_and_inline_tags_become_keywords_once() -> None:
    keywords = post_keywords(post("Neue #Laufschuhe", hashtags=["RoadBike", "laufschuhe"]))
    assert keywords == ["roadbike", "laufschuhe"]


def test_posts_add_up_to_mentions_average_and_last_sentiment() -> None:
    stats = SocialStats()
    stats = apply_post(stats, post("Super Schuhe, sehr zufrieden", minutes=0))
    stats = apply_post(stats, post("Total enttäuscht, mies", minutes=10))
    api = stats.to_api()
    assert api["mentions"] == 2
    assert api["last_sentiment"] is not None
    assert api["last_sentiment"] < 0
    assert api["sentiment_avg"] == pytest.approx(0.0, abs=0.01)


def test_an_older_post_arriving_late_does_not_become_the_last_sentiment() -> None:
    stats = apply_post(SocialStats(), post("Total enttäuscht", minutes=10))
    stats = apply_post(stats, post("Super Schuhe", minutes=0))
    assert (stats.last_sentiment or 0) < 0


def test_post_in_an_unscored_language_counts_as_mention_only() -> None:
    stats = apply_post(SocialStats(), post("Chaussures magnifiques", language="fr"))
    assert stats.to_api() == {"mentions": 1, "sentiment_avg": None, "last_sentiment": None}


def test_combining_stats_does_not_depend_on_order() -> None:
    first = apply_post(SocialStats(), post("Super Schuhe", minutes=0))
    second = apply_post(SocialStats(), post("Total enttäuscht", minutes=5))
    assert combine(first, second) == combine(second, first)
    assert combine(first, second).mentions == 2


def test_stats_survive_a_round_trip() -> None:
    stats = apply_post(SocialStats(), post("Super Schuhe"))
    assert SocialStats.from_dict(stats.to_dict()) == stats
