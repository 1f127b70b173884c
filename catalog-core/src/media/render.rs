//! An uploaded file into page 22's renditions ("Procesamiento Automático"): the type decided
//! from the bytes (the magic number, then a real decode — never the file name or the part's
//! content type), page 22's limits (jpg, png or webp; 200–4000 px a side), the EXIF orientation
//! applied, and four renditions re-encoded without metadata.
//!
//! Decoding bombs: the header's dimensions are read and checked before any pixel is decoded,
//! and the decode itself runs under an allocation limit ([`image::Limits`]), so a small file
//! claiming a huge canvas is refused without the memory. This is CPU work: callers run it off
//! the async runtime, in a bounded pool.

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// Page 22: files up to 5 MB.
pub const MAX_FILE_BYTES: usize = 5 * 1024 * 1024;
/// Page 22: 200 × 200 px at least, 4000 × 4000 px at most.
pub const MIN_SIDE: u32 = 200;
pub const MAX_SIDE: u32 = 4000;
/// A decoded 4000 × 4000 RGBA canvas plus the decoder's working room.
const MAX_DECODE_BYTES: u64 = (MAX_SIDE as u64) * (MAX_SIDE as u64) * 4 + 32 * 1024 * 1024;
/// Renditions are JPEG at this quality unless the image has transparency (then PNG).
const JPEG_QUALITY: u8 = 85;

/// The formats page 22 allows, as its answers name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Webp,
}

impl Format {
    pub const ALLOWED: [&'static str; 4] = ["jpg", "jpeg", "png", "webp"];

    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Webp => "webp",
        }
    }

    fn image_format(self) -> ImageFormat {
        match self {
            Format::Jpeg => ImageFormat::Jpeg,
            Format::Png => ImageFormat::Png,
            Format::Webp => ImageFormat::WebP,
        }
    }
}

/// Page 22's renditions, by the longest side they may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Original,
    Large,
    Medium,
    Thumb,
}

impl Size {
    pub const ALL: [Size; 4] = [Size::Original, Size::Large, Size::Medium, Size::Thumb];

    pub fn name(self) -> &'static str {
        match self {
            Size::Original => "original",
            Size::Large => "large",
            Size::Medium => "medium",
            Size::Thumb => "thumb",
        }
    }

    /// The longest side of the rendition (never enlarged); the original keeps its own.
    pub fn max_side(self) -> Option<u32> {
        match self {
            Size::Original => None,
            Size::Large => Some(1200),
            Size::Medium => Some(600),
            Size::Thumb => Some(150),
        }
    }
}

/// One encoded rendition.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendition {
    pub size: Size,
    pub width: u32,
    pub height: u32,
    pub content_type: &'static str,
    pub extension: &'static str,
    pub bytes: Vec<u8>,
}

/// What an accepted upload became.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// The uploaded file's format.
    pub format: Format,
    /// As displayed (after the EXIF orientation).
    pub width: u32,
    pub height: u32,
    /// The uploaded file's size.
    pub file_bytes: usize,
    pub renditions: Vec<Rendition>,
}

/// Why an upload is refused; each maps to one of page 22's codes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejected {
    /// `INVALID_IMAGE_FORMAT`: not a jpg, png or webp file (`provided`: what it is, if known).
    #[error("invalid image format ({provided}); allowed formats: jpg, jpeg, png, webp")]
    Format { provided: String },
    /// `INVALID_IMAGE_FORMAT`: it says it is one, but does not decode (truncated, corrupt).
    #[error("the {format} file cannot be read: {reason}")]
    Unreadable { format: &'static str, reason: String },
    /// `IMAGE_TOO_SMALL`.
    #[error("the image is {width}×{height} px; at least {MIN_SIDE}×{MIN_SIDE} px")]
    TooSmall { width: u32, height: u32 },
    /// `IMAGE_TOO_LARGE`, in pixels (the file-size limit is checked while the file streams in).
    #[error("the image is {width}×{height} px; at most {MAX_SIDE}×{MAX_SIDE} px")]
    TooManyPixels { width: u32, height: u32 },
}

/// Checks `file` and makes its renditions (see the module documentation).
pub fn render(file: &[u8]) -> Result<Rendered, Rejected> {
    let format = match image::guess_format(file) {
        Ok(ImageFormat::Jpeg) => Format::Jpeg,
        Ok(ImageFormat::Png) => Format::Png,
        Ok(ImageFormat::WebP) => Format::Webp,
        Ok(other) => {
            let provided = other.extensions_str().first().copied().unwrap_or("unknown").to_string();
            return Err(Rejected::Format { provided });
        }
        Err(_) => return Err(Rejected::Format { provided: "unknown".into() }),
    };
    let unreadable = |e: image::ImageError| Rejected::Unreadable { format: format.name(), reason: e.to_string() };
    // The header alone: no pixel is decoded before the dimensions pass.
    let (width, height) =
        ImageReader::with_format(Cursor::new(file), format.image_format()).into_dimensions().map_err(unreadable)?;
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(Rejected::TooManyPixels { width, height });
    }
    if width < MIN_SIDE || height < MIN_SIDE {
        return Err(Rejected::TooSmall { width, height });
    }
    // A JPEG decoder fills a truncated scan with grey rather than failing: require the end marker.
    if format == Format::Jpeg && !ends_with_jpeg_eoi(file) {
        return Err(Rejected::Unreadable { format: format.name(), reason: "the file is truncated".into() });
    }
    let mut reader = ImageReader::with_format(Cursor::new(file), format.image_format());
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(unreadable)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    image.apply_orientation(orientation);
    let (width, height) = (image.width(), image.height());
    // Each rendition is scaled from the previous one, not from the original: the sizes halve
    // or more, so the later ones cost a fraction of the first and only one full-size copy lives.
    let mut renditions = Vec::with_capacity(Size::ALL.len());
    let mut resizer = Resizer::new();
    let mut source = image;
    for size in Size::ALL {
        if let Some(max) = size.max_side().filter(|max| source.width().max(source.height()) > *max) {
            source = scaled(&mut resizer, &source, max)?;
        }
        renditions.push(encode(&source, size)?);
    }
    Ok(Rendered { format, width, height, file_bytes: file.len(), renditions })
}

/// `image` scaled (bilinear, in 8-bit SIMD) so that its longer side is `max`.
fn scaled(resizer: &mut Resizer, image: &DynamicImage, max: u32) -> Result<DynamicImage, Rejected> {
    let (width, height) = (image.width(), image.height());
    let ratio = f64::from(max) / f64::from(width.max(height));
    let side = |length: u32| ((f64::from(length) * ratio).round() as u32).clamp(1, max);
    let mut target = DynamicImage::new(side(width), side(height), image.color());
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    resizer
        .resize(image, &mut target, &options)
        .map_err(|e| Rejected::Unreadable { format: "rendition", reason: e.to_string() })?;
    Ok(target)
}

/// The JPEG end-of-image marker, allowing for trailing padding some writers add.
fn ends_with_jpeg_eoi(file: &[u8]) -> bool {
    let end = file.iter().rposition(|byte| *byte != 0).map_or(0, |last| last + 1);
    file[..end].ends_with(&[0xFF, 0xD9])
}

fn encode(image: &DynamicImage, size: Size) -> Result<Rendition, Rejected> {
    let mut bytes = Vec::new();
    let failed = |e: image::ImageError| Rejected::Unreadable { format: "rendition", reason: e.to_string() };
    let (content_type, extension) = if image.color().has_alpha() {
        image.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png).map_err(failed)?;
        ("image/png", "png")
    } else {
        let encoder = JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY);
        match image {
            // JPEG takes these as they are; anything else (16-bit, say) is converted first.
            DynamicImage::ImageRgb8(_) | DynamicImage::ImageLuma8(_) => image.write_with_encoder(encoder),
            _ => DynamicImage::ImageRgb8(image.to_rgb8()).write_with_encoder(encoder),
        }
        .map_err(failed)?;
        ("image/jpeg", "jpg")
    };
    Ok(Rendition { size, width: image.width(), height: image.height(), content_type, extension, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, RgbaImage};

    fn photo(width: u32, height: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 90])))
    }

    fn encoded(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = Vec::new();
        image.write_to(&mut Cursor::new(&mut bytes), format).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        bytes
    }

    fn sides(rendered: &Rendered) -> Vec<(&'static str, u32, u32)> {
        rendered.renditions.iter().map(|r| (r.size.name(), r.width, r.height)).collect()
    }

    #[test]
    fn jpg_png_and_webp_give_the_four_renditions_never_enlarged() {
        for format in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::WebP] {
            let rendered = render(&encoded(&photo(1600, 1000), format)).unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!((rendered.width, rendered.height), (1600, 1000));
            assert_eq!(
                sides(&rendered),
                [("original", 1600, 1000), ("large", 1200, 750), ("medium", 600, 375), ("thumb", 150, 94)],
                "{format:?}"
            );
            for rendition in &rendered.renditions {
                assert_eq!(image::guess_format(&rendition.bytes).ok(), Some(ImageFormat::Jpeg));
            }
        }
        let small = render(&encoded(&photo(300, 200), ImageFormat::Png)).unwrap();
        assert_eq!(sides(&small)[1..], [("large", 300, 200), ("medium", 300, 200), ("thumb", 150, 100)]);
    }

    #[test]
    fn transparency_is_kept_as_png() {
        let logo = DynamicImage::ImageRgba8(RgbaImage::from_pixel(400, 400, image::Rgba([10, 20, 30, 0])));
        let rendered = render(&encoded(&logo, ImageFormat::Png)).unwrap();
        assert!(rendered.renditions.iter().all(|r| r.content_type == "image/png" && r.extension == "png"));
    }

    #[test]
    fn what_is_not_an_allowed_image_is_refused_by_its_bytes() {
        assert_eq!(render(b"name.jpg but text"), Err(Rejected::Format { provided: "unknown".into() }));
        let gif = b"GIF89a\x2c\x01\x2c\x01\x00\x00\x00;";
        assert_eq!(render(gif), Err(Rejected::Format { provided: "gif".into() }));
        let png = encoded(&photo(300, 300), ImageFormat::Png);
        assert!(matches!(render(&png[..png.len() / 2]), Err(Rejected::Unreadable { format: "png", .. })));
        let jpg = encoded(&photo(300, 300), ImageFormat::Jpeg);
        assert!(matches!(render(&jpg[..jpg.len() * 2 / 3]), Err(Rejected::Unreadable { format: "jpg", .. })));
    }

    #[test]
    fn dimensions_outside_200_to_4000_px_are_refused_before_decoding() {
        let small = encoded(&photo(199, 500), ImageFormat::Png);
        assert_eq!(render(&small), Err(Rejected::TooSmall { width: 199, height: 500 }));
        let wide = encoded(&photo(4001, 200), ImageFormat::Png);
        assert_eq!(render(&wide), Err(Rejected::TooManyPixels { width: 4001, height: 200 }));
        // A bomb: a valid 300×300 PNG whose header claims 60,000×60,000 px (14 GB decoded).
        let bomb = crate::testing::png_claiming(&encoded(&photo(300, 300), ImageFormat::Png), 60_000, 60_000);
        assert_eq!(render(&bomb), Err(Rejected::TooManyPixels { width: 60_000, height: 60_000 }));
    }

    #[test]
    fn the_exif_orientation_is_applied() {
        // A tall photo saved sideways with "rotate 90°" in its metadata displays tall.
        let plain = encoded(&photo(800, 400), ImageFormat::Jpeg);
        let exif = [b"Exif\0\0".as_slice(), &exif_orientation(6)].concat();
        let length = u16::try_from(exif.len() + 2).unwrap().to_be_bytes();
        let jpg = [&plain[..2], &[0xFF, 0xE1], &length, &exif, &plain[2..]].concat();
        let rendered = render(&jpg).unwrap();
        assert_eq!((rendered.width, rendered.height), (400, 800));
        assert_eq!(sides(&rendered)[3], ("thumb", 75, 150));
    }

    /// A minimal big-endian EXIF block with one Orientation (0x0112) entry.
    fn exif_orientation(value: u16) -> Vec<u8> {
        let mut exif = b"MM\0\x2a\0\0\0\x08".to_vec();
        exif.extend_from_slice(&1u16.to_be_bytes());
        exif.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]);
        exif.extend_from_slice(&value.to_be_bytes());
        exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        exif
    }
}
