//! The fields of a profile a user may change, as types whose constructors hold the rules:
//! a value of these types is one a profile may show.

use runcrew_shared::ApiError;
use runcrew_shared::text::{Shape, visible_text};
use runcrew_shared::uploads::{is_own_thumbnail, is_own_upload};

/// The longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = 40;
/// The longest bio, in characters.
pub const MAX_BIO: usize = 280;
/// The longest avatar URL, in bytes.
pub const MAX_AVATAR_URL: usize = 2048;

/// A display name: 1 to [`MAX_DISPLAY_NAME`] characters after trimming, one line, visible
/// ([`visible_text`]: no name of zero-width characters, no bidi overrides, no hidden tags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// The trimmed name, or 422 naming `display_name`.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let name = raw.trim();
        let count = name.chars().count();
        if count == 0 || count > MAX_DISPLAY_NAME {
            return Err(ApiError::invalid(
                "display_name",
                format!("must be 1 to {MAX_DISPLAY_NAME} characters"),
            ));
        }
        visible_text("display_name", name, Shape::Line)?;
        Ok(DisplayName(name.to_owned()))
    }

    /// The checked name, already trimmed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A bio: empty, or up to [`MAX_BIO`] characters of visible text over several lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bio(String);

impl Bio {
    /// The bio as sent, or 422 naming `bio`.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        if raw.chars().count() > MAX_BIO {
            return Err(ApiError::invalid(
                "bio",
                format!("must be at most {MAX_BIO} characters"),
            ));
        }
        visible_text("bio", raw, Shape::Paragraph)?;
        Ok(Bio(raw.to_owned()))
    }

    /// The bio as sent: unlike a name it is not trimmed, so its line breaks and spacing
    /// stay.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An avatar: the CDN URL of one of the user's own photo uploads, or of one of its
/// thumbnails, exactly as `POST /v1/uploads` and the thumbnails task name them:
///
/// - `{CDN_BASE_URL}/uploads/<userId>/<32 hex>.<jpg|png|webp>`
/// - `{CDN_BASE_URL}/thumbnails/uploads/<userId>/<32 hex>_<256|1024>.jpg`
///
/// Nothing else: not another user's photo (which would outlive that user's erasure on this
/// profile), not a course's route or a private file, and no percent-escapes, dot segments,
/// query or fragment (the accepted shape has no character that could hold one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarUrl(String);

impl AvatarUrl {
    /// `url` if it names one of `owner`'s uploads under `cdn_base_url`, or 422 naming
    /// `avatar_url`.
    pub fn parse(url: &str, cdn_base_url: &str, owner: &str) -> Result<Self, ApiError> {
        let refused = || {
            ApiError::invalid(
                "avatar_url",
                format!(
                    "must be the file_url (or a thumbnail_url) of one of your own photos, \
                     {cdn_base_url}/uploads/<your user id>/...; upload it through POST /v1/uploads"
                ),
            )
        };
        if url.len() > MAX_AVATAR_URL {
            return Err(refused());
        }
        let key = url
            .strip_prefix(cdn_base_url)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(refused)?;
        if is_own_upload(key, owner) || is_own_thumbnail(key, owner) {
            Ok(AvatarUrl(url.to_owned()))
        } else {
            Err(refused())
        }
    }

    /// The full CDN URL, exactly as the client sent it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CDN: &str = "https://cdn.runcrew.app";
    const ALICE: &str = "9abf35084b4364dbea7b4b9994a2165a";
    const BOB: &str = "0123456789abcdef0123456789abcdef";
    const PHOTO: &str = "019aa5c0d2f07c3e9b8a1c2d3e4f5a6b";

    #[test]
    fn an_avatar_is_one_of_my_uploads_or_its_thumbnails() {
        for url in [
            format!("{CDN}/uploads/{ALICE}/{PHOTO}.jpg"),
            format!("{CDN}/uploads/{ALICE}/{PHOTO}.png"),
            format!("{CDN}/uploads/{ALICE}/{PHOTO}.webp"),
            format!("{CDN}/thumbnails/uploads/{ALICE}/{PHOTO}_256.jpg"),
            format!("{CDN}/thumbnails/uploads/{ALICE}/{PHOTO}_1024.jpg"),
        ] {
            assert_eq!(
                AvatarUrl::parse(&url, CDN, ALICE).expect(&url).as_str(),
                url
            );
        }
    }

    #[test]
    fn an_avatar_anywhere_else_is_refused() {
        for url in [
            // another user's photo and thumbnail
            format!("{CDN}/uploads/{BOB}/{PHOTO}.jpg"),
            format!("{CDN}/thumbnails/uploads/{BOB}/{PHOTO}_256.jpg"),
            // another place on our CDN: a course's route, its map, a private file
            format!("{CDN}/routes/{PHOTO}.geojson"),
            format!("{CDN}/thumbnails/courses/{PHOTO}.png"),
            format!("{CDN}/private/routes/{PHOTO}.geojson"),
            // escapes, dot segments, queries, fragments, other shapes
            format!("{CDN}/uploads/{ALICE}/%2e%2e/{BOB}/{PHOTO}.jpg"),
            format!("{CDN}/uploads/{ALICE}/../{BOB}/{PHOTO}.jpg"),
            format!("{CDN}/uploads/{ALICE}/{PHOTO}.jpg?x=1"),
            format!("{CDN}/uploads/{ALICE}/{PHOTO}.jpg#top"),
            format!("{CDN}/uploads/{ALICE}/{PHOTO}.gif"),
            format!("{CDN}/uploads/{ALICE}/{PHOTO}.jpg.png"),
            format!("{CDN}/uploads/{ALICE}/avatar.png"),
            format!("{CDN}/uploads/{ALICE}/{}.jpg", PHOTO.to_uppercase()),
            format!("{CDN}/uploads/{ALICE}/sub/{PHOTO}.jpg"),
            format!("{CDN}/uploads/{ALICE}{PHOTO}.jpg"),
            format!("{CDN}/thumbnails/uploads/{ALICE}/{PHOTO}_512.jpg"),
            format!("{CDN}/thumbnails/uploads/{ALICE}/{PHOTO}_256.png"),
            format!("{CDN}//uploads/{ALICE}/{PHOTO}.jpg"),
            format!("{CDN}.evil.example/uploads/{ALICE}/{PHOTO}.jpg"),
            format!("https://evil.example/uploads/{ALICE}/{PHOTO}.jpg"),
            format!("{CDN}/"),
            String::new(),
        ] {
            assert_eq!(
                AvatarUrl::parse(&url, CDN, ALICE).expect_err(&url).field(),
                Some("avatar_url"),
                "{url}"
            );
        }
    }

    #[test]
    fn a_display_name_is_trimmed_and_must_be_visible() {
        assert_eq!(
            DisplayName::parse("  Alice Kim ").expect("valid").as_str(),
            "Alice Kim"
        );
        for bad in [
            "",
            "   ",
            "\u{200B}\u{200B}",
            "\u{3164}",
            "\u{2060}\u{FEFF}",
            "eve\u{202E}nimda",
            "eve\u{2066}x",
            "eve\u{E0041}",
            "a\nb",
        ] {
            assert_eq!(
                DisplayName::parse(bad).expect_err(bad).field(),
                Some("display_name")
            );
        }
        assert!(DisplayName::parse(&"x".repeat(MAX_DISPLAY_NAME)).is_ok());
        assert!(DisplayName::parse(&"x".repeat(MAX_DISPLAY_NAME + 1)).is_err());
    }

    #[test]
    fn a_bio_may_be_empty_but_not_invisible() {
        assert!(Bio::parse("").is_ok());
        assert!(Bio::parse("Han river 10k\nevery Sunday").is_ok());
        for bad in ["\u{200B}", "hi \u{202E}olleh", "tab\there"] {
            assert_eq!(Bio::parse(bad).expect_err(bad).field(), Some("bio"));
        }
        assert!(Bio::parse(&"b".repeat(MAX_BIO + 1)).is_err());
    }
}
