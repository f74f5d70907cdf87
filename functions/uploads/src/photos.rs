//! Thumbnails of uploaded photos: only real images (the bytes are sniffed, the name and
//! declared type are not trusted), no decompression bombs (the pixel count is checked from
//! the header before anything is decoded), no metadata (re-encoding drops EXIF, GPS
//! included, after the orientation it carried has been applied).

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The longest side of each thumbnail, in pixels.
pub const SIZES: [u32; 2] = [256, 1024];
/// The most pixels a photo may have (a 48-megapixel phone photo fits).
pub const MAX_PIXELS: u64 = 50_000_000;
/// The longest side a photo may have.
pub const MAX_SIDE: u32 = 12_000;
/// JPEG quality of the thumbnails.
const QUALITY: u8 = 82;

/// Why an upload gets no thumbnails. The task removes such a file, so the CDN never
/// serves it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The bytes are not a JPEG, PNG or WebP image, whatever the name or type said.
    #[error("not a JPEG, PNG or WebP image")]
    NotAnImage,
    /// More pixels than [`MAX_PIXELS`] or a side over [`MAX_SIDE`].
    #[error("{width}x{height} pixels is more than this service decodes")]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
    },
    /// Larger than the decoder's limits or the upload limit, before its size was known.
    #[error("larger than this service decodes: {0}")]
    Oversized(String),
    /// The header looked right but the image data is broken.
    #[error("the image data is damaged: {0}")]
    Damaged(String),
}

/// The thumbnail key of an upload for one size: `uploads/u/x.png` →
/// `thumbnails/uploads/u/x_256.jpg`.
pub fn thumbnail_key(upload_key: &str, size: u32) -> Option<String> {
    let rest = upload_key.strip_prefix("uploads/")?;
    let stem = rest.rsplit_once('.').map_or(rest, |(stem, _)| stem);
    Some(format!("thumbnails/uploads/{stem}_{size}.jpg"))
}

/// Decodes `bytes` within the limits, applies the EXIF orientation and returns one JPEG
/// per size in [`SIZES`] (never larger than the original).
pub fn thumbnails(bytes: &[u8]) -> Result<Vec<(u32, Vec<u8>)>, Refusal> {
    let format = image::guess_format(bytes).map_err(|_| Refusal::NotAnImage)?;
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP
    ) {
        return Err(Refusal::NotAnImage);
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| refusal(&e))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(Refusal::TooLarge { width, height });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| refusal(&e))?;
    image.apply_orientation(orientation);
    SIZES
        .iter()
        .map(|&size| {
            let scaled = if image.width().max(image.height()) > size {
                image.resize(size, size, FilterType::Lanczos3)
            } else {
                image.clone()
            };
            Ok((size, encode_jpeg(&scaled)?))
        })
        .collect()
}

fn refusal(err: &image::ImageError) -> Refusal {
    match err {
        image::ImageError::Limits(limits) => Refusal::Oversized(limits.to_string()),
        image::ImageError::Unsupported(_) => Refusal::NotAnImage,
        other => Refusal::Damaged(other.to_string()),
    }
}

/// JPEG of the image on white (JPEG has no transparency).
fn encode_jpeg(image: &DynamicImage) -> Result<Vec<u8>, Refusal> {
    let rgba = image.to_rgba8();
    let mut rgb = image::RgbImage::new(rgba.width(), rgba.height());
    for (out, px) in rgb.pixels_mut().zip(rgba.pixels()) {
        let a = u16::from(px[3]);
        let blend = |c: u8| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8;
        *out = image::Rgb([blend(px[0]), blend(px[1]), blend(px[2])]);
    }
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, QUALITY)
        .encode_image(&rgb)
        .map_err(|e| Refusal::Damaged(e.to_string()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbaImage::from_fn(width, height, |x, y| {
            image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, 255])
        });
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .expect("png");
        bytes
    }

    #[test]
    fn a_photo_gets_both_sizes_never_enlarged() {
        let out = thumbnails(&png(2000, 1000)).expect("thumbnails");
        let sizes: Vec<(u32, u32)> = out
            .iter()
            .map(|(_, jpeg)| {
                let img = image::load_from_memory(jpeg).expect("jpeg");
                (img.width(), img.height())
            })
            .collect();
        assert_eq!(sizes, [(256, 128), (1024, 512)]);
        let small = thumbnails(&png(300, 200)).expect("thumbnails");
        let img = image::load_from_memory(&small[1].1).expect("jpeg");
        assert_eq!((img.width(), img.height()), (300, 200));
    }

    #[test]
    fn text_is_not_an_image_whatever_it_claims() {
        assert_eq!(
            thumbnails(b"hello, I am a PNG, honest").expect_err("refused"),
            Refusal::NotAnImage
        );
    }

    #[test]
    fn a_bomb_is_refused_from_its_header() {
        // A valid PNG header (right CRC) that declares 10000 x 10000 pixels: 100 million,
        // 400 MB decoded, from a file of a few dozen bytes.
        let mut bytes = png(1, 1);
        bytes[16..20].copy_from_slice(&10_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&10_000u32.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        let err = thumbnails(&bytes).expect_err("refused");
        assert_eq!(
            err,
            Refusal::TooLarge {
                width: 10_000,
                height: 10_000
            }
        );
    }

    /// PNG's chunk checksum (CRC-32, polynomial 0xEDB88320).
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn thumbnail_keys_sit_under_thumbnails() {
        assert_eq!(
            thumbnail_key("uploads/u1/abc.png", 256).as_deref(),
            Some("thumbnails/uploads/u1/abc_256.jpg")
        );
        assert_eq!(thumbnail_key("routes/x.geojson", 256), None);
    }
}
