//! The shape of the ids RunCrew mints.

/// Whether `id` has the shape of every id we mint (users, courses and runs alike: a UUID
/// as 32 lowercase hex digits), so a path parameter of any other shape is a 404 without a
/// read, and never reaches a key.
pub fn has_id_shape(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_32_lowercase_hex_digits_look_like_an_id() {
        assert!(has_id_shape(&uuid::Uuid::now_v7().simple().to_string()));
        assert!(!has_id_shape("0123456789ABCDEF0123456789abcdef"));
        assert!(!has_id_shape("0123456789abcdef0123456789abcde"));
        assert!(!has_id_shape("../0123456789abcdef0123456789abc"));
    }
}
