//! Text that other people will see: display names, bios, course names and descriptions.
//!
//! A name must show something. Unicode has characters that draw nothing (zero-width
//! spaces and joiners, the word joiner, the byte-order mark, Hangul fillers, variation
//! selectors), characters that reorder what follows them (bidirectional embeddings,
//! overrides and isolates, the "Trojan Source" trick: U+202E then `gnp.exe` shows as `exe.png`) and
//! characters that hide text from readers (tag characters, U+E0000–U+E007F). Accepted as
//! they are, they let someone appear with an empty name, spoof the text around their name
//! in a list, or smuggle hidden text. [`visible_text`] is the one check every such field
//! goes through; lengths stay with each field, whose limits differ.

use crate::error::ApiError;

/// What a field holds, which decides newlines and emptiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One line that must show at least one visible character: a display name, a course
    /// name.
    Line,
    /// Free text over several lines that may be empty (`""`), but when it is not, must show
    /// something: a bio, a description, a review.
    Paragraph,
}

/// Checks that `value` is text people can see: no control characters (newlines allowed in
/// a [`Shape::Paragraph`]), no bidirectional embeddings, overrides or isolates, no tag
/// characters except inside a flag emoji, and at least one visible character (a
/// paragraph may instead be empty).
///
/// Answers a 422 naming `field`, so handlers call it as they read a body.
pub fn visible_text(field: &str, value: &str, shape: Shape) -> Result<(), ApiError> {
    let multiline = shape == Shape::Paragraph;
    if value
        .chars()
        .any(|c| c.is_control() && !(multiline && c == '\n'))
    {
        return Err(ApiError::invalid(
            field,
            if multiline {
                "must not contain control characters other than newlines"
            } else {
                "must not contain control characters"
            },
        ));
    }
    if let Some(c) = value.chars().find(|&c| is_bidi_control(c)) {
        return Err(ApiError::invalid(
            field,
            format!(
                "must not contain bidirectional control characters (found U+{:04X})",
                u32::from(c)
            ),
        ));
    }
    if !tags_only_in_flags(value) {
        return Err(ApiError::invalid(
            field,
            "must not contain tag characters (U+E0000 to U+E007F) outside a flag emoji",
        ));
    }
    let may_be_empty = shape == Shape::Paragraph && value.is_empty();
    if !may_be_empty && !value.chars().any(is_visible) {
        return Err(ApiError::invalid(
            field,
            "must contain at least one visible character",
        ));
    }
    Ok(())
}

/// Bidirectional embeddings, overrides (U+202A–U+202E) and isolates (U+2066–U+2069): they
/// reorder the text that follows them, beyond the field itself when it is shown in a list.
/// The plain marks (U+200E, U+200F, U+061C) only nudge neighbouring characters and stay
/// allowed for right-to-left names, though they count as invisible.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Tag characters (U+E0000–U+E007F) carry text no reader sees. Their one visible use is a
/// subdivision flag: U+1F3F4 WAVING BLACK FLAG, tag letters, then U+E007F CANCEL TAG
/// (🏴 + "gbsct" is Scotland's flag). Any other tag character is refused.
fn tags_only_in_flags(value: &str) -> bool {
    let mut in_flag = false;
    let mut previous = None;
    for c in value.chars() {
        let is_tag = ('\u{E0000}'..='\u{E007F}').contains(&c);
        if is_tag {
            let starts_or_continues = in_flag || previous == Some('\u{1F3F4}');
            if !starts_or_continues || c == '\u{E0000}' || c == '\u{E0001}' {
                return false;
            }
            in_flag = c != '\u{E007F}';
            if c == '\u{E007F}' && previous == Some('\u{1F3F4}') {
                // A cancel tag straight after the flag carries no letters.
                return false;
            }
        } else if in_flag {
            // The tag letters stopped before their CANCEL TAG.
            return false;
        }
        previous = Some(c);
    }
    !in_flag
}

/// Whether `c` draws something on screen: not whitespace, not a control, and not one of
/// the characters that render as nothing.
fn is_visible(c: char) -> bool {
    !(c.is_whitespace() || c.is_control() || is_invisible(c))
}

/// Characters that occupy no space and draw nothing, or draw as blank space though they
/// are not Unicode whitespace.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'                      // soft hyphen
        | '\u{034F}'                    // combining grapheme joiner
        | '\u{061C}'                    // Arabic letter mark
        | '\u{115F}' | '\u{1160}'       // Hangul choseong and jungseong fillers
        | '\u{17B4}' | '\u{17B5}'       // Khmer inherent vowels
        | '\u{180B}'..='\u{180F}'       // Mongolian variation selectors and vowel separator
        | '\u{200B}'..='\u{200F}'       // zero-width space, non-joiner, joiner; LRM, RLM
        | '\u{202A}'..='\u{202E}'       // bidi embeddings and overrides
        | '\u{2060}'..='\u{206F}'       // word joiner, invisible operators, isolates, ...
        | '\u{2800}'                    // braille pattern blank
        | '\u{3164}'                    // Hangul filler
        | '\u{FE00}'..='\u{FE0F}'       // variation selectors
        | '\u{FEFF}'                    // zero-width no-break space (byte-order mark)
        | '\u{FFA0}'                    // halfwidth Hangul filler
        | '\u{FFF0}'..='\u{FFF8}'       // unassigned specials
        | '\u{1D173}'..='\u{1D17A}'     // musical formatting
        | '\u{E0000}'..='\u{E007F}'     // tags
        | '\u{E0100}'..='\u{E01EF}' // variation selectors supplement
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(value: &str, shape: Shape) -> String {
        match visible_text("display_name", value, shape) {
            Err(ApiError::Invalid { field, message }) => {
                assert_eq!(field, "display_name");
                message
            }
            other => panic!("{value:?} should be refused, got {other:?}"),
        }
    }

    #[test]
    fn ordinary_names_in_any_script_are_accepted() {
        for name in [
            "alice",
            "김민준",
            "Zoë O'Brien",
            "محمد",
            "नमस्ते",          // Devanagari with virama and ZWJ-free conjuncts
            "می‌خواهم",       // Persian with a zero-width non-joiner inside
            "👩‍👩‍👧 family run", // ZWJ emoji sequence
            "❤️ runner",     // variation selector after a visible emoji
            "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F} Glasgow",
        ] {
            assert!(
                visible_text("display_name", name, Shape::Line).is_ok(),
                "{name:?} should be accepted"
            );
        }
    }

    #[test]
    fn a_name_of_only_zero_width_characters_is_refused() {
        for name in [
            "\u{200B}",
            "\u{200B}\u{200C}\u{200D}",
            "\u{2060}\u{FEFF}",
            "\u{3164}", // the Hangul filler, a favourite "blank name"
            "\u{115F}\u{1160}",
            "\u{2800}",
            " \u{200B} \u{00AD} ",
        ] {
            assert!(
                refusal(name, Shape::Line).contains("visible character"),
                "{name:?}"
            );
        }
    }

    #[test]
    fn bidi_overrides_and_isolates_are_refused_anywhere() {
        for c in ['\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}'] {
            let message = refusal(&format!("alice{c}gnp.exe"), Shape::Line);
            assert!(message.contains("bidirectional"), "{message}");
        }
        for c in ['\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'] {
            refusal(&format!("bob {c}x"), Shape::Paragraph);
        }
    }

    #[test]
    fn the_plain_direction_marks_are_allowed_inside_visible_text() {
        assert!(visible_text("display_name", "\u{200F}שלום", Shape::Line).is_ok());
        refusal("\u{200E}\u{200F}", Shape::Line);
    }

    #[test]
    fn tag_characters_are_refused_outside_a_flag() {
        for name in [
            "alice\u{E0041}\u{E0042}",        // hidden "AB"
            "\u{E0001}alice",                 // language tag
            "🏴\u{E0067}\u{E0062} open flag", // no CANCEL TAG
            "🏴\u{E007F}",                    // no letters
            "alice\u{E007F}",
        ] {
            assert!(
                refusal(name, Shape::Line).contains("tag characters"),
                "{name:?}"
            );
        }
    }

    #[test]
    fn control_characters_are_refused_and_newlines_only_in_paragraphs() {
        assert_eq!(
            refusal("a\nb", Shape::Line),
            "must not contain control characters"
        );
        refusal("a\u{7}b", Shape::Line);
        assert!(visible_text("bio", "first line\nsecond", Shape::Paragraph).is_ok());
        match visible_text("bio", "tab\there", Shape::Paragraph) {
            Err(ApiError::Invalid { message, .. }) => {
                assert_eq!(
                    message,
                    "must not contain control characters other than newlines"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_paragraph_may_be_empty_but_not_invisible() {
        assert!(visible_text("bio", "", Shape::Paragraph).is_ok());
        assert!(matches!(
            visible_text("bio", "\u{200B}\u{200B}", Shape::Paragraph),
            Err(ApiError::Invalid { field, .. }) if field == "bio"
        ));
        refusal("", Shape::Line);
    }
}
