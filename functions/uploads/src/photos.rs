//! Thumbnails of uploaded photos: only real images (the bytes are sniffed, the name and
//! declared type are not trusted), no decompression bombs (the pixel count and the decoded
//! size are checked from the header before anything is decoded), no metadata (re-encoding
//! drops EXIF, GPS included, after the orientation it carried has been applied).
//!
//! Memory: the decoded image is the one large buffer ([`MAX_DECODED_BYTES`] at most). It
//! is shrunk at once to at most [`WORKING_SIDE`] pixels a side with a box filter, which
//! needs no buffer the size of the original, and dropped; the orientation and the
//! Lanczos resizes then work on that small copy.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The longest side of each thumbnail, in pixels.
pub use runcrew_shared::uploads::THUMBNAIL_SIZES as SIZES;
/// The most pixels a photo may have (a 48-megapixel phone photo fits).
pub const MAX_PIXELS: u64 = 50_000_000;
/// The longest side a photo may have.
pub const MAX_SIDE: u32 = 12_000;
/// The most bytes one decode may hold: the decoded photo plus the decoder's own frame
/// (WebP). A 48-megapixel RGB JPEG or PNG (144 MB) fits, an RGBA or 16-bit one of as many
/// pixels does not, nor a WebP of more than about 22 megapixels. With the small working
/// copy, one decode peaks at about 170 MB, well under the thumbnails function's 1,024 MB
/// (BENCHMARKS.md has the measured figures).
pub const MAX_DECODED_BYTES: u64 = 150 * 1024 * 1024;
/// The longest side of the working copy the thumbnails are made from: twice the largest
/// thumbnail, so the final Lanczos pass still has detail to work with.
pub const WORKING_SIDE: u32 = 2 * SIZES[1];
/// JPEG quality of the thumbnails.
const QUALITY: u8 = 82;

/// Why an upload gets no thumbnails. The task removes such a file, so the CDN never
/// serves it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The bytes are not a JPEG, PNG or WebP image, whatever the name or type said.
    #[error("not a JPEG, PNG or WebP image")]
    NotAnImage,
    /// More pixels than [`MAX_PIXELS`], a side over [`MAX_SIDE`], or more than
    /// [`MAX_DECODED_BYTES`] to decode.
    #[error("{width}x{height} pixels is more than this service decodes")]
    TooLarge {
        /// Width in pixels as the header declares it; nothing was decoded.
        width: u32,
        /// Height in pixels as the header declares it.
        height: u32,
    },
    /// Larger than the decoder's limits or the upload limit, before its size was known.
    #[error("larger than this service decodes: {0}")]
    Oversized(String),
    /// The header looked right but the image data is broken.
    #[error("the image data is damaged: {0}")]
    Damaged(String),
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
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| refusal(&e))?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_PIXELS
        || decoder.total_bytes() + scratch_bytes(format, pixels) > MAX_DECODED_BYTES
    {
        return Err(Refusal::TooLarge { width, height });
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    // The one large buffer goes (at the end of this block) as soon as the small working
    // copy exists.
    let mut image = {
        let decoded = DynamicImage::from_decoder(decoder).map_err(|e| refusal(&e))?;
        if decoded.width().max(decoded.height()) > WORKING_SIDE {
            decoded.thumbnail(WORKING_SIDE, WORKING_SIDE)
        } else {
            decoded
        }
    };
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

/// What a decoder holds beside the image it returns, by format, as measured
/// (`examples/decode_peak.rs`): the WebP decoder works on a whole frame of 4 bytes a pixel
/// (ARGB, or YUV planes for lossy images) before it hands over the image, while the PNG and
/// JPEG decoders stream rows into it.
fn scratch_bytes(format: ImageFormat, pixels: u64) -> u64 {
    match format {
        ImageFormat::WebP => pixels * 4,
        _ => 0,
    }
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

    /// The width and height of each thumbnail made of `photo`.
    fn thumbnail_sizes(photo: &[u8]) -> Vec<(u32, u32)> {
        thumbnails(photo)
            .expect("thumbnails")
            .iter()
            .map(|(_, jpeg)| {
                let img = image::load_from_memory(jpeg).expect("jpeg");
                (img.width(), img.height())
            })
            .collect()
    }

    #[test]
    fn a_photo_gets_both_sizes_never_enlarged() {
        assert_eq!(thumbnail_sizes(&png(2000, 1000)), [(256, 128), (1024, 512)]);
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
    fn an_rgba_photo_larger_than_the_decode_budget_is_refused_from_its_header() {
        // 7000 x 7000 RGBA: 49 million pixels (under the pixel limit) but 196 MB decoded.
        let mut bytes = png(1, 1);
        bytes[16..20].copy_from_slice(&7_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&7_000u32.to_be_bytes());
        let crc = crc32(&bytes[12..29]);
        bytes[29..33].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(
            thumbnails(&bytes).expect_err("refused"),
            Refusal::TooLarge {
                width: 7_000,
                height: 7_000
            }
        );
    }

    #[test]
    fn a_webp_whose_decoding_frame_exceeds_the_budget_is_refused_from_its_header() {
        // A lossless WebP whose header declares 7000 x 7000 RGB: 147 MB decoded, but the
        // decoder's ARGB frame of 196 MB beside it.
        let image = image::RgbImage::from_pixel(1, 1, image::Rgb([10, 20, 30]));
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::WebP)
            .expect("webp");
        let at = bytes
            .windows(4)
            .position(|w| w == b"VP8L")
            .expect("a lossless chunk")
            + 9;
        let header = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let sides = (7_000 - 1) | ((7_000 - 1) << 14);
        let patched = (header & !((1 << 28) - 1)) | sides;
        bytes[at..at + 4].copy_from_slice(&patched.to_le_bytes());
        assert_eq!(
            thumbnails(&bytes).expect_err("refused"),
            Refusal::TooLarge {
                width: 7_000,
                height: 7_000
            }
        );
    }

    #[test]
    fn a_large_photo_keeps_its_shape_through_the_working_copy() {
        assert_eq!(thumbnail_sizes(&png(3000, 1500)), [(256, 128), (1024, 512)]);
    }
}
