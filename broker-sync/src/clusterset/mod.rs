//! The standalone clusterset file: reading, validating and watching it.
//!
//! Loading goes raw -> validated: [`raw`] mirrors the YAML, [`validate`] checks it and builds the
//! [`ClusterSet`](crate::state::ClusterSet), and [`watch`] tells when the file may have changed.

mod error;
mod raw;
mod validate;
mod watch;

use std::path::Path;

pub use error::{FieldError, FieldErrors, LoadError};
pub use watch::FileWatch;

use crate::state::ClusterSet;

/// Reads and validates a clusterset file.
pub fn load(path: &Path) -> Result<ClusterSet, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        file: path.to_owned(),
        source,
    })?;
    parse(&text, path)
}

/// Validates clusterset YAML; `file` is used only to name it in errors.
pub fn parse(text: &str, file: &Path) -> Result<ClusterSet, LoadError> {
    let invalid = |errors| LoadError::Invalid {
        file: file.to_owned(),
        errors,
    };
    let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|error| {
        let location = error.location();
        LoadError::Syntax {
            file: file.to_owned(),
            line: location.as_ref().map_or(0, |l| l.line()),
            column: location.as_ref().map_or(0, |l| l.column()),
            message: error.to_string(),
        }
    })?;
    if value.is_null() {
        return Err(invalid(vec![FieldError {
            path: String::new(),
            message: "the file is empty: it must declare localCluster, clusters and services"
                .to_owned(),
        }]));
    }
    let raw: raw::RawClusterSet = serde_path_to_error::deserialize(value).map_err(|error| {
        invalid(vec![FieldError {
            path: match error.path().to_string().as_str() {
                "." => String::new(),
                path => path.to_owned(),
            },
            message: error.into_inner().to_string(),
        }])
    })?;
    validate::validate(raw).map_err(invalid)
}

/// Validates one service policy given in the file's `policy:` shape, naming fields under
/// `path`; `clusters` are the cluster ids weights may name.
pub fn parse_policy(
    value: serde_yaml_ng::Value,
    path: &str,
    clusters: &[&str],
) -> Result<crate::state::Policy, Vec<FieldError>> {
    let known = clusters.iter().copied().collect();
    validate::validate_policy(value, path, &known)
}

#[cfg(test)]
mod tests;
