//! Errors of loading a scenario file, each naming the file and, for a bad value, the field at
//! fault, as the clusterset file's do.

use std::fmt;
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

/// One problem at one place in the file, e.g. `clusters[2].servers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

struct FieldErrors<'a>(&'a [FieldError]);

impl fmt::Display for FieldErrors<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "  - {error}")?;
        }
        Ok(())
    }
}
