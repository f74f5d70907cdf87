//! Reviews: one per user and course (posting again replaces it), with the course's rating
//! sum and count changed in the same transaction.

use runcrew_shared::ApiError;
use runcrew_shared::clock::now_epoch_ms;
use runcrew_shared::store::{Index, Item, Key, to_body};
use runcrew_shared::text::{Shape, visible_text};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::author::Author;
use crate::course::course_partition;

/// The longest review text, in characters: a review is a comment beside a star rating,
/// not an article.
pub const MAX_TEXT: usize = 1_000;

/// What the table keeps of a review: one per user and course (its key says so), so
/// posting again replaces it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Review {
    /// The reviewed course (also in the key), shown with the review.
    pub course_id: String,
    /// The author (also in the key), whose name and avatar a list shows beside it.
    pub user_id: String,
    /// As a [`Rating`] accepted it, 1 to 5.
    pub rating: i64,
    /// As a [`ReviewText`] accepted it.
    pub text: String,
    /// RFC 3339, first posted: replacing a review keeps it.
    pub created_at: String,
    /// RFC 3339, last replaced.
    pub updated_at: String,
}

/// A review's stars, 1 to 5. Only [`Rating::parse`] makes one, so a course's rating sum
/// only ever moves by ratings in range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rating(i64);

impl Rating {
    /// `stars` if it is 1 to 5; 422 naming `rating` otherwise.
    pub fn parse(stars: i64) -> Result<Rating, ApiError> {
        if !(1..=5).contains(&stars) {
            return Err(ApiError::invalid(
                "rating",
                "must be an integer from 1 to 5",
            ));
        }
        Ok(Rating(stars))
    }

    /// The stars, as stored and summed on the course.
    pub fn stars(self) -> i64 {
        self.0
    }
}

/// A review's text the API accepts: at most [`MAX_TEXT`] characters, empty (a rating
/// alone) or showing something, with no bidirectional controls or hidden tag text, since
/// everyone who opens the course reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReviewText(String);

impl ReviewText {
    /// `raw` as written, if it is a review's text; 422 naming `text` otherwise.
    pub fn parse(raw: &str) -> Result<ReviewText, ApiError> {
        if raw.chars().count() > MAX_TEXT {
            return Err(ApiError::invalid(
                "text",
                format!("must be at most {MAX_TEXT} characters"),
            ));
        }
        visible_text("text", raw, Shape::Paragraph)?;
        Ok(ReviewText(raw.to_owned()))
    }

    /// The accepted text, for a test or a log line.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What one review write adds to its course's `review_count` and `rating_sum`: kept
/// beside the course so its average needs no read of the reviews, and changed in the same
/// transaction as the review, so the two never disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TallyChange {
    /// Added to `review_count`: 1 for a first review, 0 for a replaced one.
    pub count: i64,
    /// Added to `rating_sum`: a replaced review's difference, so it may be negative.
    pub rating_sum: i64,
}

impl TallyChange {
    /// The change a review of `rating` makes over `replaced` (the author's earlier review
    /// of the course, if any): a first review counts once and adds its stars; a replaced
    /// one counts no more and moves the sum by the difference only.
    pub fn of(replaced: Option<&Review>, rating: Rating) -> TallyChange {
        match replaced {
            None => TallyChange {
                count: 1,
                rating_sum: rating.stars(),
            },
            Some(old) => TallyChange {
                count: 0,
                rating_sum: rating.stars() - old.rating,
            },
        }
    }

    /// The change as the deltas of the course item's counters, for an atomic increment.
    pub fn deltas(self) -> Vec<(String, i64)> {
        vec![
            ("review_count".into(), self.count),
            ("rating_sum".into(), self.rating_sum),
        ]
    }
}

/// The key of `user_id`'s review of `course_id`.
pub fn review_key(course_id: &str, user_id: &str) -> Key {
    Key::new(course_partition(course_id), format!("REVIEW#{user_id}"))
}

/// The gsi2 partition of one author's reviews (for erasure).
pub fn reviewer_partition(user_id: &str) -> String {
    format!("REVIEWER#{user_id}")
}

impl Review {
    /// `user_id`'s review of `course_id` as written at `now`, replacing `replaced` (their
    /// earlier one, if any): it keeps when the review was first posted.
    pub fn written(
        course_id: &str,
        user_id: &str,
        rating: Rating,
        text: &ReviewText,
        replaced: Option<&Review>,
        now: String,
    ) -> Review {
        Review {
            course_id: course_id.to_owned(),
            user_id: user_id.to_owned(),
            rating: rating.stars(),
            text: text.as_str().to_owned(),
            created_at: replaced.map_or_else(|| now.clone(), |old| old.created_at.clone()),
            updated_at: now,
        }
    }

    /// The review as an item: listed under its course newest first (gsi1) and under its
    /// author (gsi2, for erasure).
    pub fn to_item(&self, version: u64) -> Result<Item, ApiError> {
        let ms = now_epoch_ms();
        Ok(
            Item::new(review_key(&self.course_id, &self.user_id), to_body(self)?)
                .with_version(version)
                .with_index(
                    Index::Gsi1,
                    format!("REVIEWS#{}", self.course_id),
                    format!("{ms:013}#{}", self.user_id),
                )
                .with_index(
                    Index::Gsi2,
                    reviewer_partition(&self.user_id),
                    &self.course_id,
                ),
        )
    }

    /// The review as the API shows it, with its author's summary (null once erased).
    pub fn view(&self, author: Option<&Author>) -> Value {
        json!({
            "course_id": self.course_id,
            "user_id": self.user_id,
            "author": author.map_or(Value::Null, Author::name_and_avatar),
            "rating": self.rating,
            "text": self.text,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field and message of a 422, or a description of what came instead.
    fn refusal<T: std::fmt::Debug>(result: Result<T, ApiError>) -> (String, String) {
        match result {
            Err(ApiError::Invalid { field, message }) => (field, message),
            other => (format!("not a 422: {other:?}"), String::new()),
        }
    }

    fn rating(stars: i64) -> Rating {
        Rating::parse(stars).expect("a rating")
    }

    /// Bob's review of the loop, as first posted on New Year's Day.
    fn posted(stars: i64) -> Review {
        Review::written(
            "loop",
            "bob",
            rating(stars),
            &ReviewText::parse("Nice").expect("a text"),
            None,
            "2025-01-01T00:00:00Z".into(),
        )
    }

    // --- ratings ---

    #[test]
    fn every_rating_from_one_to_five_stars_is_accepted() {
        // given each whole number of stars from 1 to 5
        for stars in 1..=5 {
            // when it is parsed
            // then it is that many stars
            assert_eq!(rating(stars).stars(), stars);
        }
    }

    #[test]
    fn a_rating_of_zero_six_or_less_than_zero_is_refused_naming_rating() {
        // given ratings just outside the scale, and far outside it
        for stars in [0, 6, -1, i64::MAX, i64::MIN] {
            // when one is parsed
            let parsed = Rating::parse(stars);
            // then it is refused naming rating, with the scale in the message
            assert_eq!(
                refusal(parsed),
                ("rating".into(), "must be an integer from 1 to 5".into()),
                "{stars}"
            );
        }
    }

    // --- texts ---

    #[test]
    fn an_empty_text_is_a_rating_alone_and_accepted() {
        // given a review with stars and no words
        // when its text is parsed
        let text = ReviewText::parse("").expect("a text");
        // then it is empty
        assert_eq!(text, ReviewText::default());
    }

    #[test]
    fn a_text_keeps_its_line_breaks_and_spaces() {
        // given a text over two lines with a trailing space
        let written = "Crowded at noon.\nLovely at dawn. ";
        // when it is parsed
        // then it is kept as written
        assert_eq!(
            ReviewText::parse(written).expect("a text").as_str(),
            written
        );
    }

    #[test]
    fn a_text_of_a_thousand_characters_is_accepted_and_one_more_is_refused_naming_text() {
        // given texts of 1,000 and 1,001 Hangul syllables (three bytes each)
        let longest = "좋".repeat(MAX_TEXT);
        let too_long = "좋".repeat(MAX_TEXT + 1);
        // when they are parsed
        // then characters are counted, not bytes, and the limit is in the message
        assert!(ReviewText::parse(&longest).is_ok());
        assert_eq!(
            refusal(ReviewText::parse(&too_long)),
            ("text".into(), "must be at most 1000 characters".into())
        );
    }

    #[test]
    fn a_text_that_reverses_or_hides_what_follows_is_refused_naming_text() {
        // given a right-to-left override, a lone zero-width space and a bell character
        for sneaky in ["great \u{202E}nur", "\u{200B}", "ding\u{7}"] {
            // when one is parsed
            let parsed = ReviewText::parse(sneaky);
            // then it is refused naming text
            assert_eq!(refusal(parsed).0, "text", "{sneaky:?}");
        }
    }

    // --- writes ---

    #[test]
    fn a_first_review_counts_once_and_adds_its_stars() {
        // given no earlier review by this author
        // when they rate the course 4
        let change = TallyChange::of(None, rating(4));
        // then the course has one more review and four more stars
        assert_eq!(
            change,
            TallyChange {
                count: 1,
                rating_sum: 4
            }
        );
    }

    #[test]
    fn a_replaced_review_moves_the_sum_by_the_difference_only() {
        // given an earlier review of 4 stars
        let earlier = posted(4);
        // when the author rates the course 2 instead
        let change = TallyChange::of(Some(&earlier), rating(2));
        // then the count stays and the sum drops by 2
        assert_eq!(
            change,
            TallyChange {
                count: 0,
                rating_sum: -2
            }
        );
    }

    #[test]
    fn a_replaced_review_with_the_same_stars_changes_no_counter() {
        // given an earlier review of 5 stars
        let earlier = posted(5);
        // when the author posts 5 stars again (new words, say)
        let change = TallyChange::of(Some(&earlier), rating(5));
        // then neither counter moves
        assert_eq!(
            change.deltas(),
            [("review_count".to_owned(), 0), ("rating_sum".to_owned(), 0)]
        );
    }

    #[test]
    fn the_change_names_the_course_counters_it_moves() {
        // given a first review of 3 stars
        // when its change is turned into counter deltas
        let deltas = TallyChange::of(None, rating(3)).deltas();
        // then they are the course item's review_count and rating_sum
        assert_eq!(
            deltas,
            [("review_count".to_owned(), 1), ("rating_sum".to_owned(), 3)]
        );
    }

    #[test]
    fn a_first_review_is_posted_and_updated_at_the_same_moment() {
        // given no earlier review
        // when one is written
        let review = posted(4);
        // then it carries the course, the author, the stars and the words
        assert_eq!(
            (review.course_id.as_str(), review.user_id.as_str()),
            ("loop", "bob")
        );
        assert_eq!((review.rating, review.text.as_str()), (4, "Nice"));
        // and its two times are the same
        assert_eq!(review.created_at, "2025-01-01T00:00:00Z");
        assert_eq!(review.updated_at, "2025-01-01T00:00:00Z");
    }

    #[test]
    fn a_replaced_review_keeps_when_it_was_first_posted() {
        // given a review posted on New Year's Day
        let earlier = posted(4);
        // when the author replaces it a month later
        let review = Review::written(
            "loop",
            "bob",
            rating(2),
            &ReviewText::parse("Crowded at noon").expect("a text"),
            Some(&earlier),
            "2025-02-01T00:00:00Z".into(),
        );
        // then it was first posted on New Year's Day and last changed now, with the new words
        assert_eq!(review.created_at, "2025-01-01T00:00:00Z");
        assert_eq!(review.updated_at, "2025-02-01T00:00:00Z");
        assert_eq!(
            (review.rating, review.text.as_str()),
            (2, "Crowded at noon")
        );
    }
}
