//! Where a user's uploaded photos and their thumbnails live in the bucket.
//!
//! `POST /v1/uploads` names an upload's key and the thumbnails it will have, the thumbnails
//! task writes them, a profile accepts them as its avatar, and erasure removes the owner's
//! folder: one vocabulary for all of them, so a key one of them makes is a key the others
//! recognise.
//!
//! - an upload: `uploads/<owner>/<32 hex>.<jpg|png|webp>`
//! - its thumbnails: `thumbnails/uploads/<owner>/<32 hex>_<256|1024>.jpg`

/// The longest side of each thumbnail made of a photo, in pixels.
pub const THUMBNAIL_SIZES: [u32; 2] = [256, 1024];

/// The image types an upload may have, with the extension of its key.
const IMAGE_TYPES: [(&str, &str); 3] = [
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    ("image/webp", "webp"),
];

/// The key extension of an accepted image type (`image/jpeg` → `jpg`).
pub fn extension_of(content_type: &str) -> Option<&'static str> {
    IMAGE_TYPES
        .iter()
        .find(|(kind, _)| *kind == content_type)
        .map(|(_, ext)| *ext)
}

/// The key of `owner`'s upload `id` (32 hex digits) with extension `ext`.
pub fn upload_key(owner: &str, id: &str, ext: &str) -> String {
    format!("uploads/{owner}/{id}.{ext}")
}

/// The thumbnail key of an upload for one size: `uploads/u/x.png` →
/// `thumbnails/uploads/u/x_256.jpg`; `None` for a key outside `uploads/`.
pub fn thumbnail_key(upload_key: &str, size: u32) -> Option<String> {
    let rest = upload_key.strip_prefix("uploads/")?;
    let stem = rest.rsplit_once('.').map_or(rest, |(stem, _)| stem);
    Some(format!("thumbnails/uploads/{stem}_{size}.jpg"))
}

/// Whose folder a key under `uploads/` is in (not checked to be a user id).
pub fn owner_of(key: &str) -> Option<&str> {
    key.strip_prefix("uploads/")?.split('/').next()
}

/// Whether `key` is exactly one of `owner`'s uploads, as [`upload_key`] names them.
pub fn is_own_upload(key: &str, owner: &str) -> bool {
    let Some(file) = in_folder(key, "uploads/", owner) else {
        return false;
    };
    match file.split_once('.') {
        Some((id, ext)) => is_upload_id(id) && IMAGE_TYPES.iter().any(|(_, e)| *e == ext),
        None => false,
    }
}

/// Whether `key` is exactly a thumbnail of one of `owner`'s uploads, as
/// [`thumbnail_key`] names them.
pub fn is_own_thumbnail(key: &str, owner: &str) -> bool {
    let Some(file) =
        in_folder(key, "thumbnails/uploads/", owner).and_then(|file| file.strip_suffix(".jpg"))
    else {
        return false;
    };
    match file.split_once('_') {
        Some((id, size)) => {
            is_upload_id(id) && THUMBNAIL_SIZES.iter().any(|s| s.to_string() == size)
        }
        None => false,
    }
}

/// The file name of `key` when it lies directly in `<prefix><owner>/`.
fn in_folder<'k>(key: &'k str, prefix: &str, owner: &str) -> Option<&'k str> {
    key.strip_prefix(prefix)?
        .strip_prefix(owner)?
        .strip_prefix('/')
}

/// An upload's id: 32 lowercase hex digits (a simple UUID).
fn is_upload_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "9abf35084b4364dbea7b4b9994a2165a";
    const PHOTO: &str = "019aa5c0d2f07c3e9b8a1c2d3e4f5a6b";

    #[test]
    fn thumbnail_keys_sit_under_thumbnails() {
        assert_eq!(
            thumbnail_key("uploads/u1/abc.png", 256).as_deref(),
            Some("thumbnails/uploads/u1/abc_256.jpg")
        );
        assert_eq!(thumbnail_key("routes/x.geojson", 256), None);
    }

    #[test]
    fn the_keys_an_upload_is_given_are_the_keys_recognised_as_its_owners() {
        let upload = upload_key(ALICE, PHOTO, extension_of("image/webp").expect("webp"));
        assert!(is_own_upload(&upload, ALICE), "{upload}");
        assert_eq!(owner_of(&upload), Some(ALICE));
        for size in THUMBNAIL_SIZES {
            let thumbnail = thumbnail_key(&upload, size).expect("a thumbnail key");
            assert!(is_own_thumbnail(&thumbnail, ALICE), "{thumbnail}");
            assert!(!is_own_thumbnail(&thumbnail, "someone-else"), "{thumbnail}");
        }
        assert!(!is_own_upload(&upload, "someone-else"));
        assert_eq!(extension_of("image/gif"), None);
    }
}
