//! products repository.
