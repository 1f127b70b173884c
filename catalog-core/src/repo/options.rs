//! options repository.
