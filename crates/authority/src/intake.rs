//! The checks an official's act passes before it is recorded.
//!
//! [`check_official_act`] takes a record an official made by hand (a fact, a
//! retraction, an approval or a rejection), the official's grants and the directory,
//! and either names the grant that permits it or refuses with a [`ActRefusal`] that
//! says exactly what is wrong. It is what the console, the API and `mingma import`
//! ask before a manual record is appended; `mingma_core::derive` enforces the
//! two-person rule again when deriving (so a record that bypassed intake still
//! changes no code), but only intake can tell the official *why*.

use mingma_core::{
    AuthorityId, Directory, Evidence, EvidenceBody, EvidenceKind, Jurisdiction, OfficialId,
    Recorder, RiskAreaScope,
};

use crate::{authorize, Action, Grant, Refusal};

/// Why an official's act is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActRefusal {
    /// The record does not say this official made it.
    #[error("record {record}: recorded by {recorded_by}, not by official {official}")]
    NotTheRecorder {
        /// The record.
        record: String,
        /// Who it says recorded it.
        recorded_by: String,
        /// Who is acting.
        official: OfficialId,
    },
    /// The official is not in the directory.
    #[error("official {0} is not registered")]
    UnknownOfficial(OfficialId),
    /// The record names no authority, or one the official does not act for.
    #[error(
        "record {record}: made for authority {claimed}, but official {official} acts for {actual}"
    )]
    NotTheirAuthority {
        /// The record.
        record: String,
        /// The authority the record names (`none` if none).
        claimed: String,
        /// Who is acting.
        official: OfficialId,
        /// The authority they act for.
        actual: AuthorityId,
    },
    /// An authority or venue the record names is not in the directory.
    #[error("record {record}: {what} is not registered")]
    Unknown {
        /// The record.
        record: String,
        /// What is missing.
        what: String,
    },
    /// A record of this kind must state its legal basis.
    #[error("record {record}: a {kind:?} must state its legal basis")]
    NoLegalBasis {
        /// The record.
        record: String,
        /// Its kind.
        kind: EvidenceKind,
    },
    /// An approval, rejection or retraction names a record that is not given.
    #[error("record {record}: its target {target} was not found")]
    NoTarget {
        /// The act.
        record: String,
        /// The target named.
        target: String,
    },
    /// An approval or rejection of a record that needs none.
    #[error("record {record}: {target} needs no approval")]
    NothingToDecide {
        /// The act.
        record: String,
        /// The target.
        target: String,
    },
    /// One official cannot approve or reject their own record.
    #[error("record {record}: official {official} cannot approve or reject their own record {target}; a second official of {authority} must")]
    OwnRecord {
        /// The act.
        record: String,
        /// The target.
        target: String,
        /// Who tried.
        official: OfficialId,
        /// The authority whose second official is needed.
        authority: String,
    },
    /// Only the authority owning a record approves, rejects or retracts it.
    #[error(
        "record {record}: {target} belongs to {owner}; an official of {acting} cannot {act} it"
    )]
    NotTheOwner {
        /// The act.
        record: String,
        /// The target.
        target: String,
        /// Its owning authority (`none` if none).
        owner: String,
        /// The authority acting.
        acting: AuthorityId,
        /// "approve or reject" or "retract".
        act: &'static str,
    },
    /// Not permitted to this official, or not here.
    #[error("record {record}: {refusal}")]
    Authorisation {
        /// The record.
        record: String,
        /// Why.
        refusal: Refusal,
    },
}

/// Checks an act `record` that `official`, holding `grants`, made by hand. `target`
/// is the record an approval, rejection or retraction acts on (ignored otherwise).
/// Returns the narrowest grant that permits it.
pub fn check_official_act(
    official: &OfficialId,
    grants: &[Grant],
    record: &Evidence,
    target: Option<&Evidence>,
    directory: &Directory,
) -> Result<Grant, ActRefusal> {
    let name = || record.id.to_string();
    if record.recorded_by != Recorder::Official(official.clone()) {
        return Err(ActRefusal::NotTheRecorder {
            record: name(),
            recorded_by: record.recorded_by.to_string(),
            official: official.clone(),
        });
    }
    let acting = &directory
        .officials
        .get(official)
        .ok_or_else(|| ActRefusal::UnknownOfficial(official.clone()))?
        .authority;
    if record.authority.as_ref() != Some(acting) {
        return Err(ActRefusal::NotTheirAuthority {
            record: name(),
            claimed: record
                .authority
                .as_ref()
                .map_or("none".to_owned(), ToString::to_string),
            official: official.clone(),
            actual: acting.clone(),
        });
    }
    let kind = record.kind();
    if kind.needs_legal_basis() && record.legal_basis.as_deref().is_none_or(str::is_empty) {
        return Err(ActRefusal::NoLegalBasis {
            record: name(),
            kind,
        });
    }
    let target_of = |id: &mingma_core::RecordId| {
        target
            .filter(|t| &t.id == id)
            .ok_or_else(|| ActRefusal::NoTarget {
                record: name(),
                target: id.to_string(),
            })
    };
    let owned_by_acting = |target: &Evidence, act: &'static str| {
        if target.authority.as_ref() == Some(acting) {
            Ok(())
        } else {
            Err(ActRefusal::NotTheOwner {
                record: name(),
                target: target.id.to_string(),
                owner: target
                    .authority
                    .as_ref()
                    .map_or("none".to_owned(), ToString::to_string),
                acting: acting.clone(),
                act,
            })
        }
    };
    let (action, about) = match &record.body {
        EvidenceBody::Approval { target: id } | EvidenceBody::Rejection { target: id, .. } => {
            let target = target_of(id)?;
            // Whether a retraction needs approval depends on what it retracts, which
            // is not given here: deciding one that needs none is harmless.
            if target.kind() != EvidenceKind::Retraction && !target.needs_approval(None) {
                return Err(ActRefusal::NothingToDecide {
                    record: name(),
                    target: id.to_string(),
                });
            }
            if target.recorded_by == record.recorded_by {
                return Err(ActRefusal::OwnRecord {
                    record: name(),
                    target: id.to_string(),
                    official: official.clone(),
                    authority: acting.to_string(),
                });
            }
            owned_by_acting(target, "approve or reject")?;
            (Action::Decide(target.kind()), target)
        }
        EvidenceBody::Retraction { target: id, .. } => {
            let target = target_of(id)?;
            owned_by_acting(target, "retract")?;
            (Action::Retract(target.kind()), target)
        }
        _ => (Action::Record(kind), record),
    };
    let mut granted = None;
    for place in places_of(about, directory).map_err(|what| ActRefusal::Unknown {
        record: name(),
        what,
    })? {
        let grant =
            authorize(grants, action, place).map_err(|refusal| ActRefusal::Authorisation {
                record: name(),
                refusal,
            })?;
        granted = Some(grant);
    }
    granted.ok_or_else(|| ActRefusal::Unknown {
        record: name(),
        what: "the place it concerns".to_owned(),
    })
}

/// Where a record acts: the divisions or venues' streets of a risk area, otherwise
/// the jurisdiction of the authority that owns it.
fn places_of(record: &Evidence, directory: &Directory) -> Result<Vec<Jurisdiction>, String> {
    match &record.body {
        EvidenceBody::RiskArea {
            area: RiskAreaScope::Divisions(divisions),
            ..
        } => Ok(divisions.clone()),
        EvidenceBody::RiskArea {
            area: RiskAreaScope::Venues(venues),
            ..
        } => venues
            .iter()
            .map(|v| {
                directory
                    .venues
                    .get(v)
                    .map(|v| v.street)
                    .ok_or_else(|| format!("venue {v}"))
            })
            .collect(),
        _ => {
            let authority = record
                .authority
                .as_ref()
                .ok_or_else(|| "an owning authority".to_owned())?;
            directory
                .authorities
                .get(authority)
                .map(|a| vec![a.jurisdiction])
                .ok_or_else(|| format!("authority {authority}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Role;
    use mingma_core::{
        Authority, Official, QuarantineSetting, RecordId, RiskLevel, Timestamp, Venue, VenueId,
        VenueKind,
    };

    fn t(text: &str) -> Timestamp {
        Timestamp::parse(text).expect("a time")
    }
    fn at(code: &str) -> Jurisdiction {
        Jurisdiction::parse(code).expect("a division")
    }
    fn official(id: &str) -> OfficialId {
        OfficialId::parse(id).expect("an id")
    }
    fn authority(id: &str) -> AuthorityId {
        AuthorityId::parse(id).expect("an id")
    }

    /// Zhengzhou's health commission (李, 赵), Luoyang's (钱), Henan's (孙).
    fn directory() -> Directory {
        let mut d = Directory::default();
        for (id, code) in [("hc-4101", "4101"), ("hc-4103", "4103"), ("hc-41", "41")] {
            d.authorities.insert(
                authority(id),
                Authority {
                    id: authority(id),
                    name: id.into(),
                    name_en: None,
                    jurisdiction: at(code),
                    contact: None,
                },
            );
        }
        for (id, a) in [
            ("li", "hc-4101"),
            ("zhao", "hc-4101"),
            ("qian", "hc-4103"),
            ("sun", "hc-41"),
        ] {
            d.officials.insert(
                official(id),
                Official {
                    id: official(id),
                    authority: authority(a),
                },
            );
        }
        d.venues.insert(
            VenueId::parse("v-luoyang").expect("id"),
            Venue {
                id: VenueId::parse("v-luoyang").expect("id"),
                name: "洛阳站".into(),
                street: at("410302001"),
                kind: VenueKind::TransportHub,
            },
        );
        d
    }

    fn grants(role: Role, code: &str) -> Vec<Grant> {
        vec![Grant {
            role,
            jurisdiction: at(code),
        }]
    }

    fn record(id: &str, by: &str, authority_id: &str, body: EvidenceBody) -> Evidence {
        Evidence {
            seal: None,
            id: RecordId::parse(id).expect("id"),
            subject: None,
            recorded_by: Recorder::Official(official(by)),
            authority: Some(authority(authority_id)),
            legal_basis: Some("《传染病防治法》第四十二条".into()),
            effective_at: t("2022-06-10T00:00:00+08:00"),
            recorded_at: t("2022-06-10T09:00:00+08:00"),
            body,
        }
    }

    fn area(code: &str) -> EvidenceBody {
        EvidenceBody::RiskArea {
            level: RiskLevel::High,
            area: RiskAreaScope::Divisions(vec![at(code)]),
            from: t("2022-06-10T00:00:00+08:00"),
            until: t("2022-06-13T00:00:00+08:00"),
        }
    }

    fn approval(id: &str, by: &str, authority_id: &str, target: &str) -> Evidence {
        let mut r = record(
            id,
            by,
            authority_id,
            EvidenceBody::Approval {
                target: RecordId::parse(target).expect("id"),
            },
        );
        r.legal_basis = None;
        r
    }

    #[test]
    fn a_declaration_inside_the_city_is_proposed_and_approved_by_a_second_official() {
        let d = directory();
        let health = grants(Role::HealthOfficial, "4101");
        let proposal = record("ra-1", "li", "hc-4101", area("410105"));
        assert_eq!(
            check_official_act(&official("li"), &health, &proposal, None, &d),
            Ok(health[0])
        );
        let approve = approval("ra-1.ok", "zhao", "hc-4101", "ra-1");
        assert_eq!(
            check_official_act(&official("zhao"), &health, &approve, Some(&proposal), &d),
            Ok(health[0])
        );
    }

    #[test]
    fn self_approval_is_refused_and_says_who_must_approve() {
        let d = directory();
        let health = grants(Role::HealthOfficial, "4101");
        let proposal = record("ra-1", "li", "hc-4101", area("410105"));
        let own = approval("ra-1.ok", "li", "hc-4101", "ra-1");
        let refused = check_official_act(&official("li"), &health, &own, Some(&proposal), &d)
            .expect_err("own record");
        assert_eq!(
            refused.to_string(),
            "record ra-1.ok: official li cannot approve or reject their own record ra-1; a second official of hc-4101 must"
        );
    }

    #[test]
    fn an_official_outside_the_jurisdiction_is_refused() {
        let d = directory();
        // Luoyang's official declaring a district of Zhengzhou.
        let proposal = record("ra-2", "qian", "hc-4103", area("410105"));
        let refused = check_official_act(
            &official("qian"),
            &grants(Role::HealthOfficial, "4103"),
            &proposal,
            None,
            &d,
        )
        .expect_err("outside Luoyang");
        assert!(
            matches!(
                &refused,
                ActRefusal::Authorisation {
                    refusal: Refusal::OutsideJurisdiction { .. },
                    ..
                }
            ),
            "{refused}"
        );
        assert!(refused.to_string().contains("410105"), "{refused}");
        // A venue list reaching into Luoyang, by Zhengzhou's official.
        let venues = record(
            "ra-3",
            "li",
            "hc-4101",
            EvidenceBody::RiskArea {
                level: RiskLevel::Medium,
                area: RiskAreaScope::Venues(vec![VenueId::parse("v-luoyang").expect("id")]),
                from: t("2022-06-10T00:00:00+08:00"),
                until: t("2022-06-13T00:00:00+08:00"),
            },
        );
        assert!(check_official_act(
            &official("li"),
            &grants(Role::HealthOfficial, "4101"),
            &venues,
            None,
            &d
        )
        .is_err());
        // The province's official covers both cities.
        let province = record("ra-4", "sun", "hc-41", area("410302"));
        assert!(check_official_act(
            &official("sun"),
            &grants(Role::HealthOfficial, "41"),
            &province,
            None,
            &d
        )
        .is_ok());
    }

    #[test]
    fn other_refusals_name_what_is_wrong() {
        let d = directory();
        let health = grants(Role::HealthOfficial, "4101");
        let mut bare = record("ra-5", "li", "hc-4101", area("410105"));
        bare.legal_basis = None;
        assert_eq!(
            check_official_act(&official("li"), &health, &bare, None, &d)
                .expect_err("no legal basis")
                .to_string(),
            "record ra-5: a RiskArea must state its legal basis"
        );
        // Acting for another authority.
        let foreign = record("ra-6", "li", "hc-4103", area("410302"));
        assert!(matches!(
            check_official_act(&official("li"), &health, &foreign, None, &d),
            Err(ActRefusal::NotTheirAuthority { .. })
        ));
        // A record made in someone else's name.
        let forged = record("ra-7", "zhao", "hc-4101", area("410105"));
        assert!(matches!(
            check_official_act(&official("li"), &health, &forged, None, &d),
            Err(ActRefusal::NotTheRecorder { .. })
        ));
        // A hotline operator writes nothing.
        let hotline = grants(Role::HotlineOperator, "4101");
        let proposal = record("ra-8", "li", "hc-4101", area("410105"));
        assert!(matches!(
            check_official_act(&official("li"), &hotline, &proposal, None, &d),
            Err(ActRefusal::Authorisation {
                refusal: Refusal::NotPermitted { .. },
                ..
            })
        ));
        // Approving what is not given, or what needs no approval.
        let approve = approval("x.ok", "zhao", "hc-4101", "x");
        assert!(matches!(
            check_official_act(&official("zhao"), &health, &approve, None, &d),
            Err(ActRefusal::NoTarget { .. })
        ));
        // Another authority's official cannot approve Zhengzhou's proposal.
        let mut province_grant = grants(Role::HealthOfficial, "41");
        province_grant.extend(grants(Role::HealthOfficial, "4101"));
        let theirs = approval("ra-8.ok", "sun", "hc-41", "ra-8");
        assert!(matches!(
            check_official_act(
                &official("sun"),
                &province_grant,
                &theirs,
                Some(&proposal),
                &d
            ),
            Err(ActRefusal::NotTheOwner { .. })
        ));
    }

    #[test]
    fn a_quarantine_order_is_placed_at_its_authority() {
        let d = directory();
        let order = record(
            "qo-1",
            "li",
            "hc-4101",
            EvidenceBody::QuarantineOrder {
                setting: QuarantineSetting::Home,
                ground: RecordId::parse("cc-1").expect("id"),
                facility: None,
                planned_end: t("2022-06-17T00:00:00+08:00"),
            },
        );
        let tracing = grants(Role::TracingTeam, "4101");
        // A tracing team member designates contacts but does not order quarantine.
        assert!(matches!(
            check_official_act(&official("li"), &tracing, &order, None, &d),
            Err(ActRefusal::Authorisation {
                refusal: Refusal::NotPermitted { .. },
                ..
            })
        ));
        assert!(check_official_act(
            &official("li"),
            &grants(Role::HealthOfficial, "4101"),
            &order,
            None,
            &d
        )
        .is_ok());
    }
}
