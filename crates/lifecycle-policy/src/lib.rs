//! The lifecycle policy engine: may this version be deployed, which
//! deprecated versions need a warning, which are due for retirement.
//!
//! [`LifecyclePolicy`] is pure: versions (with their published metrics),
//! configuration and `now` go in, decisions come out. It reads no store and
//! no clock and writes nothing; whoever acts on a decision (the facade, the
//! CLI) audits it and makes the change through the registry.
//!
//! If you are building an application, you probably want the `lifecycle`
//! facade, which consults this engine before every activation.

mod decision;
mod warnings;

pub use decision::{
    DeploymentContext, DeploymentDecision, JudgeVerdict, Judgement, LifecyclePolicy, TypicalRequest,
};
pub use warnings::{DeprecationWarning, EndOfLifeSource};
