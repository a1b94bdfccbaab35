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
/// A usage error: a flag or argument missing or malformed (as clap's own).
pub const USAGE: u8 = 2;
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

    /// A usage error (exit 2) saying `message`.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: USAGE,
        }
    }

    /// A rejection or failed judgement (exit 3) saying `message`.
    pub fn rejected(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: REJECTED,
        }
    }

    /// A rejection (exit 3) whose reason the command's output already gave:
    /// nothing more is said.
    pub fn rejected_quietly() -> Self {
        Self::rejected(String::new())
    }

    /// Prints the message (if any) on stderr and gives the exit code.
    pub fn report(&self) -> ExitCode {
        if !self.message.is_empty() {
            eprintln!("lifecycle: {}", self.message);
        }
        ExitCode::from(self.code)
    }
}

/// Exit status of a process stopped by SIGPIPE: a reader that went away
/// (`| head`) ends the output quietly, as other tools do.
pub const CLOSED_PIPE: u8 = 141;

impl From<LifecycleError> for Failure {
    fn from(error: LifecycleError) -> Self {
        if is_closed_pipe(&error) {
            return Self {
                message: String::new(),
                code: CLOSED_PIPE,
            };
        }
        match error.class() {
            lifecycle::ErrorClass::Rejected => Self::rejected(error.to_string()),
            _ => Self::error(error.to_string()),
        }
    }
}

/// Whether `error` comes from writing to a pipe whose reader is gone
/// (a full disk and every other write error are still errors).
fn is_closed_pipe(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        {
            return true;
        }
        cause = e.source();
    }
    false
}

/// An I/O error in words for a person, with what to do where there is something.
pub fn io_reason(error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::StorageFull => {
            "the disk is full (no space left on device); free space and run the command again"
                .to_string()
        }
        ErrorKind::PermissionDenied => format!("{error}; check the file's permissions"),
        ErrorKind::BrokenPipe => "the output was closed before everything was written".to_string(),
        _ => error.to_string(),
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            return Self {
                message: String::new(),
                code: CLOSED_PIPE,
            };
        }
        Self::error(io_reason(&error))
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
    lifecycle::StoreError
);

/// `Result` of a command.
pub type Outcome<T = ()> = Result<T, Failure>;
