//! Lifecycle states of a model version and the one table of moves between them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::AllowedTargets;
use crate::DomainError;

/// Where a model version stands in its lifecycle.
///
/// Versions move only along [`ModelStatus::can_transition_to`]'s table;
/// `Retired` is final.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub enum ModelStatus {
    /// Registered, serving no traffic.
    #[default]
    Inactive,
    /// Deployed for testing, serving no production traffic.
    Testing,
    /// Serving a share of a model's traffic beside the active version.
    Canary,
    /// Serving the model's traffic. At most one per model.
    Active,
    /// Still usable, being phased out until its end of life.
    Deprecated,
    /// Gone for good. Final.
    Retired,
}

impl ModelStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [ModelStatus; 6] = [
        Self::Inactive,
        Self::Testing,
        Self::Canary,
        Self::Active,
        Self::Deprecated,
        Self::Retired,
    ];

    /// The transition table: whether a version in `self` may move to `to`.
    ///
    /// | from \ to  | inactive | testing | canary | active | deprecated | retired |
    /// |------------|----------|---------|--------|--------|------------|---------|
    /// | inactive   |          | yes     | yes    | yes    |            | yes     |
    /// | testing    | yes      |         | yes    | yes    |            | yes     |
    /// | canary     | yes      | yes     |        | yes    |            |         |
    /// | active     | yes      |         |        |        | yes        |         |
    /// | deprecated |          |         |        | yes    |            | yes     |
    /// | retired    |          |         |        |        |            |         |
    ///
    /// Staying in the same status is not a transition. An active version is
    /// deprecated before it can be retired, so that users get their grace
    /// period; a canary is aborted (to testing or inactive) or promoted; a
    /// deprecated version can become active again only by rollback.
    pub fn can_transition_to(self, to: ModelStatus) -> bool {
        use ModelStatus::*;
        matches!(
            (self, to),
            (Inactive, Testing | Canary | Active | Retired)
                | (Testing, Inactive | Canary | Active | Retired)
                | (Canary, Inactive | Testing | Active)
                | (Active, Inactive | Deprecated)
                | (Deprecated, Active | Retired)
        )
    }

    /// The statuses a version in `self` may move to.
    pub fn allowed_targets(self) -> Vec<ModelStatus> {
        Self::ALL
            .into_iter()
            .filter(|&to| self.can_transition_to(to))
            .collect()
    }

    /// Checks a move against the table.
    pub fn check_transition(self, to: ModelStatus) -> Result<(), DomainError> {
        if self.can_transition_to(to) {
            Ok(())
        } else {
            Err(DomainError::IllegalTransition {
                from: self,
                to,
                allowed: AllowedTargets(self.allowed_targets()),
            })
        }
    }

    /// The status's name as written in JSON and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inactive => "inactive",
            Self::Testing => "testing",
            Self::Canary => "canary",
            Self::Active => "active",
            Self::Deprecated => "deprecated",
            Self::Retired => "retired",
        }
    }
}

impl fmt::Display for ModelStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ModelStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| {
            DomainError::field(
                "status",
                format!(
                    "{s:?} is not a status; use one of inactive, testing, canary, active, deprecated, retired"
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ModelStatus::*;

    /// Every cell of the table, written out independently of the `matches!`.
    const ALLOWED: [(ModelStatus, ModelStatus); 15] = [
        (Inactive, Testing),
        (Inactive, Canary),
        (Inactive, Active),
        (Inactive, Retired),
        (Testing, Inactive),
        (Testing, Canary),
        (Testing, Active),
        (Testing, Retired),
        (Canary, Inactive),
        (Canary, Testing),
        (Canary, Active),
        (Active, Inactive),
        (Active, Deprecated),
        (Deprecated, Active),
        (Deprecated, Retired),
    ];

    fn expected(from: ModelStatus, to: ModelStatus) -> bool {
        ALLOWED.contains(&(from, to))
    }

    #[test]
    fn every_cell_of_the_transition_table() {
        for from in ModelStatus::ALL {
            for to in ModelStatus::ALL {
                assert_eq!(
                    from.can_transition_to(to),
                    expected(from, to),
                    "{from} -> {to}"
                );
                assert_eq!(from.check_transition(to).is_ok(), expected(from, to));
            }
        }
    }

    #[test]
    fn retired_is_final_and_no_status_moves_to_itself() {
        assert!(Retired.allowed_targets().is_empty());
        for s in ModelStatus::ALL {
            assert!(!s.can_transition_to(s), "{s}");
        }
    }

    #[test]
    fn illegal_transition_names_both_ends_and_the_allowed_ones() {
        let err = Active.check_transition(Retired).unwrap_err();
        assert_eq!(
            err.to_string(),
            "illegal transition from active to retired; from active a version may go to: inactive, deprecated"
        );
        let err = Retired.check_transition(Active).unwrap_err();
        assert!(
            err.to_string().ends_with("nothing (retired is final)"),
            "{err}"
        );
    }

    #[test]
    fn statuses_parse_and_serialize_by_name() {
        for s in ModelStatus::ALL {
            assert_eq!(s.as_str().parse::<ModelStatus>().unwrap(), s);
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert!("live".parse::<ModelStatus>().is_err());
    }
}
