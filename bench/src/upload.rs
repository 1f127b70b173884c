//! Image upload scenario (bench/uploads.sh): a 2 MB photo made here, the multipart form a
//! browser sends with it, and the ceiling — the same renditions made in-process by the
//! service's own renderer on as many threads as its pool has, with no HTTP, store or database.

use anyhow::Context;
use bytes::Bytes;
use catalog_core::media::render;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use serde_json::{Value, json};
use std::io::Cursor;
use std::time::{Duration, Instant};

const BOUNDARY: &str = "----CatalogBenchUpload";

/// The upload benchmark's photo size (issue 18: "a 2 MB photo").
pub const PHOTO_BYTES: usize = 2_000_000;

/// A 2400 × 1600 JPEG of about `bytes` bytes: a gradient with enough noise that it does not
/// compress to nothing, as a phone photo does not.
pub fn make_photo(bytes: usize) -> anyhow::Result<Vec<u8>> {
    let mut noise_amplitude = 0u32;
    loop {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let image = RgbImage::from_fn(2400, 1600, |x, y| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = if noise_amplitude == 0 { 0 } else { (state % u64::from(noise_amplitude)) as u32 };
            let channel = |base: u32| ((base + noise) % 256) as u8;
            Rgb([channel(x / 10), channel(y / 7), channel((x + y) / 16)])
        });
        let mut out = Vec::new();
        DynamicImage::ImageRgb8(image).write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)?;
        if out.len() >= bytes || noise_amplitude >= 256 {
            return Ok(out);
        }
        noise_amplitude += 8;
    }
}

/// The `multipart/form-data` body and its content type for one upload of `photo`.
pub fn form(photo: &[u8]) -> (String, Bytes) {
    let mut body = Vec::with_capacity(photo.len() + 256);
    body.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"photo.jpg\"\r\n\
             Content-Type: image/jpeg\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(photo);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={BOUNDARY}"), Bytes::from(body))
}

/// Renders `photo` on `threads` threads for `duration`: renditions per second.
pub fn render_ceiling(photo: &[u8], threads: usize, duration: Duration) -> anyhow::Result<Value> {
    render::render(photo).map_err(|e| anyhow::anyhow!("the photo is refused: {e}"))?;
    let started = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = 0u64;
                    while started.elapsed() < duration {
                        if render::render(photo).is_ok() {
                            done += 1;
                        }
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let total: u64 = counts.iter().sum();
    Ok(json!({ "threads": threads, "renders": total, "renders_per_s": total as f64 / seconds }))
}

/// The photo at `path`, made first if missing.
pub fn photo_at(path: &std::path::Path, bytes: usize) -> anyhow::Result<Vec<u8>> {
    if let Ok(found) = std::fs::read(path) {
        return Ok(found);
    }
    let photo = make_photo(bytes)?;
    std::fs::write(path, &photo).with_context(|| format!("writing {}", path.display()))?;
    Ok(photo)
}
