//! Errors of loading a scenario file, each naming the file and, for a bad value, the field at
//! fault, as the clusterset file's do.

use std::path::PathBuf;

/// Why a scenario file was not accepted. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScenarioError {
    /// The reason is in the message, not a source, so that a chain printed whole does not
    /// repeat it.
    #[error("{}: cannot read the file: {error}", file.display())]
    Read {
        file: PathBuf,
        error: std::io::Error,
    },
    #[error("{}:{line}:{column}: YAML syntax error: {message}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: {} error{}:\n{}", file.display(), errors.len(), if errors.len() == 1 { "" } else { "s" }, FieldErrors(errors))]
    Invalid {
        file: PathBuf,
        errors: Vec<FieldError>,
    },
}

impl ScenarioError {
    /// The field errors, empty for read and syntax errors.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            ScenarioError::Invalid { errors, .. } => errors,
            _ => &[],
        }
    }
}

/// One problem at one place in the file, e.g. `clusters[2].servers`: the clusterset file's own
/// type, so both files report errors alike.
pub use aviator_broker::clusterset::{FieldError, FieldErrors};
