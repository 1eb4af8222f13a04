//! Who may do what, where: the one place Mingma decides authorisation.
//!
//! An official holds one or more [`Grant`]s: a [`Role`] in a jurisdiction (a GB/T
//! 2260 division). [`authorize`] answers whether any grant permits an [`Action`] at a
//! place, and otherwise gives a [`Refusal`] that says precisely why: the role may
//! never do it, or the place lies outside every jurisdiction where it may.
//!
//! The policy, in one table ([`Role::permits`]):
//!
//! | role | may |
//! |---|---|
//! | health official | enter test results, case reports and closures, close-contact designations, quarantine orders and releases, risk-area declarations; retract any record; approve or reject a colleague's record; trace contacts; read a person's code provenance; list people under quarantine; witness in person a dependant's consent to a proxy (having checked their ID card); review appeals addressed to their authority (accept by retracting, or reject with a reason) |
//! | tracing team | enter and retract close-contact designations, and approve or reject a colleague's; trace contacts; read provenance |
//! | hotline operator | read provenance (with the caller's consent, which the service checks); take a caller's consent, open and follow their appeal tickets and add notes (nothing else) |
//! | auditor | read provenance, the audit views (overdue and escalated appeal tickets) and the quarantine lists |
//! | admin | manage accounts, roles and keys; register data sources; publish rule sets |
//!
//! Nobody enters a venue scan (the holder's phone does) or a border entry (customs
//! does, signed) by hand: a hand-made "inbound traveller" record is how codes were
//! turned red falsely in 2022. Approvals and rejections are [`Action::Decide`];
//! retractions are [`Action::Retract`]. Being permitted here is necessary, not
//! sufficient: the two-person rule (a second official of the owning authority) and
//! the ownership of a retracted record are checked by `mingma_core::derive`, which
//! ignores acts that do not meet them.
//!
//! [`intake::check_official_act`] applies all of this to a record an official made
//! by hand: the recorder, the authority, the legal basis, the two-person rule and the
//! owner of what is approved or retracted, each refusal saying what is wrong.
//! [`signature`] checks who vouches for a record: a data source's or an official's
//! registered key, over the record's canonical bytes. [`act`] holds the authority
//! acts (ledger leaves) that register authorities, officials, keys, grants and data
//! sources, and the [`Registry`] their replay makes; [`founding`] makes the acts
//! that register a whole directory at once (a simulated city, a test's fixtures).
//!
//! # What this crate must never do
//! Read or write anything: it is a pure function of the grants, the action and the
//! place, so the same answer is given to the console, the API and the command line.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod act;
pub mod founding;
pub mod intake;
pub mod signature;

pub use act::{Act, ActBody, ActProblem, Registry, SignedAct};
pub use founding::{derived_key, Founding, FoundingAdmin, FoundingError, Signers};
pub use signature::{sealed, sign, KeyId, KeyRing, SignatureError, Vouching};

use std::fmt;

use mingma_core::{EvidenceKind, Jurisdiction};
use serde::{Deserialize, Serialize};

/// What an official does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A health commission or CDC official at province, city or district level.
    HealthOfficial,
    /// A member of a contact-tracing team.
    TracingTeam,
    /// A 12345 hotline operator.
    HotlineOperator,
    /// An oversight body's auditor.
    Auditor,
    /// An administrator of accounts, keys, data sources and rule sets.
    Admin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 5] = [
        Role::HealthOfficial,
        Role::TracingTeam,
        Role::HotlineOperator,
        Role::Auditor,
        Role::Admin,
    ];

    /// The role's name in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::HealthOfficial => "health_official",
            Role::TracingTeam => "tracing_team",
            Role::HotlineOperator => "hotline_operator",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    /// The role's name in Chinese.
    pub fn name_zh(self) -> &'static str {
        match self {
            Role::HealthOfficial => "卫生健康工作人员",
            Role::TracingTeam => "流调人员",
            Role::HotlineOperator => "12345热线话务员",
            Role::Auditor => "审计人员",
            Role::Admin => "系统管理员",
        }
    }

    /// Parses [`Role::as_str`].
    pub fn parse(text: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| UnknownRole(text.to_owned()))
    }

    /// Whether this role may ever do `action` (anywhere in its jurisdiction).
    pub fn permits(self, action: Action) -> bool {
        use EvidenceKind as K;
        match (self, action) {
            (
                Role::HealthOfficial,
                Action::Record(
                    K::TestResult
                    | K::CaseReport
                    | K::CaseClosure
                    | K::CloseContact
                    | K::QuarantineOrder
                    | K::QuarantineRelease
                    | K::RiskArea,
                ),
            ) => true,
            (Role::HealthOfficial, Action::Retract(kind) | Action::Decide(kind)) => is_fact(kind),
            (
                Role::HealthOfficial,
                Action::Trace
                | Action::ReadProvenance
                | Action::ListQuarantine
                | Action::WitnessConsent
                | Action::ReviewAppeal,
            ) => true,
            (
                Role::TracingTeam,
                Action::Record(K::CloseContact)
                | Action::Retract(K::CloseContact)
                | Action::Decide(K::CloseContact)
                | Action::Trace
                | Action::ReadProvenance,
            ) => true,
            (Role::HotlineOperator, Action::ReadProvenance | Action::HandleCall) => true,
            (
                Role::Auditor,
                Action::ReadProvenance | Action::ReadAudit | Action::ListQuarantine,
            ) => true,
            (
                Role::Admin,
                Action::ManageAccounts | Action::RegisterSource | Action::PublishRuleSet,
            ) => true,
            _ => false,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown role {0:?} (one of health_official, tracing_team, hotline_operator, auditor, admin)"
)]
pub struct UnknownRole(pub String);

/// Whether records of `kind` state a fact (everything but the acts on other records).
fn is_fact(kind: EvidenceKind) -> bool {
    !matches!(
        kind,
        EvidenceKind::Retraction | EvidenceKind::Approval | EvidenceKind::Rejection
    )
}

/// Something an official asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "action", content = "kind")]
pub enum Action {
    /// Enter a record of this kind by hand (a proposal, where the two-person rule
    /// applies).
    Record(EvidenceKind),
    /// Retract a record of this kind.
    Retract(EvidenceKind),
    /// Approve or reject a colleague's record of this kind.
    Decide(EvidenceKind),
    /// Run a contact-tracing query for a case.
    Trace,
    /// Read a person's code provenance (the decision, its evidence and owners).
    ReadProvenance,
    /// List the people under an authority's quarantine orders.
    ListQuarantine,
    /// Confirm in person, having checked the person's ID card, that they consent
    /// to a proxy showing their code and checking in for them (an elderly parent
    /// without a phone): the community's check, at the person's street.
    WitnessConsent,
    /// Review an appeal addressed to the official's authority: see the disputed
    /// evidence and its checks, accept (by retracting the record, itself checked as
    /// any retraction) or reject with a reason, add notes.
    ReviewAppeal,
    /// Take a 12345 caller's consent (a one-time code the caller reads out), and
    /// with it look up their code provenance, open and follow their appeal tickets
    /// and add notes.
    HandleCall,
    /// Read the audit views: the ledger's findings, overdue tickets, refusals.
    ReadAudit,
    /// Create officials, grant roles, register officials' keys.
    ManageAccounts,
    /// Register a data source (a lab, customs post, case-reporting unit) and its key.
    RegisterSource,
    /// Publish a rule set.
    PublishRuleSet,
}

impl Action {
    /// Every action: each kind of evidence for the three acts on records.
    pub fn all() -> Vec<Action> {
        let mut all = Vec::new();
        for kind in EvidenceKind::ALL {
            all.extend([
                Action::Record(kind),
                Action::Retract(kind),
                Action::Decide(kind),
            ]);
        }
        all.extend([
            Action::Trace,
            Action::ReadProvenance,
            Action::ListQuarantine,
            Action::WitnessConsent,
            Action::ReviewAppeal,
            Action::HandleCall,
            Action::ReadAudit,
            Action::ManageAccounts,
            Action::RegisterSource,
            Action::PublishRuleSet,
        ]);
        all
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Record(kind) => write!(f, "record {kind:?}"),
            Action::Retract(kind) => write!(f, "retract {kind:?}"),
            Action::Decide(kind) => write!(f, "approve or reject {kind:?}"),
            Action::Trace => f.write_str("trace contacts"),
            Action::ReadProvenance => f.write_str("read code provenance"),
            Action::ListQuarantine => f.write_str("list people under quarantine"),
            Action::WitnessConsent => f.write_str("witness a dependant's consent in person"),
            Action::ReviewAppeal => f.write_str("review an appeal"),
            Action::HandleCall => f.write_str("handle a hotline caller's appeal"),
            Action::ReadAudit => f.write_str("read the audit views"),
            Action::ManageAccounts => f.write_str("manage accounts, roles and keys"),
            Action::RegisterSource => f.write_str("register a data source"),
            Action::PublishRuleSet => f.write_str("publish a rule set"),
        }
    }
}

/// A role held in a jurisdiction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Grant {
    /// The role.
    pub role: Role,
    /// Where it may be exercised: this division and everything inside it.
    pub jurisdiction: Jurisdiction,
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case", tag = "code")]
pub enum Refusal {
    /// No role the official holds may ever do this.
    #[error("not permitted: none of the official's roles ({roles}) may {action}")]
    NotPermitted {
        /// The action.
        action: Action,
        /// The roles held, comma-separated (`none` if none).
        roles: String,
    },
    /// A role that may do it is held, but not for this place.
    #[error(
        "outside jurisdiction: {action} at {place} ({place_name}) needs a grant covering it; \
         the official's grants for it cover {covered}"
    )]
    OutsideJurisdiction {
        /// The action.
        action: Action,
        /// Where it was to happen.
        place: Jurisdiction,
        /// The place's full name.
        place_name: String,
        /// The jurisdictions of the grants whose role permits the action.
        covered: String,
    },
}

impl Refusal {
    /// A stable code for API errors.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NotPermitted { .. } => "not_permitted",
            Refusal::OutsideJurisdiction { .. } => "outside_jurisdiction",
        }
    }
}

/// Whether an official holding `grants` may do `action` at `place` (the division
/// of the person, venue, area or source concerned). Returns the grant that permits
/// it: the narrowest, so the record of the act names the most specific authority.
pub fn authorize(grants: &[Grant], action: Action, place: Jurisdiction) -> Result<Grant, Refusal> {
    let able: Vec<&Grant> = grants.iter().filter(|g| g.role.permits(action)).collect();
    if able.is_empty() {
        let mut roles: Vec<&str> = grants.iter().map(|g| g.role.as_str()).collect();
        roles.sort_unstable();
        roles.dedup();
        return Err(Refusal::NotPermitted {
            action,
            roles: if roles.is_empty() {
                "none".to_owned()
            } else {
                roles.join(", ")
            },
        });
    }
    able.iter()
        .filter(|g| g.jurisdiction.contains(place))
        .max_by_key(|g| g.jurisdiction.level())
        .map(|g| **g)
        .ok_or_else(|| Refusal::OutsideJurisdiction {
            action,
            place,
            place_name: place.full_name(),
            covered: able
                .iter()
                .map(|g| format!("{} ({})", g.jurisdiction, g.jurisdiction.full_name()))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use EvidenceKind as K;

    fn at(code: &str) -> Jurisdiction {
        Jurisdiction::parse(code).expect("a real division")
    }

    /// The policy written out as data, independently of [`Role::permits`]: the test
    /// fails if either changes without the other.
    fn expected(role: Role, action: Action) -> bool {
        let facts = [
            K::TestResult,
            K::CaseReport,
            K::CaseClosure,
            K::CloseContact,
            K::BorderEntry,
            K::QuarantineOrder,
            K::QuarantineRelease,
            K::RiskArea,
            K::VenueScan,
        ];
        let allowed: Vec<Action> = match role {
            Role::HealthOfficial => [
                K::TestResult,
                K::CaseReport,
                K::CaseClosure,
                K::CloseContact,
                K::QuarantineOrder,
                K::QuarantineRelease,
                K::RiskArea,
            ]
            .into_iter()
            .map(Action::Record)
            .chain(facts.into_iter().map(Action::Retract))
            .chain(facts.into_iter().map(Action::Decide))
            .chain([
                Action::Trace,
                Action::ReadProvenance,
                Action::ListQuarantine,
                Action::WitnessConsent,
                Action::ReviewAppeal,
            ])
            .collect(),
            Role::TracingTeam => vec![
                Action::Record(K::CloseContact),
                Action::Retract(K::CloseContact),
                Action::Decide(K::CloseContact),
                Action::Trace,
                Action::ReadProvenance,
            ],
            Role::HotlineOperator => vec![Action::ReadProvenance, Action::HandleCall],
            Role::Auditor => vec![
                Action::ReadProvenance,
                Action::ReadAudit,
                Action::ListQuarantine,
            ],
            Role::Admin => vec![
                Action::ManageAccounts,
                Action::RegisterSource,
                Action::PublishRuleSet,
            ],
        };
        allowed.contains(&action)
    }

    #[test]
    fn every_role_action_and_place_is_decided_as_the_policy_says() {
        // A city official (郑州市) and a province official (河南省); places inside the
        // city (a district and a street of it), in another city of the province
        // (洛阳市), and in another province (湖北省武汉市).
        let zhengzhou = at("4101");
        let henan = at("41");
        let inside = [at("4101"), at("410105"), at("410105001")];
        let other_city = [at("4103"), at("410302")];
        let other_province = [at("4201"), at("420102")];
        let mut checked = 0;
        for role in Role::ALL {
            for action in Action::all() {
                let permitted = expected(role, action);
                for (home, covers) in [
                    (zhengzhou, vec![&inside[..]]),
                    (henan, vec![&inside[..], &other_city[..]]),
                ] {
                    let grant = Grant {
                        role,
                        jurisdiction: home,
                    };
                    for place in inside.iter().chain(&other_city).chain(&other_province) {
                        let within = covers.iter().any(|c| c.contains(place));
                        let answer = authorize(&[grant], action, *place);
                        match (permitted, within) {
                            (true, true) => {
                                assert_eq!(answer, Ok(grant), "{role} {action} {place}")
                            }
                            (true, false) => assert!(
                                matches!(answer, Err(Refusal::OutsideJurisdiction { .. })),
                                "{role} at {home}: {action} at {place}: {answer:?}"
                            ),
                            (false, _) => assert!(
                                matches!(answer, Err(Refusal::NotPermitted { .. })),
                                "{role}: {action} at {place}: {answer:?}"
                            ),
                        }
                        checked += 1;
                    }
                }
            }
        }
        // 5 roles × 46 actions × 2 homes × 7 places.
        assert_eq!(checked, 5 * 46 * 2 * 7);
    }

    #[test]
    fn nobody_records_a_venue_scan_or_a_border_entry_by_hand() {
        for role in Role::ALL {
            assert!(!role.permits(Action::Record(K::VenueScan)), "{role}");
            assert!(!role.permits(Action::Record(K::BorderEntry)), "{role}");
            // Acts on records are not records entered by hand.
            for kind in [K::Approval, K::Rejection, K::Retraction] {
                assert!(!role.permits(Action::Record(kind)), "{role} {kind:?}");
            }
        }
    }

    #[test]
    fn only_health_officials_witness_a_dependants_consent() {
        // The community's in-person check is a health official's, at the
        // dependant's street: a street of the official's city, not another city's.
        let grant = |role| Grant {
            role,
            jurisdiction: at("4101"),
        };
        let street = at("410105001");
        assert_eq!(
            authorize(
                &[grant(Role::HealthOfficial)],
                Action::WitnessConsent,
                street
            ),
            Ok(grant(Role::HealthOfficial))
        );
        let outside = authorize(
            &[grant(Role::HealthOfficial)],
            Action::WitnessConsent,
            at("410302001"),
        );
        assert_eq!(outside.map_err(|r| r.code()), Err("outside_jurisdiction"));
        for role in [
            Role::TracingTeam,
            Role::HotlineOperator,
            Role::Auditor,
            Role::Admin,
        ] {
            let refused = authorize(&[grant(role)], Action::WitnessConsent, street);
            assert_eq!(
                refused.map_err(|r| r.code()),
                Err("not_permitted"),
                "{role}"
            );
        }
    }

    #[test]
    fn hotline_operators_and_auditors_never_write() {
        for role in [Role::HotlineOperator, Role::Auditor] {
            for action in Action::all() {
                if matches!(
                    action,
                    Action::Record(_) | Action::Retract(_) | Action::Decide(_)
                ) {
                    assert!(!role.permits(action), "{role} {action}");
                }
            }
        }
    }

    #[test]
    fn the_narrowest_permitting_grant_is_named_and_refusals_say_why() {
        let grants = [
            Grant {
                role: Role::HealthOfficial,
                jurisdiction: at("41"),
            },
            Grant {
                role: Role::HealthOfficial,
                jurisdiction: at("4101"),
            },
            Grant {
                role: Role::HotlineOperator,
                jurisdiction: at("4101"),
            },
        ];
        let granted = authorize(&grants, Action::Record(K::RiskArea), at("410105"));
        assert_eq!(granted.map(|g| g.jurisdiction), Ok(at("4101")));
        let granted = authorize(&grants, Action::Record(K::RiskArea), at("4103"));
        assert_eq!(granted.map(|g| g.jurisdiction), Ok(at("41")));

        let outside =
            authorize(&grants, Action::Trace, at("4201")).expect_err("Hubei is outside Henan");
        assert_eq!(outside.code(), "outside_jurisdiction");
        let text = outside.to_string();
        assert!(text.contains("4201") && text.contains("湖北省"), "{text}");
        assert!(text.contains("41 (河南省)"), "{text}");

        let never =
            authorize(&grants, Action::PublishRuleSet, at("4101")).expect_err("no admin role");
        assert_eq!(never.code(), "not_permitted");
        assert_eq!(
            never.to_string(),
            "not permitted: none of the official's roles (health_official, hotline_operator) may publish a rule set"
        );
        let none = authorize(&[], Action::ReadProvenance, at("4101")).expect_err("no grants");
        assert!(none.to_string().contains("(none)"), "{none}");
    }

    #[test]
    fn roles_parse_from_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        let unknown = Role::parse("superuser").expect_err("not a role");
        assert!(unknown.to_string().contains("superuser"));
    }
}
