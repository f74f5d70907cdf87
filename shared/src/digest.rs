//! SHA-256 as lowercase hex: what the table keeps instead of a secret or a personal value
//! (refresh-token secrets, rate-limit subjects, audit pseudonyms) and how derived ids look.

use sha2::{Digest, Sha256};

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of `parts` fed one after another, as 64 hex digits.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    hex(&digest(parts))
}

/// The first 128 bits of the SHA-256 of `parts`, as 32 hex digits: the shape of our ids.
pub fn short_sha256_hex(parts: &[&[u8]]) -> String {
    hex(&digest(parts)[..16])
}

fn digest(parts: &[&[u8]]) -> [u8; 32] {
    parts
        .iter()
        .fold(Sha256::new(), |hasher, part| hasher.chain_update(part))
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_the_published_test_vector() {
        assert_eq!(
            sha256_hex(&[b"ab", b"c"]),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            short_sha256_hex(&[b"abc"]),
            "ba7816bf8f01cfea414140de5dae2223"
        );
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
