//! tags repository.
