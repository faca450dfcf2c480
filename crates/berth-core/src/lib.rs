//! Domain types, input validation and the JSON shapes of the Berth API.
//!
//! This crate does no I/O: the server, the store and the CLI all depend on it, so
//! the rules for names and the wire format live in exactly one place.

pub mod access;
pub mod api;
pub mod api_access;
pub mod attach;
pub mod buildpack;
pub mod health;
pub mod names;
pub mod procfile;
pub mod size;

pub use names::{validate_app_name, validate_config_key, validate_email, validate_process_type, ValidationError};
pub use procfile::{parse_procfile, ProcessTypes};
