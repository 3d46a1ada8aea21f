//! Errors of loading a clusterset file, each naming the file and the field at fault.

use std::fmt;
use std::path::PathBuf;

/// Why a clusterset file was not accepted. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    #[error("{}: cannot read the file: {source}", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: YAML syntax error: {message}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: {} error{}:\n{}{}", file.display(), errors.len() + omitted, if errors.len() + omitted == 1 { "" } else { "s" }, FieldErrors(errors), Omitted(*omitted))]
    Invalid {
        file: PathBuf,
        errors: Vec<FieldError>,
        /// Errors found past the ones listed, only counted.
        omitted: usize,
    },
    #[error("{}: the file is {size} bytes, more than the limit of {limit}; raise --max-config-bytes if it is meant", file.display())]
    TooLarge {
        file: PathBuf,
        size: u64,
        limit: u64,
    },
}

impl LoadError {
    /// The field errors, empty for read and syntax errors.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            LoadError::Invalid { errors, .. } => errors,
            _ => &[],
        }
    }
}

/// One problem at one place in the file, e.g. `services[2].exports[0].cluster`.
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

/// Field errors as a list, one indented line each: how every validated file of the project
/// (this one, the simulator's scenarios) prints them.
pub struct FieldErrors<'a>(pub &'a [FieldError]);

/// The line after the listed errors saying how many more there were.
struct Omitted(usize);

impl fmt::Display for Omitted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => Ok(()),
            n => write!(f, "\n  ... and {n} more, not listed"),
        }
    }
}

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
