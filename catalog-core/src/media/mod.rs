//! Uploaded images (page 22): [`render`] checks a file and makes its renditions, [`store`]
//! keeps their files, [`upload`] takes one from file to row, [`deletions`] removes the files
//! no row references.

pub mod deletions;
pub mod render;
pub mod store;
pub mod upload;

pub use store::MediaStore;
pub use upload::{UploadOwner, Uploads};
