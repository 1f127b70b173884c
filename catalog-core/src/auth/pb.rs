//! Code generated from `proto/auth.proto` (the Auth Service's contract, owned by the Auth team).

#![allow(clippy::all, clippy::pedantic, missing_docs)]

tonic::include_proto!("auth");
