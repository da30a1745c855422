//! What the vendor's media message types carry besides the remote URL: an ImageMessage
//! holds a small Base64 JPEG thumbnail in `content` so the conversation can draw the picture
//! before the full file is downloaded, and a GIFMessage its width and height so the layout
//! does not jump when it loads. Everything here is synchronous CPU and disk work: the engine
//! runs it inside `spawn_blocking`, away from both the JS thread and the async runtime.

use std::io::Cursor;
use std::path::Path;

use base64::Engine as _;
use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

/// The longest edge of a thumbnail, as the vendor's SDK makes them.
pub const THUMBNAIL_EDGE: u32 = 240;
/// The most a thumbnail may weigh, counted on the Base64 text that travels in the message
/// (so the binary JPEG stays under 7.5 KB): the message content is what the size rule is
/// about, and counting the text keeps it true however it is measured.
pub const THUMBNAIL_MAX_BYTES: usize = 10 * 1024;
/// Larger sides are refused before any pixel is decoded.
pub const MAX_SIDE: u32 = 16_384;
/// Larger pictures are refused before any pixel is decoded: a small file can declare an
/// enormous canvas (a decompression bomb), and decoding it would exhaust the app's memory.
pub const MAX_PIXELS: u64 = 100_000_000;
/// What one decode may allocate: 100 megapixels of 8-bit RGBA, with room to spare but no more.
const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;
/// JPEG qualities tried in turn until the thumbnail fits, before the picture is made smaller.
const QUALITIES: [u8; 6] = [80, 70, 60, 50, 40, 30];

/// What an image message needs to know about a picture.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFacts {
    /// As displayed: the EXIF orientation of a photo is applied, so a portrait shot taken
    /// with a sideways camera reports portrait dimensions.
    pub width: u32,
    pub height: u32,
    /// Base64 JPEG, longest edge ≤ 240 px (never upscaled), ≤ 10 KB (lower the JPEG quality,
    /// then the size, until it fits)
    pub thumbnail: String,
}

/// Decodes the image at `path` (jpeg, png, gif first frame, webp, bmp) and makes the
/// thumbnail; Err(clear message) when it is not a decodable image. Images whose declared
/// dimensions exceed 16384 px a side or 100 megapixels are refused before decoding.
pub fn image_facts(path: &Path) -> Result<ImageFacts, String> {
    let mut decoder = open_decoder(path)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(path, width, height)?;
    if decoder.total_bytes() > MAX_DECODE_BYTES {
        return Err(format!(
            "{}: the picture is too large to read ({width}×{height} pixels of deep colour)",
            path.display()
        ));
    }
    // A broken orientation tag must not cost the picture: it is shown as stored.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut picture = DynamicImage::from_decoder(decoder).map_err(|e| unreadable(path, e))?;
    picture.apply_orientation(orientation);
    let thumbnail = thumbnail(&picture).map_err(|e| {
        format!(
            "{}: the thumbnail could not be encoded: {e}",
            path.display()
        )
    })?;
    Ok(ImageFacts {
        width: picture.width(),
        height: picture.height(),
        thumbnail,
    })
}

/// Width and height from the header only (for GIFs: no full decode), as displayed (the EXIF
/// orientation of a photo is applied, as in [`image_facts`]).
pub fn image_size(path: &Path) -> Result<(u32, u32), String> {
    let mut decoder = open_decoder(path)?;
    let (width, height) = decoder.dimensions();
    let turned = matches!(
        decoder.orientation().unwrap_or(Orientation::NoTransforms),
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    );
    Ok(if turned {
        (height, width)
    } else {
        (width, height)
    })
}

/// A decoder that has read the header and nothing more, for the formats a chat sends as
/// pictures, with limits that refuse an oversized canvas before its pixels are allocated.
fn open_decoder(path: &Path) -> Result<impl ImageDecoder, String> {
    let reader = ImageReader::open(path)
        .map_err(|e| format!("{}: cannot open the file: {e}", path.display()))?
        .with_guessed_format()
        .map_err(|e| format!("{}: cannot read the file: {e}", path.display()))?;
    match reader.format() {
        Some(
            ImageFormat::Jpeg
            | ImageFormat::Png
            | ImageFormat::Gif
            | ImageFormat::WebP
            | ImageFormat::Bmp,
        ) => {}
        _ => {
            return Err(format!(
                "{}: not a picture imsync can read (JPEG, PNG, GIF, WebP or BMP)",
                path.display()
            ))
        }
    }
    let mut reader = reader;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    reader.into_decoder().map_err(|e| unreadable(path, e))
}

fn check_dimensions(path: &Path, width: u32, height: u32) -> Result<(), String> {
    if width > MAX_SIDE || height > MAX_SIDE || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(format!(
            "{}: the picture is too large ({width}×{height} pixels; at most {MAX_SIDE} a side \
             and {} megapixels)",
            path.display(),
            MAX_PIXELS / 1_000_000
        ));
    }
    if width == 0 || height == 0 {
        return Err(format!("{}: the picture has no pixels", path.display()));
    }
    Ok(())
}

fn unreadable(path: &Path, e: image::ImageError) -> String {
    match e {
        image::ImageError::Limits(_) => format!(
            "{}: the picture is too large (at most {MAX_SIDE} pixels a side and {} megapixels)",
            path.display(),
            MAX_PIXELS / 1_000_000
        ),
        e => format!("{}: not a readable picture: {e}", path.display()),
    }
}

/// The Base64 JPEG thumbnail: first at full thumbnail size with falling quality, then
/// smaller by a quarter each round until it fits (a 1×1 JPEG always does).
fn thumbnail(picture: &DynamicImage) -> Result<String, image::ImageError> {
    let (mut width, mut height) = fit(picture.width(), picture.height(), THUMBNAIL_EDGE);
    loop {
        let small = flatten(&picture.thumbnail_exact(width, height));
        for quality in QUALITIES {
            let mut jpeg = Vec::new();
            JpegEncoder::new_with_quality(Cursor::new(&mut jpeg), quality).encode_image(&small)?;
            let text = base64::engine::general_purpose::STANDARD.encode(&jpeg);
            if text.len() <= THUMBNAIL_MAX_BYTES || (width == 1 && height == 1) {
                return Ok(text);
            }
        }
        width = (width * 3 / 4).max(1);
        height = (height * 3 / 4).max(1);
    }
}

/// The size that fits `edge` with the aspect ratio kept; a smaller picture keeps its own
/// size, since an upscaled thumbnail is only a blurrier, heavier copy.
fn fit(width: u32, height: u32, edge: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= edge {
        return (width.max(1), height.max(1));
    }
    let scale = |side: u32| {
        let scaled =
            (u64::from(side) * u64::from(edge) + u64::from(longest) / 2) / u64::from(longest);
        (scaled as u32).clamp(1, edge)
    };
    (scale(width), scale(height))
}

/// JPEG has no transparency: transparent pixels are laid on white, as a chat bubble shows
/// them, instead of on whatever colour happens to be stored under them (often black).
fn flatten(picture: &DynamicImage) -> RgbImage {
    if !picture.color().has_alpha() {
        return picture.to_rgb8();
    }
    let rgba = picture.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over_white = |c: u8| {
            let (c, a) = (u32::from(c), u32::from(a));
            ((c * a + 255 * (255 - a) + 127) / 255) as u8
        };
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgb, Rgba};

    fn decode_thumbnail(text: &str) -> DynamicImage {
        assert!(!text.starts_with("data:"), "no data: prefix");
        let jpeg = base64::engine::general_purpose::STANDARD
            .decode(text)
            .expect("valid Base64");
        image::load_from_memory_with_format(&jpeg, ImageFormat::Jpeg).expect("a JPEG")
    }

    /// Noise defeats JPEG compression, so the size rule has to work for real.
    fn noisy(width: u32, height: u32) -> RgbImage {
        let mut seed = 0x2545_f491_u32;
        ImageBuffer::from_fn(width, height, |_, _| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let [r, g, b, _] = seed.to_le_bytes();
            Rgb([r, g, b])
        })
    }

    #[test]
    fn large_photo_gets_a_small_thumbnail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("photo.jpg");
        noisy(4000, 3000).save(&path).unwrap();
        let facts = image_facts(&path).unwrap();
        assert_eq!((facts.width, facts.height), (4000, 3000));
        assert!(
            facts.thumbnail.len() <= THUMBNAIL_MAX_BYTES,
            "{} bytes",
            facts.thumbnail.len()
        );
        let thumb = decode_thumbnail(&facts.thumbnail);
        // Noise at 240 px does not fit in 10 KB even at the lowest quality: the rule shrinks it.
        assert!(thumb.width().max(thumb.height()) <= THUMBNAIL_EDGE);
        let ratio = f64::from(thumb.width()) / f64::from(thumb.height());
        assert!((ratio - 4.0 / 3.0).abs() < 0.05, "ratio {ratio}");
    }

    #[test]
    fn smooth_photo_keeps_the_full_thumbnail_edge() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sky.jpg");
        let sky: RgbImage = ImageBuffer::from_fn(4000, 3000, |x, y| {
            Rgb([(x / 16) as u8, (y / 12) as u8, 200])
        });
        sky.save(&path).unwrap();
        let facts = image_facts(&path).unwrap();
        assert!(facts.thumbnail.len() <= THUMBNAIL_MAX_BYTES);
        let thumb = decode_thumbnail(&facts.thumbnail);
        assert_eq!((thumb.width(), thumb.height()), (240, 180));
    }

    #[test]
    fn tiny_picture_is_not_upscaled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dot.png");
        ImageBuffer::from_pixel(10, 10, Rgba([255u8, 0, 0, 255]))
            .save(&path)
            .unwrap();
        let facts = image_facts(&path).unwrap();
        assert_eq!((facts.width, facts.height), (10, 10));
        let thumb = decode_thumbnail(&facts.thumbnail);
        assert_eq!((thumb.width(), thumb.height()), (10, 10));
        let red = thumb.to_rgb8().get_pixel(5, 5).0;
        assert!(red[0] > 200 && red[1] < 60 && red[2] < 60, "{red:?}");
    }

    #[test]
    fn transparency_is_laid_on_white() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clear.png");
        ImageBuffer::from_pixel(20, 20, Rgba([0u8, 0, 0, 0]))
            .save(&path)
            .unwrap();
        let thumb = decode_thumbnail(&image_facts(&path).unwrap().thumbnail);
        let pixel = thumb.to_rgb8().get_pixel(10, 10).0;
        assert!(pixel.iter().all(|&c| c > 240), "{pixel:?}");
    }

    /// Where the first frame's image descriptor starts (its pixel data follows its 10 bytes).
    fn first_image_descriptor(gif: &[u8]) -> usize {
        let flags = gif[10];
        let mut at = 13;
        if flags & 0x80 != 0 {
            at += 3 << ((flags & 7) + 1);
        }
        while gif[at] == 0x21 {
            at += 2;
            while gif[at] != 0 {
                at += usize::from(gif[at]) + 1;
            }
            at += 1;
        }
        assert_eq!(gif[at], 0x2C, "image descriptor");
        at
    }

    #[test]
    fn gif_size_comes_from_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("anim.gif");
        let frame: RgbImage = ImageBuffer::from_pixel(321, 123, Rgb([0, 128, 255]));
        frame.save(&path).unwrap();
        assert_eq!(image_size(&path).unwrap(), (321, 123));
        // Only the header is needed: a GIF cut before its pixel data still reports its size.
        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.path().join("cut.gif");
        std::fs::write(&cut, &bytes[..first_image_descriptor(&bytes) + 10]).unwrap();
        assert_eq!(image_size(&cut).unwrap(), (321, 123));
        assert!(image_facts(&cut).is_err(), "no frame to decode");
        let facts = image_facts(&path).unwrap();
        assert_eq!((facts.width, facts.height), (321, 123));
    }

    #[test]
    fn other_formats_decode() {
        let dir = tempfile::tempdir().unwrap();
        let picture: RgbImage = ImageBuffer::from_pixel(300, 150, Rgb([10, 200, 30]));
        for name in ["p.bmp", "p.webp", "p.png"] {
            let path = dir.path().join(name);
            picture.save(&path).unwrap();
            let facts = image_facts(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!((facts.width, facts.height), (300, 150), "{name}");
            let thumb = decode_thumbnail(&facts.thumbnail);
            assert_eq!((thumb.width(), thumb.height()), (240, 120), "{name}");
        }
    }

    #[test]
    fn format_comes_from_the_content_not_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("real.png");
        ImageBuffer::from_pixel(30, 20, Rgb([1u8, 2, 3]))
            .save(&path)
            .unwrap();
        let renamed = dir.path().join("looks-like.jpg");
        std::fs::rename(&path, &renamed).unwrap();
        assert_eq!(image_size(&renamed).unwrap(), (30, 20));
    }

    #[test]
    fn text_is_not_a_picture() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["notes.txt", "fake.png", "fake.gif"] {
            let path = dir.path().join(name);
            std::fs::write(&path, "hello, this is not a picture\n").unwrap();
            let err = image_facts(&path).unwrap_err();
            assert!(err.contains(name), "names the file: {err}");
            assert!(image_size(&path).is_err(), "{name}");
        }
        let missing = dir.path().join("missing.png");
        assert!(image_facts(&missing).unwrap_err().contains("missing.png"));
    }

    /// A PNG whose header declares `width`×`height` and whose one IDAT holds almost nothing.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let start = out.len();
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            let crc = crc32(&out[start..]);
            out.extend_from_slice(&crc.to_be_bytes());
        }
        fn crc32(bytes: &[u8]) -> u32 {
            let mut crc = !0u32;
            for &b in bytes {
                crc ^= u32::from(b);
                for _ in 0..8 {
                    crc = if crc & 1 != 0 {
                        (crc >> 1) ^ 0xEDB8_8320
                    } else {
                        crc >> 1
                    };
                }
            }
            !crc
        }
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
        chunk(&mut png, b"IHDR", &ihdr);
        // An empty stored zlib stream: nowhere near the declared pixels.
        chunk(
            &mut png,
            b"IDAT",
            &[0x78, 0x01, 0x01, 0x00, 0x00, 0xff, 0xff, 0, 0, 0, 1],
        );
        chunk(&mut png, b"IEND", &[]);
        png
    }

    #[test]
    fn decompression_bomb_is_refused_before_decoding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bomb.png");
        std::fs::write(&path, png_header(100_000, 100_000)).unwrap();
        // 30 GB of pixels were it decoded: the test would abort on allocation.
        let err = image_facts(&path).unwrap_err();
        assert!(err.contains("too large"), "{err}");
        // Within the side limit but over the pixel count.
        let path = dir.path().join("wide.png");
        std::fs::write(&path, png_header(16_000, 16_000)).unwrap();
        let err = image_facts(&path).unwrap_err();
        assert!(err.contains("too large"), "{err}");
        // The header alone is harmless to read.
        assert_eq!(image_size(&path).unwrap(), (16_000, 16_000));
    }

    #[test]
    fn fit_keeps_aspect_and_never_upscales() {
        assert_eq!(fit(4000, 3000, 240), (240, 180));
        assert_eq!(fit(3000, 4000, 240), (180, 240));
        assert_eq!(fit(10, 10, 240), (10, 10));
        assert_eq!(fit(240, 100, 240), (240, 100));
        assert_eq!(fit(100_000, 1, 240), (240, 1));
    }
}
