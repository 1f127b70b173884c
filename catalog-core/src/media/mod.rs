//! Uploaded images (page 22): [`render`] checks a file and makes its renditions.

pub mod render;
