//! Thumbnails for image documents, made once when the file is published and stored beside it
//! (`thumbnail_key`), so a list of images never decodes an image on the way to a patient. Decoding
//! is bounded (dimensions and memory), so a crafted file cannot exhaust the function.

use crate::ids::PracticeId;
use image::{ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// The longest side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 256;

/// Where an entity's thumbnail lives in the blob store (a PNG), beside the published files.
pub fn thumbnail_key(practice: &PracticeId, entity: super::Entity, id: &str) -> String {
    format!("{practice}/thumbnails/{}/{id}", entity.name())
}

/// A PNG of at most [`THUMBNAIL_SIDE`] pixels a side, for a JPEG, PNG or TIFF; `None` for any
/// other type, or an image that cannot be decoded within the limits.
pub fn make(content_type: &str, bytes: &[u8]) -> Option<Vec<u8>> {
    let format = match content_type {
        "image/jpeg" => ImageFormat::Jpeg,
        "image/png" => ImageFormat::Png,
        "image/tiff" => ImageFormat::Tiff,
        _ => return None,
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(20_000);
    limits.max_image_height = Some(20_000);
    limits.max_alloc = Some(256 * 1024 * 1024);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let image = reader.decode().ok()?;
    let small = image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE);
    let mut out = Cursor::new(Vec::new());
    small.write_to(&mut out, ImageFormat::Png).ok()?;
    Some(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_png_gets_a_small_png_and_other_bytes_none() {
        let mut big = Cursor::new(Vec::new());
        image::DynamicImage::new_rgb8(1024, 512).write_to(&mut big, ImageFormat::Png).unwrap();
        let thumb = make("image/png", big.get_ref()).unwrap();
        let decoded = image::load_from_memory(&thumb).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (256, 128));
        assert!(make("image/png", b"\x89PNG\r\n\x1a\nnot really").is_none());
        assert!(make("application/pdf", b"%PDF-1.4").is_none());
    }
}
