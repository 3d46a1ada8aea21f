//! The standalone clusterset file: reading, validating and watching it.
//!
//! Loading goes raw -> validated: [`raw`] mirrors the YAML, [`validate`] checks it and builds the
//! [`ClusterSet`](crate::state::ClusterSet), and [`watch`] tells when the file may have changed.

mod error;
mod raw;
mod validate;
mod watch;

use std::path::Path;

use serde::de::IgnoredAny;

pub use error::{FieldError, FieldErrors, LoadError};
pub use validate::MAX_ERRORS;
pub use watch::FileWatch;

use crate::state::ClusterSet;

/// The largest clusterset file read by default: 32 MiB, about 75,000 services of five exports
/// each (a generated one of 10,000 such services is 4.2 MB). A larger file is refused before it
/// is read, since parsing holds several times its size in memory.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 32 << 20;

/// Reads and validates a clusterset file.
pub fn load(path: &Path) -> Result<ClusterSet, LoadError> {
    parse(&read(path, DEFAULT_MAX_FILE_BYTES)?, path)
}

/// Reads a clusterset file of at most `limit` bytes.
pub fn read(path: &Path, limit: u64) -> Result<String, LoadError> {
    use std::io::Read;
    let failed = |source| LoadError::Read {
        file: path.to_owned(),
        source,
    };
    let too_large = |size| LoadError::TooLarge {
        file: path.to_owned(),
        size,
        limit,
    };
    let file = std::fs::File::open(path).map_err(failed)?;
    let size = file.metadata().map_err(failed)?.len();
    if size > limit {
        return Err(too_large(size));
    }
    // The file may grow while it is read: read one byte past the limit to know.
    let mut text = String::new();
    file.take(limit + 1)
        .read_to_string(&mut text)
        .map_err(failed)?;
    if text.len() as u64 > limit {
        return Err(too_large(text.len() as u64));
    }
    Ok(text)
}

/// Validates clusterset YAML; `file` is used only to name it in errors.
pub fn parse(text: &str, file: &Path) -> Result<ClusterSet, LoadError> {
    let invalid = |errors| LoadError::Invalid {
        file: file.to_owned(),
        errors,
        omitted: 0,
    };
    // Read straight into the raw types, without a tree of the whole file (see `RawServices`).
    let deserializer = serde_yaml_ng::Deserializer::from_str(text);
    let raw: raw::RawClusterSet = match serde_path_to_error::deserialize(deserializer) {
        Ok(raw) => raw,
        // Whether it failed for its syntax or for its shape, a second reading that builds
        // nothing tells: it only runs for a file that is refused.
        Err(error) => {
            return Err(match serde_yaml_ng::from_str::<Option<IgnoredAny>>(text) {
                Err(syntax) => syntax_error(file, &syntax),
                Ok(None) => invalid(vec![empty_file()]),
                Ok(Some(_)) => {
                    let path = match error.path().to_string().as_str() {
                        "." => String::new(),
                        path => path.to_owned(),
                    };
                    // The YAML reader names the field itself (and adds the line): once is enough.
                    let message = error.into_inner().to_string();
                    let message = match message.strip_prefix(&format!("{path}: ")) {
                        Some(rest) if !path.is_empty() => rest.to_owned(),
                        _ => message,
                    };
                    invalid(vec![FieldError { path, message }])
                }
            });
        }
    };
    if raw.is_empty()
        && matches!(
            serde_yaml_ng::from_str::<Option<IgnoredAny>>(text),
            Ok(None)
        )
    {
        return Err(invalid(vec![empty_file()]));
    }
    validate::validate(raw).map_err(|(errors, omitted)| LoadError::Invalid {
        file: file.to_owned(),
        errors,
        omitted,
    })
}

fn syntax_error(file: &Path, error: &serde_yaml_ng::Error) -> LoadError {
    let location = error.location();
    LoadError::Syntax {
        file: file.to_owned(),
        line: location.as_ref().map_or(0, |l| l.line()),
        column: location.as_ref().map_or(0, |l| l.column()),
        message: error.to_string(),
    }
}

fn empty_file() -> FieldError {
    FieldError {
        path: String::new(),
        message: "the file is empty: it must declare localCluster, clusters and services"
            .to_owned(),
    }
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
