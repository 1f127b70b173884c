//! collections repository.
