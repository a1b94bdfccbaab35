//! What a command that did not succeed says, and its exit code.

use std::process::ExitCode;

use lifecycle::LifecycleError;

/// A command's failure: one line for stderr and the exit code.
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

/// An error: bad input, unknown names, illegal moves, store problems.
pub const ERROR: u8 = 1;
/// A policy rejection or a failed evaluation: what a pipeline gates on.
pub const REJECTED: u8 = 3;

impl Failure {
    /// An error (exit 1) saying `message`.
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: ERROR,
        }
    }

    /// A rejection or failed judgement (exit 3) saying `message`.
    pub fn rejected(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: REJECTED,
        }
    }

    /// Prints the message on stderr and gives the exit code.
    pub fn report(&self) -> ExitCode {
        eprintln!("lifecycle: {}", self.message);
        ExitCode::from(self.code)
    }
}

impl From<LifecycleError> for Failure {
    fn from(error: LifecycleError) -> Self {
        match error {
            LifecycleError::Rejected(_) => Self::rejected(error.to_string()),
            _ => Self::error(error.to_string()),
        }
    }
}

macro_rules! from_error {
    ($($error:ty),*) => {$(
        impl From<$error> for Failure {
            fn from(error: $error) -> Self {
                Self::error(error.to_string())
            }
        }
    )*};
}

from_error!(
    lifecycle::DomainError,
    lifecycle::EvaluatorError,
    lifecycle::StoreError,
    std::io::Error
);

/// `Result` of a command.
pub type Outcome<T = ()> = Result<T, Failure>;
