//! Peak memory of one photo decode, for BENCHMARKS.md: the worst photos the thumbnails
//! task accepts, each measured in a fresh process (the kernel's high-water mark, VmHWM).
//!
//! ```console
//! $ cargo run --release -p runcrew-uploads --example decode_peak -- make /tmp/photos
//! $ for f in /tmp/photos/*; do target/release/examples/decode_peak measure "$f"; done
//! ```

use std::io::Cursor;
use std::path::Path;

use image::{DynamicImage, ImageFormat};

/// The photos at the edge of what the task decodes (`photos::MAX_DECODED_BYTES`,
/// `MAX_PIXELS`), plus the report's all-zero 7000 x 7000 PNG.
fn worst() -> Vec<(&'static str, DynamicImage, ImageFormat)> {
    vec![
        (
            "png-rgb8-7000x7000-zero.png",
            DynamicImage::ImageRgb8(image::RgbImage::new(7000, 7000)),
            ImageFormat::Png,
        ),
        (
            "png-rgba8-6250x6250.png",
            DynamicImage::ImageRgba8(image::RgbaImage::from_fn(6250, 6250, |x, y| {
                image::Rgba([(x % 256) as u8, (y % 256) as u8, 90, 200])
            })),
            ImageFormat::Png,
        ),
        (
            "png-rgb16-4000x6000.png",
            DynamicImage::ImageRgb16(image::ImageBuffer::from_fn(4000, 6000, |x, y| {
                image::Rgb([(x * 16) as u16, (y * 8) as u16, 30_000])
            })),
            ImageFormat::Png,
        ),
        (
            "jpeg-rgb8-8000x6000.jpg",
            DynamicImage::ImageRgb8(image::RgbImage::from_fn(8000, 6000, |x, y| {
                image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
            })),
            ImageFormat::Jpeg,
        ),
        (
            // Refused: 7 bytes a pixel to decode (RGB out, ARGB frame) is 343 MB.
            "webp-rgb8-7000x7000.webp",
            DynamicImage::ImageRgb8(image::RgbImage::from_fn(7000, 7000, |x, y| {
                image::Rgb([(x % 256) as u8, (y % 256) as u8, 60])
            })),
            ImageFormat::WebP,
        ),
        (
            // The largest accepted WebP of this shape: 22.4 million pixels.
            "webp-rgb8-5800x3860.webp",
            DynamicImage::ImageRgb8(image::RgbImage::from_fn(5800, 3860, |x, y| {
                image::Rgb([(x % 256) as u8, (y % 256) as u8, 60])
            })),
            ImageFormat::WebP,
        ),
    ]
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("make") => {
            let dir = Path::new(args.get(2).map_or("/tmp/photos", String::as_str));
            std::fs::create_dir_all(dir).expect("folder");
            for (name, image, format) in worst() {
                let mut bytes = Vec::new();
                image
                    .write_to(&mut Cursor::new(&mut bytes), format)
                    .expect("encode");
                std::fs::write(dir.join(name), &bytes).expect("write");
                println!("{name}: {} bytes", bytes.len());
            }
        }
        Some("measure") => {
            let path = args.get(2).expect("a photo");
            let bytes = std::fs::read(path).expect("read");
            let before = peak_rss_kib();
            let started = std::time::Instant::now();
            let outcome = runcrew_uploads::photos::thumbnails(&bytes);
            println!(
                "{path}: {} in {:.2} s; peak RSS {:.1} MiB (before decoding {:.1} MiB)",
                match &outcome {
                    Ok(versions) => format!("{} thumbnails", versions.len()),
                    Err(refusal) => format!("refused ({refusal})"),
                },
                started.elapsed().as_secs_f64(),
                peak_rss_kib() as f64 / 1024.0,
                before as f64 / 1024.0,
            );
        }
        _ => eprintln!("usage: decode_peak make <dir> | measure <photo>"),
    }
}
