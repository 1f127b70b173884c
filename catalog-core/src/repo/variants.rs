//! variants repository.
