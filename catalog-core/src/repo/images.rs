//! images repository.
